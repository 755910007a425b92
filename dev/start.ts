/**
 * `npm start`: the whole service on this machine, with no Azure account.
 *
 *  1. starts what the environment does not already point at: the Cosmos DB stand-in (in this process) and
 *     Azurite (a child process) — see `dev/local-stack/stack.ts` — and the M365 simulator when it is available;
 *  2. computes the app settings: the environment wins, embedded local values fill only what is unset (so the
 *     same command can run against real Azure resources), writes them to `.local/settings.json`;
 *  3. creates the Cosmos database and containers, the sync queue and its poison queue, the attachments container;
 *  4. runs the functions in the local functions host (`dev/functions-host`) on http://127.0.0.1:7071;
 *  5. runs the demo (unless `--no-demo`), prints the URLs and keeps running until Ctrl-C / SIGTERM, then stops
 *     everything (no process left behind, Azurite included).
 *
 * Usage: npm start [-- --no-demo] [--port <n>]
 *        npm start -- --stack-only   (only the stand-ins, on fixed ports, for `func start`: local.settings.sample.json)
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CosmosClient } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { ensureDatabase } from '../shared/adapters/cosmos/setup';
import { loadConfig, SETTING_NAMES, type Config } from '../shared/config';
import { startFunctionsHost, type StartedFunctionsHost } from './functions-host';
import { consoleSink, type HostLogSink } from './functions-host/log';
import { PROJECT_ROOT, readTls, startAzurite, startCosmos, stopChild } from './local-stack/stack';
import type { SimulatorOptions, StartedSimulator } from './m365-simulator/contract';

const USAGE = `Usage: npm start [-- [--no-demo] [--port <n>] [--stack-only]]

  --no-demo     do not run the demo after start-up
  --port <n>    HTTP port of the functions host (default 7071; 0 picks a free one)
  --stack-only  start only the stand-ins, on the fixed ports local.settings.sample.json uses
                (Cosmos 8081, Azurite 10000/10001, M365 simulator 8443), for \`func start\`
  --help        show this help`;

/** Fixed ports of `--stack-only` (the values in local.settings.sample.json). */
export const STACK_ONLY_PORTS = { cosmos: 8081, blob: 10000, queue: 10001, simulator: 8443 } as const;

/**
 * The app's own identity registered on the M365 simulator (stands in for the managed identity: Key Vault
 * access). Fixed so local.settings.sample.json can name it; only ever valid on the local simulator.
 */
export const LOCAL_IDENTITY = {
  tenantId: '00000000-0000-4000-8000-00000000a001',
  clientId: '00000000-0000-4000-8000-00000000a002',
  clientSecret: 'local-simulator-only-secret',
} as const;

export interface StartArgs {
  demo: boolean;
  port: number;
  stackOnly: boolean;
  help: boolean;
}

export class UsageError extends Error {}

export function parseStartArgs(argv: readonly string[]): StartArgs {
  const args: StartArgs = { demo: true, port: 7071, stackOnly: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-demo') args.demo = false;
    else if (arg === '--stack-only') args.stackOnly = true;
    else if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--port' || arg.startsWith('--port=')) {
      const value = arg === '--port' ? argv[++i] : arg.slice('--port='.length);
      const port = Number(value);
      if (value === undefined || value === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UsageError(`--port needs a port number from 0 to 65535, not "${value ?? ''}"`);
      }
      args.port = port;
    } else {
      throw new UsageError(`Unknown option "${arg}"`);
    }
  }
  return args;
}

/** Values that make the configuration parse when the M365 simulator is not available (nothing listens there). */
export const PLACEHOLDER_SETTINGS = {
  KEY_VAULT_URL: 'https://127.0.0.1:9/placeholder-key-vault/',
  API_AUTH_JWKS_URI: 'https://127.0.0.1:9/placeholder-entra/discovery/v2.0/keys',
  API_AUTH_ISSUERS: 'https://127.0.0.1:9/placeholder-entra/v2.0',
  API_AUTH_AUDIENCE: 'api://m365-mail-sync-local',
} as const;

/** `SYNC_SCHEDULE` while the demo runs, unless the environment sets one: new demo mail shows up within 30 s. */
export const DEMO_SYNC_SCHEDULE = '*/30 * * * * *';

/** The audience the local API tokens are issued for (simulator `user-tokens`). */
export const LOCAL_API_AUDIENCE = 'api://m365-mail-sync-local';

export type SettingSource = 'environment' | 'embedded';

export interface EmbeddedServices {
  cosmos?: { endpoint: string; key: string };
  storage?: { connectionString: string };
  /** Settings the M365 simulator step produced (Key Vault, identity, API auth); placeholders when absent. */
  simulator?: Record<string, string>;
}

const isSet = (env: Record<string, string | undefined>, name: string): boolean => (env[name] ?? '').trim() !== '';

/** The defaults `shared/config.ts` applies, as settings (binding expressions like `%SYNC_SCHEDULE%` need them). */
function configDefaults(): Record<string, string> {
  const defaults = loadConfig({
    COSMOS_ENDPOINT: 'https://localhost',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ...PLACEHOLDER_SETTINGS,
  });
  return {
    COSMOS_DATABASE: defaults.cosmos.database,
    TOKEN_CACHE_KEY_SECRET_NAME: defaults.tokenCacheKeySecretName,
    SYNC_SCHEDULE: defaults.sync.schedule,
    SYNC_QUEUE_NAME: defaults.sync.queueName,
    SYNC_PAGE_SIZE: String(defaults.sync.pageSize),
    SYNC_TIME_BUDGET_SECONDS: String(defaults.sync.timeBudgetSeconds),
    SYNC_LEASE_SECONDS: String(defaults.sync.leaseSeconds),
    SYNC_MAX_CONCURRENCY_PER_MAILBOX: String(defaults.sync.maxConcurrencyPerMailbox),
    ATTACHMENTS_CONTAINER: defaults.blobs.attachmentsContainer,
    REFRESH_TOKENS_SCHEDULE: defaults.schedules.refreshTokens,
    VALIDATE_PRINCIPALS_SCHEDULE: defaults.schedules.validatePrincipals,
    CLEANUP_SYNC_LOGS_SCHEDULE: defaults.schedules.cleanupSyncLogs,
    LOG_LEVEL: defaults.logLevel,
  };
}

/**
 * The app settings for a local run: every setting set in `env` is kept as is; embedded values fill the rest.
 * Groups are filled together or not at all (a Cosmos endpoint from the environment never gets the stand-in's
 * key; an identity-based storage account never gets Azurite's connection string).
 */
export function computeAppSettings(
  env: Record<string, string | undefined>,
  embedded: EmbeddedServices,
): { settings: Record<string, string>; sources: Record<string, SettingSource> } {
  const settings: Record<string, string> = {};
  const sources: Record<string, SettingSource> = {};
  const names = new Set<string>([...SETTING_NAMES, 'FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags']);
  for (const name of names) {
    if (isSet(env, name)) {
      settings[name] = env[name]!;
      sources[name] = 'environment';
    }
  }
  const fill = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value !== undefined && !isSet(env, name)) {
        settings[name] = value;
        sources[name] = 'embedded';
      }
    }
  };
  if (!isSet(env, 'COSMOS_ENDPOINT') && embedded.cosmos) {
    fill({ COSMOS_ENDPOINT: embedded.cosmos.endpoint, COSMOS_KEY: embedded.cosmos.key });
  }
  if (!isSet(env, 'AzureWebJobsStorage') && !isSet(env, 'AzureWebJobsStorage__accountName') && embedded.storage) {
    fill({ AzureWebJobsStorage: embedded.storage.connectionString });
  }
  if (!isSet(env, 'KEY_VAULT_URL') && embedded.simulator) {
    fill(embedded.simulator);
  } else if (!isSet(env, 'KEY_VAULT_URL')) {
    fill({ KEY_VAULT_URL: PLACEHOLDER_SETTINGS.KEY_VAULT_URL });
  }
  if (!isSet(env, 'API_AUTH_JWKS_URI') && !isSet(env, 'API_AUTH_ISSUERS')) {
    const simulator = embedded.simulator ?? {};
    fill({
      API_AUTH_JWKS_URI: simulator['API_AUTH_JWKS_URI'] ?? PLACEHOLDER_SETTINGS.API_AUTH_JWKS_URI,
      API_AUTH_ISSUERS: simulator['API_AUTH_ISSUERS'] ?? PLACEHOLDER_SETTINGS.API_AUTH_ISSUERS,
      API_AUTH_AUDIENCE: simulator['API_AUTH_AUDIENCE'] ?? PLACEHOLDER_SETTINGS.API_AUTH_AUDIENCE,
    });
  }
  fill({ ...configDefaults(), FUNCTIONS_WORKER_RUNTIME: 'node', AzureWebJobsFeatureFlags: 'EnableWorkerIndexing' });
  return { settings, sources };
}

/**
 * Loads an optional sibling module (a step other work adds later): undefined when it does not exist yet, or
 * (with a warning) when it exists but cannot be loaded, so a half-finished step never blocks `npm start`.
 */
function optionalModule<T>(relativePath: string, warn: (text: string) => void): T | undefined {
  let resolved: string;
  try {
    resolved = require.resolve(relativePath);
  } catch {
    return undefined;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional step, resolved at run time
    return require(resolved) as T;
  } catch (error) {
    warn(
      `${relativePath} could not be loaded, skipping it: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
    return undefined;
  }
}

interface SimulatorStep {
  url: string;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The M365 simulator step: starts `dev/m365-simulator/server.ts` when it exists and registers the app's own
 * identity there (tenant + app with a secret: Key Vault access), plus API token settings. Undefined otherwise.
 */
async function startSimulatorStep(
  tls: { cert: Buffer; key: Buffer },
  port: number,
  warn: (text: string) => void,
): Promise<SimulatorStep | undefined> {
  const mod = optionalModule<{ startSimulator?: (o: SimulatorOptions) => Promise<StartedSimulator> }>(
    './m365-simulator/server',
    warn,
  );
  if (!mod?.startSimulator) return undefined;
  const sim = await mod.startSimulator({ port, host: '127.0.0.1', tls });
  try {
    const post = async <T>(route: string, body: unknown): Promise<T> => {
      const res = await fetch(`${sim.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`M365 simulator ${route} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as T;
    };
    const tenant = await post<{ id: string }>('/_sim/tenants', {
      id: LOCAL_IDENTITY.tenantId,
      displayName: 'm365-mail-sync (local host tenant)',
    });
    const identity = await post<{ appId: string; secrets: Array<{ value: string }> }>(
      `/_sim/tenants/${tenant.id}/apps`,
      {
        appId: LOCAL_IDENTITY.clientId,
        displayName: 'm365-mail-sync (local managed identity)',
        roles: [],
        secrets: [{ value: LOCAL_IDENTITY.clientSecret }],
      },
    );
    const secret = identity.secrets[0]?.value ?? LOCAL_IDENTITY.clientSecret;
    return {
      url: sim.url,
      settings: {
        KEY_VAULT_URL: sim.url,
        AZURE_TENANT_ID: tenant.id,
        AZURE_CLIENT_ID: identity.appId,
        AZURE_CLIENT_SECRET: secret,
        AZURE_AUTHORITY_HOST: sim.url,
        ALLOWED_DEV_HOSTS: new URL(sim.url).host,
        API_AUTH_JWKS_URI: `${sim.url}/common/discovery/v2.0/keys`,
        API_AUTH_ISSUERS: `${sim.url}/${tenant.id}/v2.0`,
        API_AUTH_AUDIENCE: LOCAL_API_AUDIENCE,
      },
      stop: () => sim.stop(),
    };
  } catch (error) {
    await sim.stop();
    throw error;
  }
}

/** Creates what the functions expect to exist. Against real Azure resources a failure is a warning only. */
async function ensureResources(
  config: Config,
  embedded: { cosmos: boolean; storage: boolean },
  warn: (text: string) => void,
): Promise<void> {
  const attempt = async (what: string, isEmbedded: boolean, work: () => Promise<unknown>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      if (isEmbedded) throw error;
      warn(`could not create ${what} (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
    }
  };
  // These clients live only for set-up; the functions use the composition root's.
  const cosmos = config.cosmos.key
    ? new CosmosClient({ endpoint: config.cosmos.endpoint, key: config.cosmos.key })
    : undefined;
  const storage = config.storage;
  const queues =
    storage.kind === 'connectionString' ? QueueServiceClient.fromConnectionString(storage.connectionString) : undefined;
  const blobs =
    storage.kind === 'connectionString' ? BlobServiceClient.fromConnectionString(storage.connectionString) : undefined;
  try {
    await Promise.all([
      cosmos
        ? attempt(`the Cosmos database ${config.cosmos.database}`, embedded.cosmos, () =>
            ensureDatabase(cosmos, config.cosmos.database),
          )
        : Promise.resolve(warn('Cosmos uses an identity: its database and containers are expected to exist (infra)')),
      ...(queues
        ? [config.sync.queueName, `${config.sync.queueName}-poison`].map((q) =>
            attempt(`the queue ${q}`, embedded.storage, () => queues.getQueueClient(q).createIfNotExists()),
          )
        : []),
      blobs
        ? attempt(`the blob container ${config.blobs.attachmentsContainer}`, embedded.storage, () =>
            blobs.getContainerClient(config.blobs.attachmentsContainer).createIfNotExists(),
          )
        : Promise.resolve(),
    ]);
  } finally {
    cosmos?.dispose();
  }
}

function writeSettingsFile(settings: Record<string, string>): string {
  const file = path.join(PROJECT_ROOT, '.local', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Same shape as local.settings.json. May hold secrets: readable by the owner only (and git-ignored).
  fs.writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: settings }, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** The demo step (`dev/demo.ts` exporting `runDemo`); skipped with `--no-demo`. */
async function runDemoStep(
  context: {
    apiUrl: string;
    simulatorUrl: string | undefined;
    settings: Record<string, string>;
    setHostLogSink: (sink: HostLogSink | undefined) => void;
  },
  warn: (text: string) => void,
): Promise<boolean> {
  const mod = optionalModule<{ runDemo?: (c: typeof context) => Promise<void> }>('./demo', warn);
  if (!mod?.runDemo) return false;
  await mod.runDemo(context);
  return true;
}

export async function main(argv: readonly string[]): Promise<void> {
  const startedAt = performance.now();
  let args: StartArgs;
  try {
    args = parseStartArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`npm start: ${error.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }

  const say = (text: string): void => void process.stdout.write(text + '\n');
  const warn = (text: string): void => void process.stderr.write(`warning: ${text}\n`);
  const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
  let azurite: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;

  const shutdown = (exitCode: number): Promise<void> => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup.run();
        } catch (error) {
          warn(`stopping ${cleanup.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      process.exit(exitCode);
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C: stop waiting.
      azurite?.kill('SIGKILL');
      process.exit(130);
    }
    say(`\n${signal}: stopping…`);
    void shutdown(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Whatever happens, never leave Azurite running.
  process.on('exit', () => {
    if (azurite && azurite.exitCode === null && azurite.signalCode === null) azurite.kill('SIGKILL');
  });

  try {
    const env = process.env;
    const tls = readTls();
    const needCosmos = !isSet(env, 'COSMOS_ENDPOINT');
    const needStorage = !isSet(env, 'AzureWebJobsStorage') && !isSet(env, 'AzureWebJobsStorage__accountName');
    const needSimulator = !isSet(env, 'KEY_VAULT_URL');

    const [cosmos, storage, simulator] = await Promise.all([
      needCosmos ? startCosmos(args.stackOnly ? STACK_ONLY_PORTS.cosmos : 0) : undefined,
      needStorage
        ? startAzurite(args.stackOnly ? { blobPort: STACK_ONLY_PORTS.blob, queuePort: STACK_ONLY_PORTS.queue } : {})
        : undefined,
      needSimulator ? startSimulatorStep(tls, args.stackOnly ? STACK_ONLY_PORTS.simulator : 0, warn) : undefined,
    ]);
    if (cosmos) {
      cleanups.push({
        name: 'the Cosmos stand-in',
        run: () =>
          new Promise<void>((resolve) => {
            cosmos.server.closeAllConnections();
            cosmos.server.close(() => resolve());
          }),
      });
    }
    if (storage) {
      azurite = storage.process;
      cleanups.push({ name: 'Azurite', run: () => stopChild(storage.process) });
    }
    if (simulator) cleanups.push({ name: 'the M365 simulator', run: () => simulator.stop() });

    const { settings, sources } = computeAppSettings(env, {
      ...(cosmos ? { cosmos: { endpoint: cosmos.endpoint, key: cosmos.key } } : {}),
      ...(storage ? { storage: { connectionString: storage.connectionString } } : {}),
      ...(simulator ? { simulator: simulator.settings } : {}),
    });
    if (args.demo && !args.stackOnly && !isSet(env, 'SYNC_SCHEDULE')) settings['SYNC_SCHEDULE'] = DEMO_SYNC_SCHEDULE;
    const config = loadConfig(settings);
    const settingsFile = writeSettingsFile(settings);
    await ensureResources(config, { cosmos: Boolean(cosmos), storage: Boolean(storage) }, warn);

    // The demo sends the host's lines to a file while it draws progress.
    let hostLogSink: HostLogSink | undefined;
    const host: StartedFunctionsHost | undefined = args.stackOnly
      ? undefined
      : await startFunctionsHost({
          port: args.port,
          env: settings,
          logSink: (line, level) => (hostLogSink ?? consoleSink)(line, level),
        });
    if (host) cleanups.push({ name: 'the functions host', run: () => host.stop() });

    const readyIn = ((performance.now() - startedAt) / 1000).toFixed(1);
    const from = (name: string): string => (sources[name] === 'environment' ? 'from the environment' : 'embedded');
    const lines = [
      '',
      host
        ? `m365-mail-sync is running locally (ready in ${readyIn} s)`
        : `The local stand-ins are running (ready in ${readyIn} s); start the functions with \`func start\`\n` +
          '(local.settings.json copied from local.settings.sample.json; see docs/configuration.md)',
      ...(host
        ? [
            `  API:        ${host.apiUrl}`,
            `  Health:     ${host.apiUrl}/health`,
            `  Admin:      POST ${host.url}/admin/functions/{name} runs a timer or queue function now`,
          ]
        : []),
      `  Cosmos DB:  ${config.cosmos.endpoint} (${cosmos ? 'embedded stand-in' : from('COSMOS_ENDPOINT')}), database ${config.cosmos.database}`,
      storage
        ? `  Storage:    queues ${storage.queueEndpoint}, blobs ${storage.blobEndpoint} (embedded Azurite)`
        : `  Storage:    ${config.storage.kind === 'identity' ? config.storage.queueServiceUri : 'AzureWebJobsStorage'} (from the environment)`,
      simulator
        ? `  M365:       ${simulator.url} (simulator: Entra ID, Graph, Key Vault)`
        : needSimulator
          ? '  M365:       simulator not available: KEY_VAULT_URL and API_AUTH_* hold placeholders'
          : `  Key Vault:  ${config.keyVault.url} (from the environment)`,
      `  Settings:   ${path.relative(process.cwd(), settingsFile) || settingsFile}`,
      ...(host
        ? [
            `  Functions:  ${host.functions.length}`,
            ...host.functions.map(
              (f) =>
                `    ${f.name.padEnd(28)} ${f.trigger.padEnd(6)} ${f.detail}${f.error ? `  (in error: ${f.error})` : ''}`,
            ),
          ]
        : []),
    ];
    say(lines.join('\n'));
    if (host && host.loadErrors.length > 0) {
      warn(`${host.loadErrors.length} function module(s) failed to load (see above)`);
    }

    if (host && args.demo) {
      const ran = await runDemoStep(
        {
          apiUrl: host.apiUrl,
          simulatorUrl: simulator?.url,
          settings,
          setHostLogSink: (sink) => {
            hostLogSink = sink;
          },
        },
        warn,
      );
      if (!ran) say('  Demo:       none yet (run with --no-demo to skip it once it exists)');
    }
    say('Press Ctrl-C to stop.\n');
  } catch (error) {
    process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await shutdown(1);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2));
}
