/**
 * The control API (`/_sim/...`, JSON, no auth, loopback only) and seed files: tenants, apps (credentials,
 * granted roles, mailbox scope), users and shared mailboxes, user tokens, counters, faults, limits, the Key
 * Vault tenant and reset. Every input is validated (400 with a message naming the field).
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SimHttpError, type MailModule, type SimRequest, type SimUser } from './contract';
import type { Directory } from './directory';
import type { SigningKeys } from './entra/tokens';
import type { KeyVaultModule } from './keyvault';
import type { Counters, Faults, Limits } from './limits';
import type { CoreRouter } from './router';

/* ---------------------------------------------- schemas ----------------------------------------------- */

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date');

export const mailboxSeedSchema = z.strictObject({
  seed: z.number().int(),
  folders: z.record(z.string().min(1), z.number().int().min(0).max(1_000_000)),
  attachmentRate: z.number().min(0).max(1).optional(),
  since: isoDate.optional(),
});

const tenantSchema = z.strictObject({
  id: z.string().min(1).optional(),
  displayName: z.string().min(1).max(256),
  domain: z.string().min(3).max(253).optional(),
});

const secretSchema = z.strictObject({
  value: z.string().min(16).max(1024).optional(),
  expiresAt: isoDate.optional(),
});

const appSchema = z.strictObject({
  appId: z.string().min(1).optional(),
  displayName: z.string().min(1).max(256),
  roles: z.array(z.string().min(1)),
  mailboxScope: z.array(z.string().min(1)).nullable().optional(),
  secrets: z.array(secretSchema).optional(),
  certificates: z.array(z.strictObject({ certificatePem: z.string().min(1) })).optional(),
  federatedIssuers: z
    .array(
      z.strictObject({
        issuer: z.string().min(1),
        subject: z.string().min(1),
        audiences: z.array(z.string().min(1)).min(1).optional(),
      }),
    )
    .optional(),
});

const appPatchSchema = z.strictObject({
  roles: z.array(z.string().min(1)).optional(),
  mailboxScope: z.array(z.string().min(1)).nullable().optional(),
});

const userPurposeSchema = z.enum(['user', 'shared', 'room', 'equipment', 'linked', 'others']);

const userSchema = z.strictObject({
  id: z.string().min(1).optional(),
  userPrincipalName: z.string().min(3).max(113),
  mail: z.string().min(3).max(256).optional(),
  displayName: z.string().min(1).max(256).optional(),
  userPurpose: userPurposeSchema.optional(),
  mailboxEnabled: z.boolean().optional(),
  mailbox: mailboxSeedSchema.optional(),
});

const userPatchSchema = z.strictObject({
  displayName: z.string().min(1).max(256).optional(),
  userPurpose: userPurposeSchema.optional(),
  mailboxEnabled: z.boolean().optional(),
});

const userTokenSchema = z.strictObject({
  audience: z.string().min(1),
  preferredUsername: z.string().min(1),
  oid: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  roles: z.array(z.string().min(1)).optional(),
  /** Delegated scopes (`scp` claim), e.g. `['access_as_user']`. */
  scopes: z.array(z.string().min(1)).optional(),
  /** The client app the user signed in to (`azp`). */
  clientId: z.string().min(1).optional(),
  expiresInSeconds: z.number().int().min(-31_536_000).max(172_800).optional(),
  notBeforeSeconds: z.number().int().min(-31_536_000).max(31_536_000).optional(),
});

const faultRuleSchema = z.strictObject({
  route: z.string().min(1).optional(),
  mailbox: z.string().min(1).optional(),
  rate: z.number().min(0).max(1),
  status: z.literal([429, 500, 503]).optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  dropRate: z.number().min(0).max(1).optional(),
  latencyMs: z.number().min(0).max(120_000).optional(),
});

const faultsSchema = z.strictObject({ seed: z.number().int(), rules: z.array(faultRuleSchema) });

const limitsSchema = z.strictObject({
  mailboxConcurrency: z.number().int().min(1).max(10_000).optional(),
  mailboxRequestsPerWindow: z.number().int().min(1).optional(),
  windowSeconds: z.number().int().min(1).max(86_400).optional(),
  concurrencyRetryAfterSeconds: z.number().int().min(0).max(3600).optional(),
});

const keyVaultSchema = z.strictObject({ tenantId: z.string().min(1) });

export const seedSchema = z.strictObject({
  tenants: z
    .array(
      z.strictObject({
        ...tenantSchema.shape,
        apps: z.array(appSchema).optional(),
        users: z.array(userSchema).optional(),
      }),
    )
    .optional(),
  keyVault: keyVaultSchema.optional(),
  limits: limitsSchema.optional(),
  faults: faultsSchema.optional(),
});

export type SimSeed = z.infer<typeof seedSchema>;

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
  throw new SimHttpError(400, 'BadRequest', `Invalid ${what}: ${problems}`);
}

function body<T>(req: SimRequest, schema: z.ZodType<T>, what: string): T {
  return parse(schema, req.json(), what);
}

/* ---------------------------------------------- control ----------------------------------------------- */

export interface ControlDeps {
  router: CoreRouter;
  directory: Directory;
  keys: SigningKeys;
  counters: Counters;
  faults: Faults;
  limits: Limits;
  keyVault: KeyVaultModule;
  mail: () => MailModule | undefined;
  baseUrl: () => string;
  now: () => Date;
  /** The seed given at start: re-applied by `POST /_sim/reset`. */
  startSeed?: SimSeed;
}

export interface Control {
  applySeed(seed: SimSeed): void;
  /** The Key Vault tenant: set explicitly, else the first tenant created. */
  vaultTenantId(): string | undefined;
  reset(): void;
}

export function validateSeed(seed: unknown): SimSeed {
  return parse(seedSchema, seed, 'seed');
}

export function registerControlRoutes(deps: ControlDeps): Control {
  const { router, directory, keys, counters, faults, limits, baseUrl, now } = deps;
  let vaultTenant: string | undefined;
  const none = { auth: 'none', kind: 'control' } as const;
  const ok = (status: number, payload?: unknown): { status: number; body?: unknown } =>
    payload === undefined ? { status } : { status, body: payload };

  const createUser = (tenantRef: string, input: z.infer<typeof userSchema>): SimUser => {
    const { mailbox, ...userInput } = input;
    const user = directory.createUser(tenantRef, userInput);
    if (mailbox) {
      const mail = deps.mail();
      if (!mail)
        throw new SimHttpError(501, 'NotImplemented', 'The mail module is not loaded: mailbox seeds are unavailable.');
      mail.seedMailbox(user, mailbox);
    }
    return user;
  };

  const applySeed = (seed: SimSeed): void => {
    for (const tenantSeed of seed.tenants ?? []) {
      const { apps, users, ...tenantInput } = tenantSeed;
      const tenant = directory.createTenant(tenantInput);
      for (const app of apps ?? []) directory.createApp(tenant.id, app);
      for (const user of users ?? []) createUser(tenant.id, user);
    }
    if (seed.keyVault) vaultTenant = directory.requireTenant(seed.keyVault.tenantId).id;
    if (seed.limits) limits.configure(definedOnly(seed.limits));
    if (seed.faults) faults.set(seed.faults.seed, seed.faults.rules.map(definedOnly));
  };

  const reset = (): void => {
    directory.reset();
    deps.keyVault.reset();
    counters.reset();
    faults.clear();
    limits.reset();
    deps.mail()?.reset();
    vaultTenant = undefined;
    if (deps.startSeed) applySeed(deps.startSeed);
  };

  /* tenants */
  router.add(
    'POST',
    '/_sim/tenants',
    (req) => ok(201, directory.createTenant(definedOnly(body(req, tenantSchema, 'tenant')))),
    none,
  );
  router.add('GET', '/_sim/tenants', () => ok(200, { value: directory.listTenants() }), none);

  /* apps */
  router.add(
    'POST',
    '/_sim/tenants/{tenant}/apps',
    (req) => {
      const input = body(req, appSchema, 'app');
      return ok(201, directory.createApp(req.params['tenant'] ?? '', definedOnly(input)));
    },
    none,
  );
  router.add(
    'PATCH',
    '/_sim/tenants/{tenant}/apps/{appId}',
    (req) => {
      const input = body(req, appPatchSchema, 'app update');
      const principal = directory.updateApp(req.params['tenant'] ?? '', req.params['appId'] ?? '', definedOnly(input));
      return ok(200, {
        appId: principal.appId,
        tenantId: principal.tenantId,
        roles: principal.roles,
        mailboxScope: principal.mailboxScope,
      });
    },
    none,
  );
  router.add(
    'DELETE',
    '/_sim/tenants/{tenant}/apps/{appId}',
    (req) => {
      directory.deleteApp(req.params['tenant'] ?? '', req.params['appId'] ?? '');
      return ok(204);
    },
    none,
  );
  router.add(
    'POST',
    '/_sim/tenants/{tenant}/apps/{appId}/secrets',
    (req) => {
      const input = req.body.length === 0 ? {} : body(req, secretSchema, 'secret');
      return ok(201, directory.addSecret(req.params['tenant'] ?? '', req.params['appId'] ?? '', definedOnly(input)));
    },
    none,
  );
  router.add(
    'DELETE',
    '/_sim/tenants/{tenant}/apps/{appId}/secrets/{secretId}',
    (req) => {
      directory.deleteSecret(req.params['tenant'] ?? '', req.params['appId'] ?? '', req.params['secretId'] ?? '');
      return ok(204);
    },
    none,
  );
  router.add(
    'POST',
    '/_sim/tenants/{tenant}/apps/{appId}/certificates',
    (req) => {
      const input = body(req, z.strictObject({ certificatePem: z.string().min(1) }), 'certificate');
      return ok(
        201,
        directory.addCertificate(req.params['tenant'] ?? '', req.params['appId'] ?? '', input.certificatePem),
      );
    },
    none,
  );

  /* users */
  router.add(
    'POST',
    '/_sim/tenants/{tenant}/users',
    (req) => ok(201, createUser(req.params['tenant'] ?? '', definedOnly(body(req, userSchema, 'user')))),
    none,
  );
  router.add(
    'GET',
    '/_sim/tenants/{tenant}/users',
    (req) => ok(200, { value: directory.listUsers(directory.requireTenant(req.params['tenant'] ?? '').id) }),
    none,
  );
  router.add(
    'PATCH',
    '/_sim/tenants/{tenant}/users/{user}',
    (req) =>
      ok(
        200,
        directory.updateUser(
          req.params['tenant'] ?? '',
          req.params['user'] ?? '',
          definedOnly(body(req, userPatchSchema, 'user update')),
        ),
      ),
    none,
  );
  router.add(
    'DELETE',
    '/_sim/tenants/{tenant}/users/{user}',
    (req) => {
      directory.deleteUser(req.params['tenant'] ?? '', req.params['user'] ?? '');
      return ok(204);
    },
    none,
  );

  /* user tokens (stand-ins for Entra-issued tokens of portal users, for the product's API) */
  router.add(
    'POST',
    '/_sim/tenants/{tenant}/user-tokens',
    async (req) => {
      const input = body(req, userTokenSchema, 'user token request');
      const tenant = directory.requireTenant(req.params['tenant'] ?? '');
      const known = directory.getUser(tenant.id, input.preferredUsername);
      const nowSeconds = Math.floor(now().getTime() / 1000);
      const oid = input.oid ?? known?.id ?? stableGuid(`${tenant.id}|${input.preferredUsername.toLowerCase()}`);
      const exp = nowSeconds + (input.expiresInSeconds ?? 3600);
      const claims: Record<string, unknown> = {
        aud: input.audience,
        iss: `${baseUrl()}/${tenant.id}/v2.0`,
        iat: nowSeconds,
        nbf: nowSeconds + (input.notBeforeSeconds ?? 0),
        exp,
        aio: randomUUID(),
        azp: input.clientId ?? stableGuid(`client|${input.audience}`),
        azpacr: '0',
        idtyp: 'user',
        name: input.name ?? known?.displayName ?? input.preferredUsername,
        oid,
        preferred_username: input.preferredUsername,
        sub: stableGuid(`sub|${oid}|${input.audience}`).replace(/-/g, ''),
        tid: tenant.id,
        uti: randomUUID().replace(/-/g, ''),
        ver: '2.0',
      };
      if (input.roles) claims['roles'] = input.roles;
      if (input.scopes) claims['scp'] = input.scopes.join(' ');
      const accessToken = await keys.sign(claims);
      return ok(200, { accessToken, expiresOn: new Date(exp * 1000).toISOString() });
    },
    none,
  );

  /* counters, faults, limits, key vault, reset */
  router.add('GET', '/_sim/counters', () => ok(200, counters.snapshot()), none);
  router.add(
    'POST',
    '/_sim/counters/reset',
    () => {
      counters.reset();
      return ok(204);
    },
    none,
  );
  router.add(
    'PUT',
    '/_sim/faults',
    (req) => {
      const input = body(req, faultsSchema, 'faults');
      faults.set(input.seed, input.rules.map(definedOnly));
      return ok(200, faults.active);
    },
    none,
  );
  router.add('GET', '/_sim/faults', () => ok(200, faults.active), none);
  router.add(
    'DELETE',
    '/_sim/faults',
    () => {
      faults.clear();
      return ok(204);
    },
    none,
  );
  router.add('GET', '/_sim/limits', () => ok(200, limits.current), none);
  router.add(
    'PUT',
    '/_sim/limits',
    (req) => ok(200, limits.configure(definedOnly(body(req, limitsSchema, 'limits')))),
    none,
  );
  router.add(
    'PUT',
    '/_sim/keyvault',
    (req) => {
      const input = body(req, keyVaultSchema, 'key vault settings');
      vaultTenant = directory.requireTenant(input.tenantId).id;
      return ok(200, { tenantId: vaultTenant });
    },
    none,
  );
  router.add(
    'POST',
    '/_sim/reset',
    () => {
      reset();
      return ok(204);
    },
    none,
  );

  return {
    applySeed,
    reset,
    vaultTenantId: () => vaultTenant ?? directory.listTenants()[0]?.id,
  };
}

/** Drops keys whose value is `undefined` (zod output → the directory's exact optional inputs). */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A GUID derived from a string (stable object ids for the same user name). */
function stableGuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
