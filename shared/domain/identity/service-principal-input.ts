/**
 * What the API accepts for service principals (zod schemas, exported for the HTTP layer and OpenAPI).
 * A credential is exactly one of: `clientSecret`, `certificate: { pem }`, `federated: {}`.
 */
import { z } from 'zod';
import { CLOUDS, guid, isoDateTime, recordName } from '../records';

const clientSecret = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .refine((v) => v.trim() === v, 'must not start or end with spaces');
const certificateInput = z.object({ pem: z.string().min(1, 'must not be empty').max(32_000) }).strict();
const federatedInput = z
  .object({
    /** Client id of the user-assigned managed identity (absent: the Function App's own identity). */
    managedIdentityClientId: guid.optional(),
  })
  .strict();
const urlText = z.string().trim().min(1).max(2048);
const optionalText = (max: number) => z.string().trim().max(max);

const credentialChoice = <T extends { clientSecret?: unknown; certificate?: unknown; federated?: unknown }>(
  value: T,
  ctx: z.RefinementCtx,
  required: boolean,
): void => {
  const given = (['clientSecret', 'certificate', 'federated'] as const).filter((k) => value[k] !== undefined);
  if (given.length > 1) {
    for (const field of given) {
      ctx.addIssue({ code: 'custom', path: [field], message: 'give only one of clientSecret, certificate, federated' });
    }
  } else if (given.length === 0 && required) {
    ctx.addIssue({
      code: 'custom',
      path: ['clientSecret'],
      message: 'a credential is required: clientSecret, certificate or federated',
    });
  }
};

export const createServicePrincipalInput = z
  .object({
    servicePrincipalName: recordName,
    tenantId: guid,
    tenantName: optionalText(200).optional(),
    clientId: guid,
    clientSecret: clientSecret.optional(),
    /** When the client secret expires (Entra ID shows it next to the secret); enables expiry warnings. */
    clientSecretExpiresAt: isoDateTime.optional(),
    certificate: certificateInput.optional(),
    federated: federatedInput.optional(),
    cloud: z.enum(CLOUDS).optional(),
    authorityUrl: urlText.optional(),
    graphApiEndpoint: urlText.optional(),
    scopes: z.string().trim().min(1).max(1000).optional(),
    company: optionalText(200).optional(),
    description: z.string().max(10_000).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    credentialChoice(value, ctx, true);
    if (value.clientSecretExpiresAt !== undefined && value.clientSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientSecretExpiresAt'], message: 'only applies with clientSecret' });
    }
  });
export type CreateServicePrincipalInput = z.input<typeof createServicePrincipalInput>;

/**
 * A partial update. `null` clears an optional text field, and for `authorityUrl` / `graphApiEndpoint` /
 * `scopes` it means "back to the cloud's default". A new credential replaces the old one (rotation).
 */
export const updateServicePrincipalInput = z
  .object({
    tenantId: guid.optional(),
    tenantName: optionalText(200).nullable().optional(),
    clientId: guid.optional(),
    clientSecret: clientSecret.optional(),
    clientSecretExpiresAt: isoDateTime.nullable().optional(),
    certificate: certificateInput.optional(),
    federated: federatedInput.optional(),
    cloud: z.enum(CLOUDS).optional(),
    authorityUrl: urlText.nullable().optional(),
    graphApiEndpoint: urlText.nullable().optional(),
    scopes: z.string().trim().min(1).max(1000).nullable().optional(),
    company: optionalText(200).nullable().optional(),
    description: z.string().max(10_000).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    credentialChoice(value, ctx, false);
    if (Object.keys(value).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'nothing to change' });
    }
  });
export type UpdateServicePrincipalInput = z.input<typeof updateServicePrincipalInput>;

export const testConnectionInput = z
  .object({
    /** Mailboxes to probe (UPN or address); absent: up to 5 mailboxes of accounts using the principal. */
    mailboxes: z.array(z.string().trim().min(3).max(320)).max(10).optional(),
  })
  .strict();
export type TestConnectionInput = z.input<typeof testConnectionInput>;
