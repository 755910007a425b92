/**
 * Service principal use cases (System Manager only; the HTTP layer checks roles). Secrets go to the
 * SecretStore (Key Vault) and Cosmos keeps only `{ name, version }` references; nothing returned here or
 * logged contains a secret, a certificate key or a token.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { AppError, fieldErrorsFromIssues, inUse, notFound, staleWrite, validationFailed } from '../../errors';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { EmailAccountRepository, PageRequest, ServicePrincipalRepository } from '../ports/repositories';
import type { SecretStore } from '../ports/secret-store';
import type { Credential, SecretRef, ServicePrincipalRecord } from '../records';
import { idForName } from '../records';
import { withAudit } from './audit';
import { parseCertificatePem } from './certificate';
import { cloudDefaults } from './clouds';
import { credentialWarning } from './credential-expiry';
import { resolveEndpoints, type ResolvedEndpoints } from './endpoints';
import { toPublicServicePrincipal, type PublicServicePrincipal } from './public-view';
import { createServicePrincipalInput, updateServicePrincipalInput } from './service-principal-input';

export interface ServicePrincipalDeps {
  servicePrincipals: ServicePrincipalRepository;
  emailAccounts: Pick<EmailAccountRepository, 'countByServicePrincipal'>;
  secrets: SecretStore;
  clock: Clock;
  logger: Logger;
  /** `host:port` entries allowed besides Microsoft's hosts (ALLOWED_DEV_HOSTS). */
  allowedDevHosts: readonly string[];
}

export interface ServicePrincipalUseCases {
  createServicePrincipal(input: unknown, actor: string): Promise<PublicServicePrincipal>;
  updateServicePrincipal(
    name: string,
    patch: unknown,
    actor: string,
    options?: { ifMatch?: string },
  ): Promise<PublicServicePrincipal>;
  /** CONFLICT `in-use` while email accounts use it. Removes its secrets from the store. */
  deleteServicePrincipal(name: string, options?: { ifMatch?: string }): Promise<void>;
  /** NOT_FOUND when missing. */
  getServicePrincipal(name: string): Promise<PublicServicePrincipal>;
  listServicePrincipals(
    page: PageRequest,
    filter?: { enabled?: boolean },
  ): Promise<{ items: PublicServicePrincipal[]; continuationToken: string | null }>;
}

interface CredentialInput {
  clientSecret?: string | undefined;
  clientSecretExpiresAt?: string | null | undefined;
  certificate?: { pem: string } | undefined;
  federated?: { managedIdentityClientId?: string | undefined } | undefined;
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationFailed(fieldErrorsFromIssues(parsed.error.issues));
  return parsed.data;
}

/** Key Vault secret name for a principal's credential: unique per write, so a failed create can clean up. */
function newSecretName(principalId: string, kind: 'client-secret' | 'certificate'): string {
  const idHash = createHash('sha256').update(principalId).digest('hex').slice(0, 12);
  return `sp-${idHash}-${randomBytes(4).toString('hex')}-${kind}`;
}

function secretRefOf(credential: Credential): SecretRef | undefined {
  return credential.kind === 'federated' ? undefined : credential.secretRef;
}

function identityChanged(before: ServicePrincipalRecord, after: ServicePrincipalRecord): boolean {
  return (
    before.tenantId !== after.tenantId ||
    before.clientId !== after.clientId ||
    before.cloud !== after.cloud ||
    before.authorityUrl !== after.authorityUrl ||
    before.scopes !== after.scopes ||
    JSON.stringify(before.credential) !== JSON.stringify(after.credential)
  );
}

export function makeServicePrincipalUseCases(deps: ServicePrincipalDeps): ServicePrincipalUseCases {
  const { servicePrincipals, secrets, clock, logger } = deps;

  /**
   * Writes the credential's secret (a new secret, or a new version of `reuseName`) and returns the
   * credential to store. Certificates are fully checked before anything is written.
   */
  async function storeCredential(
    principalId: string,
    input: CredentialInput,
    reuse: Credential | undefined,
  ): Promise<{ credential: Credential; createdSecretName: string | undefined }> {
    if (input.federated !== undefined) {
      return {
        credential: {
          kind: 'federated',
          audience: 'api://AzureADTokenExchange',
          ...(input.federated.managedIdentityClientId
            ? { managedIdentityClientId: input.federated.managedIdentityClientId }
            : {}),
        },
        createdSecretName: undefined,
      };
    }
    if (input.certificate !== undefined) {
      const cert = parseCertificatePem(input.certificate.pem, clock.now());
      const reuseName = reuse?.kind === 'certificate' ? reuse.secretRef.name : undefined;
      const name = reuseName ?? newSecretName(principalId, 'certificate');
      const stored = await secrets.set(name, cert.pem, {
        expiresOn: cert.notAfter,
        contentType: 'application/x-pem-file',
        tags: { servicePrincipal: principalId.slice(0, 200), kind: 'certificate' },
      });
      return {
        credential: {
          kind: 'certificate',
          secretRef: { name, version: stored.version },
          thumbprintSha256: cert.thumbprintSha256,
          expiresAt: cert.notAfter.toISOString(),
        },
        createdSecretName: reuseName ? undefined : name,
      };
    }
    if (input.clientSecret !== undefined) {
      const expiresOn = input.clientSecretExpiresAt ? new Date(input.clientSecretExpiresAt) : undefined;
      const reuseName = reuse?.kind === 'clientSecret' ? reuse.secretRef.name : undefined;
      const name = reuseName ?? newSecretName(principalId, 'client-secret');
      const stored = await secrets.set(name, input.clientSecret, {
        ...(expiresOn ? { expiresOn } : {}),
        contentType: 'text/plain; client-secret',
        tags: { servicePrincipal: principalId.slice(0, 200), kind: 'client-secret' },
      });
      return {
        credential: {
          kind: 'clientSecret',
          secretRef: { name, version: stored.version },
          ...(expiresOn ? { expiresAt: expiresOn.toISOString() } : {}),
        },
        createdSecretName: reuseName ? undefined : name,
      };
    }
    throw new AppError('INTERNAL', 'No credential in input.');
  }

  async function deleteSecretQuietly(name: string, servicePrincipal: string): Promise<void> {
    try {
      await secrets.delete(name);
    } catch (error) {
      logger.warn('could not delete a service principal secret; delete it in Key Vault', {
        servicePrincipal,
        vaultItem: name,
        error,
      });
    }
  }

  async function requireRecord(name: string): Promise<ServicePrincipalRecord> {
    const record = await servicePrincipals.get(name);
    if (!record) throw notFound(`Service principal "${name}"`);
    return record;
  }

  return {
    async createServicePrincipal(rawInput, actor) {
      const input = parse(createServicePrincipalInput, rawInput);
      const endpoints = resolveEndpoints(input, deps.allowedDevHosts);
      const id = idForName(input.servicePrincipalName);
      if (input.certificate) parseCertificatePem(input.certificate.pem, clock.now()); // fail before any write
      if (await servicePrincipals.get(input.servicePrincipalName)) {
        throw new AppError('CONFLICT', `Service principal "${input.servicePrincipalName}" already exists.`, {
          details: { reason: 'duplicate', field: 'servicePrincipalName' },
        });
      }
      const { credential, createdSecretName } = await storeCredential(id, input, undefined);
      const now = clock.now();
      const base = {
        servicePrincipalName: input.servicePrincipalName,
        tenantId: input.tenantId.toLowerCase(),
        ...(input.tenantName ? { tenantName: input.tenantName } : {}),
        clientId: input.clientId.toLowerCase(),
        ...endpoints,
        enabled: input.enabled ?? true,
        credential,
        ...(input.company ? { company: input.company } : {}),
        ...(input.description ? { description: input.description } : {}),
        ...(credentialWarning(credential, now) ? { credentialWarning: credentialWarning(credential, now) } : {}),
        createdBy: actor,
        audit: [
          {
            at: now.toISOString(),
            action: 'created' as const,
            actor,
            message: `Created with a ${credential.kind} credential.`,
          },
        ],
      };
      let created: ServicePrincipalRecord;
      try {
        created = await servicePrincipals.create(base);
      } catch (error) {
        if (createdSecretName) await deleteSecretQuietly(createdSecretName, input.servicePrincipalName);
        throw error;
      }
      logger.info('service principal created', {
        servicePrincipal: created.servicePrincipalName,
        tenantId: created.tenantId,
        cloud: created.cloud,
        authMethod: credential.kind,
        actor,
      });
      return toPublicServicePrincipal(created, now);
    },

    async updateServicePrincipal(name, rawPatch, actor, options = {}) {
      const patch = parse(updateServicePrincipalInput, rawPatch);
      const current = await requireRecord(name);
      if (options.ifMatch !== undefined && options.ifMatch !== current.etag)
        throw staleWrite(`Service principal "${name}"`);
      // Validate everything (endpoints against the merged record) before writing any secret.
      applyPatch(current, patch, undefined, deps.allowedDevHosts);
      if (patch.certificate) parseCertificatePem(patch.certificate.pem, clock.now());

      const rotating =
        patch.clientSecret !== undefined || patch.certificate !== undefined || patch.federated !== undefined;
      const stored = rotating ? await storeCredential(current.id, patch, current.credential) : undefined;
      const now = clock.now();
      let previousCredential: Credential | undefined;
      let updated: ServicePrincipalRecord;
      try {
        updated = await servicePrincipals.update(name, (fresh) => {
          if (options.ifMatch !== undefined && options.ifMatch !== fresh.etag)
            throw staleWrite(`Service principal "${name}"`);
          previousCredential = fresh.credential;
          let next = applyPatch(fresh, patch, stored?.credential, deps.allowedDevHosts);
          if (identityChanged(fresh, next)) {
            // Tokens of the old identity must not be served for the new one; an old validation error is stale.
            const {
              tokenCache: _cache,
              tokenExpiresAt: _exp,
              lastTokenRefresh: _last,
              validationError: _err,
              ...rest
            } = next;
            next = rest;
          }
          const warning = credentialWarning(next.credential, now);
          const { credentialWarning: _w, ...withoutWarning } = next;
          next = warning ? { ...withoutWarning, credentialWarning: warning } : withoutWarning;
          const changed = Object.keys(patch).filter(
            (k) => k !== 'clientSecret' && k !== 'certificate' && k !== 'federated',
          );
          if (stored) {
            next = withAudit(next, {
              at: now.toISOString(),
              action: 'credential-rotated',
              actor,
              message: `New ${stored.credential.kind} credential.`,
            });
          }
          if (changed.length > 0) {
            next = withAudit(next, {
              at: now.toISOString(),
              action: 'updated',
              actor,
              message: `Changed: ${changed.join(', ')}.`,
            });
          }
          return next;
        });
      } catch (error) {
        if (stored?.createdSecretName) await deleteSecretQuietly(stored.createdSecretName, name);
        throw error;
      }
      // A credential of another kind (or under a new name) replaced the old one: its secret is no longer used.
      const oldRef = previousCredential ? secretRefOf(previousCredential) : undefined;
      const newRef = secretRefOf(updated.credential);
      if (oldRef && oldRef.name !== newRef?.name) await deleteSecretQuietly(oldRef.name, name);
      logger.info('service principal updated', {
        servicePrincipal: updated.servicePrincipalName,
        fields: Object.keys(patch).filter((k) => k !== 'clientSecret' && k !== 'certificate'),
        rotated: stored !== undefined,
        actor,
      });
      return toPublicServicePrincipal(updated, now);
    },

    async deleteServicePrincipal(name, options = {}) {
      const current = await requireRecord(name);
      const accounts = await deps.emailAccounts.countByServicePrincipal(current.servicePrincipalName);
      if (accounts > 0) {
        throw inUse(
          `Service principal "${current.servicePrincipalName}" is used by ${accounts} email account(s); move or delete them first.`,
          { emailAccounts: accounts },
        );
      }
      const etag = options.ifMatch ?? current.etag;
      const deleted = await servicePrincipals.delete(current.servicePrincipalName, etag);
      if (!deleted) throw notFound(`Service principal "${name}"`);
      const ref = secretRefOf(current.credential);
      if (ref) await deleteSecretQuietly(ref.name, current.servicePrincipalName);
      logger.info('service principal deleted', { servicePrincipal: current.servicePrincipalName });
    },

    async getServicePrincipal(name) {
      return toPublicServicePrincipal(await requireRecord(name), clock.now());
    },

    async listServicePrincipals(page, filter) {
      const result = await servicePrincipals.list(page, filter);
      const now = clock.now();
      return {
        items: result.items.map((r) => toPublicServicePrincipal(r, now)),
        continuationToken: result.continuationToken,
      };
    },
  };
}

/**
 * The record after `patch` (pure). Endpoints left at their cloud default follow a changed tenant or cloud;
 * explicitly entered ones are kept and re-validated. Throws VALIDATION_FAILED.
 */
export function applyPatch(
  current: ServicePrincipalRecord,
  patch: z.output<typeof updateServicePrincipalInput>,
  newCredential: Credential | undefined,
  allowedDevHosts: readonly string[],
): ServicePrincipalRecord {
  const oldDefaults = cloudDefaults(current.cloud, current.tenantId);
  const keep = (key: 'authorityUrl' | 'graphApiEndpoint' | 'scopes'): string | undefined => {
    const value = patch[key];
    if (value === null) return undefined;
    if (value !== undefined) return value;
    return current[key] === oldDefaults[key] ? undefined : current[key];
  };
  const tenantId = (patch.tenantId ?? current.tenantId).toLowerCase();
  const endpoints: ResolvedEndpoints = resolveEndpoints(
    {
      tenantId,
      cloud: patch.cloud ?? (patch.authorityUrl || patch.graphApiEndpoint ? undefined : current.cloud),
      authorityUrl: keep('authorityUrl'),
      graphApiEndpoint: keep('graphApiEndpoint'),
      scopes: keep('scopes'),
    },
    allowedDevHosts,
  );
  const next: ServicePrincipalRecord = { ...current, ...endpoints, tenantId };
  if (patch.clientId !== undefined) next.clientId = patch.clientId.toLowerCase();
  if (patch.enabled !== undefined) next.enabled = patch.enabled;
  const setText = (key: 'tenantName' | 'company' | 'description', value: string | null | undefined): void => {
    if (value === null || value === '') delete next[key];
    else if (value !== undefined) next[key] = value;
  };
  setText('tenantName', patch.tenantName);
  setText('company', patch.company);
  setText('description', patch.description);
  if (newCredential) {
    next.credential = newCredential;
  } else if (patch.clientSecretExpiresAt !== undefined) {
    if (next.credential.kind !== 'clientSecret') {
      throw validationFailed([
        { field: 'clientSecretExpiresAt', message: 'only applies to a client secret credential' },
      ]);
    }
    const { expiresAt: _old, ...rest } = next.credential;
    next.credential =
      patch.clientSecretExpiresAt === null
        ? rest
        : { ...rest, expiresAt: new Date(patch.clientSecretExpiresAt).toISOString() };
  }
  return next;
}
