/**
 * The only shape in which a service principal leaves the domain (API responses, logs): no secret
 * reference, no token cache, nothing from which a credential or token could be recovered.
 */
import type { Cloud, ServicePrincipalAuditEntry, ServicePrincipalRecord } from '../records';
import { credentialWarning } from './credential-expiry';

export interface PublicCredential {
  kind: 'clientSecret' | 'certificate' | 'federated';
  expiresAt?: string;
  thumbprintSha256?: string;
  managedIdentityClientId?: string;
}

export interface PublicServicePrincipal {
  servicePrincipalName: string;
  tenantId: string;
  tenantName?: string;
  clientId: string;
  cloud: Cloud;
  authorityUrl: string;
  graphApiEndpoint: string;
  scopes: string;
  enabled: boolean;
  company?: string;
  description?: string;
  credential: PublicCredential;
  /** True when an (encrypted) token cache is stored; the cache itself is never exposed. */
  hasTokenCache: boolean;
  lastTokenRefresh?: string;
  tokenExpiresAt?: string;
  lastValidatedAt?: string;
  validationError?: { code: string; message: string; at: string };
  credentialWarning?: string;
  audit: ServicePrincipalAuditEntry[];
  createdBy?: string;
  createdAt: string;
  updatedAt: string;
  etag?: string;
}

/** Strips everything secret. With `now`, the credential warning is computed afresh instead of read. */
export function toPublicServicePrincipal(record: ServicePrincipalRecord, now?: Date): PublicServicePrincipal {
  const c = record.credential;
  const credential: PublicCredential =
    c.kind === 'federated'
      ? { kind: c.kind, ...(c.managedIdentityClientId ? { managedIdentityClientId: c.managedIdentityClientId } : {}) }
      : {
          kind: c.kind,
          ...(c.expiresAt ? { expiresAt: c.expiresAt } : {}),
          ...(c.kind === 'certificate' ? { thumbprintSha256: c.thumbprintSha256 } : {}),
        };
  const warning = now ? credentialWarning(c, now) : record.credentialWarning;
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    value === undefined ? {} : ({ [key]: value } as Record<K, V>);
  return {
    servicePrincipalName: record.servicePrincipalName,
    tenantId: record.tenantId,
    ...optional('tenantName', record.tenantName),
    clientId: record.clientId,
    cloud: record.cloud,
    authorityUrl: record.authorityUrl,
    graphApiEndpoint: record.graphApiEndpoint,
    scopes: record.scopes,
    enabled: record.enabled,
    ...optional('company', record.company),
    ...optional('description', record.description),
    credential,
    hasTokenCache: record.tokenCache !== undefined,
    ...optional('lastTokenRefresh', record.lastTokenRefresh),
    ...optional('tokenExpiresAt', record.tokenExpiresAt),
    ...optional('lastValidatedAt', record.lastValidatedAt),
    ...optional('validationError', record.validationError),
    ...optional('credentialWarning', warning),
    audit: record.audit ?? [],
    ...optional('createdBy', record.createdBy),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...optional('etag', record.etag),
  };
}
