import { z } from 'zod';
import { guid, isoDateTime, recordName, storedFields } from './common';

export const CLOUDS = ['global', 'usgov', 'usgovdod', 'china'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** A pointer to a Key Vault secret. The secret's value never leaves Key Vault except into memory. */
export const secretRef = z.object({ name: z.string().min(1).max(127), version: z.string().optional() }).strict();
export type SecretRef = z.infer<typeof secretRef>;

export const credential = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('clientSecret'), secretRef, expiresAt: isoDateTime.optional() }).strict(),
  z
    .object({
      kind: z.literal('certificate'),
      /** The PEM (private key + certificate) in Key Vault. */
      secretRef,
      thumbprintSha256: z.string().regex(/^[0-9A-Fa-f]{64}$/, 'must be 64 hex characters'),
      expiresAt: isoDateTime.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('federated'),
      /** Client id of the user-assigned managed identity whose token is the client assertion. */
      managedIdentityClientId: guid.optional(),
      audience: z.string().default('api://AzureADTokenExchange'),
    })
    .strict(),
]);
export type Credential = z.infer<typeof credential>;

/** MSAL's token cache, encrypted with AES-256-GCM under a Key Vault-held key (`keyId` names its version). */
export const encryptedBlob = z
  .object({ keyId: z.string(), iv: z.string(), tag: z.string(), ciphertext: z.string() })
  .strict();
export type EncryptedBlob = z.infer<typeof encryptedBlob>;

export const validationError = z.object({ code: z.string(), message: z.string(), at: isoDateTime }).strict();

/** What happened to a principal and who did it (newest last; the use cases keep the latest 20). Never secrets. */
export const SERVICE_PRINCIPAL_AUDIT_ACTIONS = [
  'created',
  'updated',
  'credential-rotated',
  'validated',
  'validation-failed',
  'disabled',
] as const;
export const servicePrincipalAuditEntry = z
  .object({
    at: isoDateTime,
    action: z.enum(SERVICE_PRINCIPAL_AUDIT_ACTIONS),
    actor: z.string().max(320),
    code: z.string().max(100).optional(),
    message: z.string().max(1000).optional(),
  })
  .strict();
export type ServicePrincipalAuditEntry = z.infer<typeof servicePrincipalAuditEntry>;

/** Container `servicePrincipals`, partition key `/id`; id = idForName(servicePrincipalName). */
export const servicePrincipalRecord = z
  .object({
    ...storedFields,
    docType: z.literal('servicePrincipal'),
    servicePrincipalName: recordName,
    tenantId: guid,
    tenantName: z.string().trim().max(200).optional(),
    clientId: guid,
    cloud: z.enum(CLOUDS),
    authorityUrl: z.url(),
    graphApiEndpoint: z.url(),
    enabled: z.boolean(),
    credential,
    tokenCache: encryptedBlob.optional(),
    lastTokenRefresh: isoDateTime.optional(),
    tokenExpiresAt: isoDateTime.optional(),
    scopes: z.string().min(1),
    company: z.string().trim().max(200).optional(),
    description: z.string().max(10_000).optional(),
    lastValidatedAt: isoDateTime.optional(),
    validationError: validationError.optional(),
    /** Set when the credential expires within 30 days (or has expired). */
    credentialWarning: z.string().optional(),
    createdBy: z.string().optional(),
    audit: z.array(servicePrincipalAuditEntry).max(50).optional(),
  })
  .strict();
export type ServicePrincipalRecord = z.infer<typeof servicePrincipalRecord>;
