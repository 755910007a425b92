/**
 * The only module that reads `process.env`. Settings are parsed once with zod; a bad or missing setting
 * stops startup with an error that names every offending setting (never its value: some are secrets).
 *
 * Every setting is listed in the README's configuration table and in `local.settings.sample.json`.
 */
import { z } from 'zod';
import { AppError } from './errors';

const NCRONTAB = /^\S+ \S+ \S+ \S+ \S+ \S+$/;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const httpsOrHttpUrl = z.url({ protocol: /^https?$/ });
const commaList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
const intSetting = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });
const schedule = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.trim()))
    .refine((v) => NCRONTAB.test(v), 'must be an NCRONTAB expression with six fields (seconds first)');

/** The raw settings, exactly as named in app settings / local.settings.json. */
const settingsSchema = z.object({
  COSMOS_ENDPOINT: httpsOrHttpUrl,
  /** Absent in Azure: the app then authenticates to Cosmos with its managed identity. */
  COSMOS_KEY: optionalString,
  COSMOS_DATABASE: z
    .string()
    .optional()
    .transform((v) => v?.trim() || 'm365mail')
    .refine((v) => /^[A-Za-z0-9_-]{1,255}$/.test(v), 'must be letters, digits, - or _'),

  AzureWebJobsStorage: optionalString,
  AzureWebJobsStorage__accountName: optionalString,
  AzureWebJobsStorage__queueServiceUri: optionalString.pipe(httpsOrHttpUrl.optional()),
  AzureWebJobsStorage__blobServiceUri: optionalString.pipe(httpsOrHttpUrl.optional()),
  AzureWebJobsStorage__clientId: optionalString,

  KEY_VAULT_URL: httpsOrHttpUrl,

  /** Client id of the user-assigned managed identity (Azure). */
  AZURE_CLIENT_ID: optionalString,
  /** Local development only: a service principal (on the M365 simulator) used instead of a managed identity. */
  AZURE_TENANT_ID: optionalString,
  AZURE_CLIENT_SECRET: optionalString,
  AZURE_AUTHORITY_HOST: optionalString.pipe(httpsOrHttpUrl.optional()),

  ALLOWED_DEV_HOSTS: commaList.refine(
    (hosts) => hosts.every((h) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(h)),
    'must be a comma-separated list of host:port',
  ),
  TOKEN_CACHE_KEY_SECRET_NAME: z
    .string()
    .optional()
    .transform((v) => v?.trim() || 'token-cache-key'),

  SYNC_SCHEDULE: schedule('0 */5 * * * *'),
  SYNC_QUEUE_NAME: z
    .string()
    .optional()
    .transform((v) => v?.trim() || 'mailbox-sync')
    .refine((v) => /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(v), 'must be a valid Storage queue name'),
  SYNC_PAGE_SIZE: intSetting(1, 1000, 100),
  SYNC_TIME_BUDGET_SECONDS: intSetting(10, 3600, 480),
  SYNC_LEASE_SECONDS: intSetting(30, 7200, 600),
  SYNC_MAX_CONCURRENCY_PER_MAILBOX: intSetting(1, 4, 4),
  ATTACHMENTS_CONTAINER: z
    .string()
    .optional()
    .transform((v) => v?.trim() || 'attachments')
    .refine((v) => /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(v), 'must be a valid blob container name'),

  REFRESH_TOKENS_SCHEDULE: schedule('0 0 * * * *'),
  VALIDATE_PRINCIPALS_SCHEDULE: schedule('0 30 3 * * *'),
  CLEANUP_SYNC_LOGS_SCHEDULE: schedule('0 15 4 * * *'),

  API_AUTH_JWKS_URI: httpsOrHttpUrl,
  API_AUTH_ISSUERS: commaList.refine((v) => v.length > 0, 'must list at least one issuer'),
  API_AUTH_AUDIENCE: z.string().trim().min(1, 'must not be empty'),

  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).optional().default('info'),
});

export type StorageConfig =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'identity';
      accountName: string;
      queueServiceUri: string;
      blobServiceUri: string;
      /** User-assigned managed identity client id, when the host uses one. */
      clientId: string | undefined;
    };

export interface Config {
  cosmos: { endpoint: string; key: string | undefined; database: string };
  storage: StorageConfig;
  keyVault: { url: string };
  identity: {
    clientId: string | undefined;
    tenantId: string | undefined;
    clientSecret: string | undefined;
    authorityHost: string | undefined;
  };
  /** host:port pairs allowed as authority / Graph / Key Vault hosts besides Microsoft's (the simulator). */
  allowedDevHosts: string[];
  tokenCacheKeySecretName: string;
  sync: {
    schedule: string;
    queueName: string;
    pageSize: number;
    timeBudgetSeconds: number;
    leaseSeconds: number;
    maxConcurrencyPerMailbox: number;
  };
  blobs: { attachmentsContainer: string };
  schedules: { refreshTokens: string; validatePrincipals: string; cleanupSyncLogs: string };
  apiAuth: { jwksUri: string; issuers: string[]; audience: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** The names of every setting the app reads (used by docs and infra tests). */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as ReadonlyArray<keyof typeof settingsSchema.shape>;

/** Parses settings from `env` (default: `process.env`). Throws CONFIG_INVALID naming each bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.map(String).join('.') || '(settings)';
      const message =
        issue.code === 'invalid_type' && env[name] === undefined ? 'is required but not set' : issue.message;
      problems.push(`${name} ${message}`);
    }
  }
  const s = parsed.success ? parsed.data : undefined;
  let storage: StorageConfig | undefined;
  if (s) {
    if (s.AzureWebJobsStorage) {
      storage = { kind: 'connectionString', connectionString: s.AzureWebJobsStorage };
    } else if (s.AzureWebJobsStorage__accountName) {
      const account = s.AzureWebJobsStorage__accountName;
      storage = {
        kind: 'identity',
        accountName: account,
        queueServiceUri: s.AzureWebJobsStorage__queueServiceUri ?? `https://${account}.queue.core.windows.net`,
        blobServiceUri: s.AzureWebJobsStorage__blobServiceUri ?? `https://${account}.blob.core.windows.net`,
        clientId: s.AzureWebJobsStorage__clientId ?? s.AZURE_CLIENT_ID,
      };
    } else {
      problems.push('AzureWebJobsStorage is required (a connection string), or AzureWebJobsStorage__accountName');
    }
  }
  if (problems.length > 0 || !s || !storage) {
    throw new AppError('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { settings: problems.map((p) => p.split(' ')[0]) },
    });
  }
  return {
    cosmos: { endpoint: s.COSMOS_ENDPOINT, key: s.COSMOS_KEY, database: s.COSMOS_DATABASE },
    storage,
    keyVault: { url: s.KEY_VAULT_URL },
    identity: {
      clientId: s.AZURE_CLIENT_ID,
      tenantId: s.AZURE_TENANT_ID,
      clientSecret: s.AZURE_CLIENT_SECRET,
      authorityHost: s.AZURE_AUTHORITY_HOST,
    },
    allowedDevHosts: s.ALLOWED_DEV_HOSTS.map((h) => h.toLowerCase()),
    tokenCacheKeySecretName: s.TOKEN_CACHE_KEY_SECRET_NAME,
    sync: {
      schedule: s.SYNC_SCHEDULE,
      queueName: s.SYNC_QUEUE_NAME,
      pageSize: s.SYNC_PAGE_SIZE,
      timeBudgetSeconds: s.SYNC_TIME_BUDGET_SECONDS,
      leaseSeconds: s.SYNC_LEASE_SECONDS,
      maxConcurrencyPerMailbox: s.SYNC_MAX_CONCURRENCY_PER_MAILBOX,
    },
    blobs: { attachmentsContainer: s.ATTACHMENTS_CONTAINER },
    schedules: {
      refreshTokens: s.REFRESH_TOKENS_SCHEDULE,
      validatePrincipals: s.VALIDATE_PRINCIPALS_SCHEDULE,
      cleanupSyncLogs: s.CLEANUP_SYNC_LOGS_SCHEDULE,
    },
    apiAuth: { jwksUri: s.API_AUTH_JWKS_URI, issuers: s.API_AUTH_ISSUERS, audience: s.API_AUTH_AUDIENCE },
    logLevel: s.LOG_LEVEL,
  };
}

let cached: Config | undefined;
/** The process-wide configuration, parsed on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}

/** Tests only: forget the parsed configuration so the next `getConfig()` parses again. */
export function resetConfigForTests(): void {
  cached = undefined;
}

/** The package version, reported by /api/health. */
export function appVersion(): string {
  return process.env['npm_package_version'] ?? readPackageVersion();
}

function readPackageVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time from dist/ or source
    return (require('../package.json') as { version: string }).version;
  } catch {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- from dist/shared
      return (require('../../package.json') as { version: string }).version;
    } catch {
      return '0.0.0';
    }
  }
}
