/**
 * `npm run bench [-- --json] [--quick] [--messages N] ...`: the mailbox sync engine's benchmark (prints figures;
 * not a timed test). See `dev/bench/README.md` for what is measured and how.
 *
 * Processes (all on 127.0.0.1, all stopped on exit, Ctrl-C included):
 *   this orchestrator — seeds the simulator and Cosmos, sends commands, reads counters, prints the figures;
 *   the sync worker (`worker.js`) — the production sync path, alone in its process (its RSS and CPU are its own);
 *   the M365 simulator (`dist/dev/m365-simulator/cli.js`) — Entra ID, Graph, Key Vault, 20 ms added per Graph call;
 *   the Cosmos DB stand-in (`cosmos-process.js`) — counts every request server-side (store writes);
 *   Azurite (queues, blobs) as `startAzurite` runs it.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import type { CosmosClient, Database } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { createCosmosClient, createCosmosRepositories, ensureDatabase } from '../../shared/adapters/cosmos';
import { createIdentityServices } from '../../shared/adapters/identity/factory';
import { makeServicePrincipalUseCases } from '../../shared/domain/identity';
import { systemClock } from '../../shared/domain/ports/clock';
import { silentLogger } from '../../shared/domain/ports/logger';
import type { NewEmailAccount, Repositories } from '../../shared/domain/ports/repositories';
import { PROJECT_ROOT, readTls, startAzurite, stopChild } from '../local-stack/stack';
import type { SimCounters } from '../m365-simulator/contract';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchArgs } from './args';
import { WRITE_KINDS, type CosmosCounters } from './cosmos-process';
import { IpcClient } from './ipc';
import { machineBusyCpuMs, processCpuMs } from './peak-sampler';
import { buildReport, formatTable, type BenchMeasurements, type CpuShare, type GraphCounts } from './report';
import type { FanOutFigures, RawUpsertFigures, SyncFigures } from './worker';

const DATABASE = 'bench';
const SYNC_QUEUE = 'bench-sync';
const FANOUT_QUEUE = 'bench-fanout';
const MAIN_ACCOUNT = 'bench-mailbox';
const PLAIN_ACCOUNT = 'bench-plain-mailbox';
const RAW_PARTITION = 'bench-raw-upserts';
const PRINCIPAL = 'bench-sp';
const DOMAIN = 'bench.example.com';
const MAIN_UPN = `bench@${DOMAIN}`;
const PLAIN_UPN = `plain@${DOMAIN}`;
/** Hard limit for the whole run. */
const RUN_LIMIT_MS = 90 * 60_000;

const log = (text: string): void => void process.stderr.write(`[bench] ${text}\n`);

/* ---------------------------------------------------------------------------------------------------- */
/* Child processes                                                                                       */
/* ---------------------------------------------------------------------------------------------------- */

class Children {
  private readonly children: Array<{ name: string; child: ChildProcess }> = [];

  add(name: string, child: ChildProcess): ChildProcess {
    this.children.push({ name, child });
    return child;
  }

  /** Graceful stop, newest first (SIGTERM, then SIGKILL after 3 s). */
  async stopAll(): Promise<void> {
    for (const { child } of [...this.children].reverse()) await stopChild(child, 3000);
  }

  /** Last resort on process exit: SIGKILL whatever still runs. */
  killAll(): void {
    for (const { child } of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

/** Copies a child's output lines to stderr with a prefix (never to stdout: `--json` owns the last stdout line). */
function relayOutput(name: string, child: ChildProcess, maxLines = 200): void {
  let lines = 0;
  const relay = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      lines++;
      if (lines <= maxLines) process.stderr.write(`[${name}] ${line.slice(0, 2000)}\n`);
      else if (lines === maxLines + 1) process.stderr.write(`[${name}] (further output not shown)\n`);
    }
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
}

/** A compiled file next to this one (`dist/dev/...`): `relative` to this file's directory. */
function builtFile(relative: string): string {
  const file = path.join(__dirname, relative);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return file;
}

async function startSimulatorProcess(children: Children): Promise<{ url: string; pid: number }> {
  const child = children.add(
    'simulator',
    spawn(process.execPath, [builtFile('../m365-simulator/cli.js'), '--port', '0', '--host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: PROJECT_ROOT,
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the simulator did not start within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /listening on (https:\/\/\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the simulator exited with ${code}:\n${out}`));
    });
  });
  relayOutput('simulator', child, 50);
  return { url, pid: child.pid ?? 0 };
}

async function startCosmosProcess(
  children: Children,
  patchQueries: boolean,
): Promise<{ ipc: IpcClient; endpoint: string; key: string; queryEnginePatched: boolean }> {
  const child = children.add(
    'cosmos',
    fork(builtFile('cosmos-process.js'), patchQueries ? [] : ['--unpatched'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      cwd: PROJECT_ROOT,
    }),
  );
  relayOutput('cosmos', child, 50);
  const info = await IpcClient.waitReady(child, 'the Cosmos stand-in', 30_000);
  return {
    ipc: new IpcClient(child, 'cosmos stand-in'),
    endpoint: String(info['endpoint']),
    key: String(info['key']),
    queryEnginePatched: info['queryEnginePatched'] === true,
  };
}

async function startWorker(
  children: Children,
  settings: Record<string, string>,
  cpuProfDir: string | undefined,
): Promise<{ ipc: IpcClient; info: Record<string, unknown> }> {
  const child = children.add(
    'worker',
    fork(builtFile('worker.js'), [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...settings },
      execArgv: ['--expose-gc', ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [])],
      cwd: PROJECT_ROOT,
    }),
  );
  relayOutput('worker', child);
  const info = await IpcClient.waitReady(child, 'the sync worker', 60_000);
  return { ipc: new IpcClient(child, 'sync worker'), info };
}

/* ---------------------------------------------------------------------------------------------------- */
/* Simulator control API                                                                                 */
/* ---------------------------------------------------------------------------------------------------- */

function simControl(baseUrl: string) {
  return async <T = unknown>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${baseUrl}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`simulator ${method} ${route} answered ${response.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

type Control = ReturnType<typeof simControl>;

interface SimApp {
  appId: string;
  tenantId: string;
  secrets: Array<{ id: string; value: string }>;
}

/** Graph requests of a counters snapshot, by what they were for. */
export function graphCounts(counters: SimCounters): GraphCounts {
  const counts: GraphCounts = { total: counters.totalGraphRequests, delta: 0, attachments: 0, folders: 0, other: 0 };
  for (const [route, n] of Object.entries(counters.requestsByRoute)) {
    if (!/^[A-Z]+ \/v1\.0\//.test(route)) continue; // Entra ID, Key Vault, control
    if (route.includes('/attachments')) counts.attachments += n;
    else if (route.includes('/delta')) counts.delta += n;
    else if (route.includes('/mailFolders') || route.includes('/mailfolders')) counts.folders += n;
    else counts.other += n;
  }
  return counts;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Measurement helpers                                                                                   */
/* ---------------------------------------------------------------------------------------------------- */

function storeWrites(counters: CosmosCounters): { total: number; byContainer: Record<string, number> } {
  const byContainer: Record<string, number> = {};
  let total = 0;
  for (const [container, kinds] of Object.entries(counters.byContainer)) {
    let writes = 0;
    for (const kind of WRITE_KINDS) writes += kinds[kind]?.documents ?? kinds[kind]?.count ?? 0;
    if (writes > 0) byContainer[container] = writes;
    total += writes;
  }
  return { total, byContainer };
}

class CpuMeter {
  private start = new Map<string, number>();
  private startedAt = 0;
  private parentStart = process.cpuUsage();
  private machineStart = 0;

  constructor(private readonly pids: Record<string, number>) {}

  begin(): void {
    this.startedAt = performance.now();
    this.parentStart = process.cpuUsage();
    this.machineStart = machineBusyCpuMs() ?? 0;
    this.start = new Map(Object.entries(this.pids).map(([name, pid]) => [name, processCpuMs(pid) ?? 0]));
  }

  end(): CpuShare[] {
    const wallMs = performance.now() - this.startedAt;
    const shares: CpuShare[] = Object.entries(this.pids).map(([name, pid]) => {
      const cpuMs = (processCpuMs(pid) ?? 0) - (this.start.get(name) ?? 0);
      return { process: name, cpuSeconds: cpuMs / 1000, utilisation: wallMs > 0 ? cpuMs / wallMs : 0 };
    });
    const parent = process.cpuUsage(this.parentStart);
    const parentMs = (parent.user + parent.system) / 1000;
    shares.push({
      process: 'orchestrator',
      cpuSeconds: parentMs / 1000,
      utilisation: wallMs > 0 ? parentMs / wallMs : 0,
    });
    // Everything else on the machine (other work competing for the same cores).
    const machineMs = (machineBusyCpuMs() ?? 0) - this.machineStart;
    const oursMs = shares.reduce((sum, share) => sum + share.cpuSeconds * 1000, 0);
    const othersMs = Math.max(0, machineMs - oursMs);
    shares.push({
      process: 'other processes',
      cpuSeconds: othersMs / 1000,
      utilisation: wallMs > 0 ? othersMs / wallMs : 0,
    });
    return shares;
  }
}

async function countCommunications(database: Database, emailAccount: string, withAttachments = false): Promise<number> {
  const query = {
    query:
      'SELECT VALUE COUNT(1) FROM c WHERE c.emailAccount = @a AND c.docType = @t' +
      (withAttachments ? ' AND ARRAY_LENGTH(c.attachments) > 0' : ''),
    parameters: [
      { name: '@a', value: emailAccount },
      { name: '@t', value: 'communication' },
    ],
  };
  const { resources } = await database.container('communications').items.query<number>(query).fetchAll();
  return resources.reduce((sum, n) => sum + n, 0);
}

/** Runs `work` over `count` indexes with at most `concurrency` in flight. */
async function forEachIndex(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

function fanOutAccount(i: number): NewEmailAccount {
  const n = String(i).padStart(6, '0');
  return {
    accountName: `bench-fanout-${n}`,
    accountType: 'User Mailbox',
    emailAddress: `fan${n}@${DOMAIN}`,
    user: `fan${n}@${DOMAIN}`,
    enabled: true,
    servicePrincipal: PRINCIPAL,
    folderFilter: [],
    autoCreateContact: true,
    syncAttachments: true,
    maxAttachmentSize: 10,
    linkingRules: [],
  };
}

/* ---------------------------------------------------------------------------------------------------- */
/* The benchmark                                                                                         */
/* ---------------------------------------------------------------------------------------------------- */

export async function runBench(args: BenchArgs, children: Children): Promise<BenchMeasurements> {
  readTls(); // fails early with a clear message when the certificate is missing
  if (!process.env['NODE_EXTRA_CA_CERTS']) {
    throw new Error('NODE_EXTRA_CA_CERTS is not set: run through `npm run bench` (it trusts .local/tls/cert.pem)');
  }
  log(
    `mailbox ${args.messages} messages (${Math.round(args.attachmentRate * 100)}% with attachments), ` +
      `plain mailbox ${args.plainMessages}, fan-out ${args.accounts} accounts, +${args.latencyMs} ms per Graph request`,
  );

  // ---- Stand-ins
  // allSettled: when one fails, the others have still registered their processes (stopped on the way out).
  const [cosmosStart, azuriteStart, simStart] = await Promise.allSettled([
    startCosmosProcess(children, !args.unpatchedStore),
    startAzurite().then((a) => {
      children.add('azurite', a.process);
      return a;
    }),
    startSimulatorProcess(children),
  ]);
  for (const start of [cosmosStart, azuriteStart, simStart]) {
    if (start.status === 'rejected') throw start.reason;
  }
  const cosmos = (cosmosStart as PromiseFulfilledResult<Awaited<ReturnType<typeof startCosmosProcess>>>).value;
  const azurite = (azuriteStart as PromiseFulfilledResult<Awaited<ReturnType<typeof startAzurite>>>).value;
  const sim = (simStart as PromiseFulfilledResult<Awaited<ReturnType<typeof startSimulatorProcess>>>).value;
  const control: Control = simControl(sim.url);
  const simHost = new URL(sim.url).host;
  log(`Cosmos ${cosmos.endpoint}, Azurite ${azurite.queueEndpoint}, simulator ${sim.url}`);
  log(
    cosmos.queryEnginePatched
      ? "Cosmos stand-in: query engine's O(n²) FROM scan linearised (see dev/local-stack/stand-in-query-patch.ts)"
      : 'Cosmos stand-in: query engine as is (every query O(n²) in the container size)',
  );

  // ---- Simulator: the app's own identity (Key Vault), the customer tenant, its app and mailboxes
  const hostTenant = await control<{ id: string }>('POST', '/_sim/tenants', {
    displayName: 'Bench host',
    domain: 'bench-host.example.com',
  });
  const hostApp = await control<SimApp>('POST', `/_sim/tenants/${hostTenant.id}/apps`, {
    displayName: 'bench host identity',
    roles: [],
    secrets: [{}],
  });
  await control('PUT', '/_sim/keyvault', { tenantId: hostTenant.id });
  const tenant = await control<{ id: string }>('POST', '/_sim/tenants', {
    displayName: 'Bench tenant',
    domain: DOMAIN,
  });
  const app = await control<SimApp>('POST', `/_sim/tenants/${tenant.id}/apps`, {
    displayName: 'bench mail sync',
    roles: ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'],
    secrets: [{}],
  });
  const seededAt = performance.now();
  await control('POST', `/_sim/tenants/${tenant.id}/users`, {
    userPrincipalName: MAIN_UPN,
    displayName: 'Benchmark mailbox',
    mailbox: { seed: 20_000, folders: { Inbox: args.messages }, attachmentRate: args.attachmentRate },
  });
  if (args.plainMessages > 0) {
    await control('POST', `/_sim/tenants/${tenant.id}/users`, {
      userPrincipalName: PLAIN_UPN,
      displayName: 'Benchmark mailbox without attachments',
      mailbox: { seed: 5_000, folders: { Inbox: args.plainMessages }, attachmentRate: 0 },
    });
  }
  log(`simulator seeded in ${((performance.now() - seededAt) / 1000).toFixed(1)} s`);

  // ---- Cosmos: database, principal (through the identity use case: its secret goes to Key Vault), accounts
  const cosmosClient: CosmosClient = createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key });
  const database = await ensureDatabase(cosmosClient, DATABASE);
  const repositories: Repositories = createCosmosRepositories(database, { clock: systemClock });
  const hostCredential = new ClientSecretCredential(hostTenant.id, hostApp.appId, hostApp.secrets[0]?.value ?? '', {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });
  const identity = createIdentityServices({
    keyVaultUrl: sim.url,
    allowedDevHosts: [simHost],
    tokenCacheKeySecretName: 'token-cache-key',
    credential: hostCredential,
    federatedCredential: () => hostCredential,
    servicePrincipals: repositories.servicePrincipals,
    emailAccounts: repositories.emailAccounts,
    logger: silentLogger,
  });
  await makeServicePrincipalUseCases({
    servicePrincipals: repositories.servicePrincipals,
    emailAccounts: repositories.emailAccounts,
    secrets: identity.secrets,
    clock: systemClock,
    logger: silentLogger,
    allowedDevHosts: [simHost],
  }).createServicePrincipal(
    {
      servicePrincipalName: PRINCIPAL,
      tenantId: tenant.id,
      clientId: app.appId,
      clientSecret: app.secrets[0]?.value,
      authorityUrl: `${sim.url}/${tenant.id}`,
      graphApiEndpoint: `${sim.url}/v1.0`,
    },
    'bench',
  );
  const account = (name: string, upn: string): NewEmailAccount => ({
    accountName: name,
    accountType: 'User Mailbox',
    emailAddress: upn,
    user: upn,
    enabled: true,
    servicePrincipal: PRINCIPAL,
    folderFilter: [], // the defaults: Inbox and Sent Items
    autoCreateContact: args.autoCreateContact,
    syncAttachments: true,
    maxAttachmentSize: 10,
    linkingRules: [],
  });
  await repositories.emailAccounts.create(account(MAIN_ACCOUNT, MAIN_UPN));
  if (args.plainMessages > 0) await repositories.emailAccounts.create(account(PLAIN_ACCOUNT, PLAIN_UPN));

  // ---- Storage
  const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  await queues.getQueueClient(SYNC_QUEUE).createIfNotExists();
  await queues.getQueueClient(FANOUT_QUEUE).createIfNotExists();
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient('attachments')
    .createIfNotExists();

  // ---- The worker, with the app settings production would have
  const settings: Record<string, string> = {
    COSMOS_ENDPOINT: cosmos.endpoint,
    COSMOS_KEY: cosmos.key,
    COSMOS_DATABASE: DATABASE,
    AzureWebJobsStorage: azurite.connectionString,
    KEY_VAULT_URL: sim.url,
    AZURE_TENANT_ID: hostTenant.id,
    AZURE_CLIENT_ID: hostApp.appId,
    AZURE_CLIENT_SECRET: hostApp.secrets[0]?.value ?? '',
    AZURE_AUTHORITY_HOST: sim.url,
    ALLOWED_DEV_HOSTS: simHost,
    API_AUTH_JWKS_URI: `${sim.url}/common/discovery/v2.0/keys`,
    API_AUTH_ISSUERS: `${sim.url}/${hostTenant.id}/v2.0`,
    API_AUTH_AUDIENCE: 'api://m365-mail-sync-bench',
    SYNC_QUEUE_NAME: SYNC_QUEUE,
    ATTACHMENTS_CONTAINER: 'attachments',
    LOG_LEVEL: 'warn',
  };
  const cpuProfDir = args.cpuProf ? path.join(PROJECT_ROOT, '.local', 'bench-profiles') : undefined;
  if (cpuProfDir) fs.mkdirSync(cpuProfDir, { recursive: true });
  const worker = await startWorker(children, settings, cpuProfDir);
  log(`worker ready (pid ${String(worker.info['pid'])}, ${String(worker.info['rssMb'])} MB)`);
  const wiring = (worker.info['wiring'] ?? {}) as Record<string, string>;
  for (const [what, how] of Object.entries(wiring)) log(`  ${what}: ${how}`);

  const cpu = new CpuMeter({
    worker: worker.ipc.child.pid ?? 0,
    cosmos: cosmos.ipc.child.pid ?? 0,
    simulator: sim.pid,
    azurite: azurite.process.pid ?? 0,
  });
  const resetCounters = async (): Promise<void> => {
    await control('POST', '/_sim/counters/reset');
    await cosmos.ipc.call('reset');
  };
  const readCounters = async (): Promise<{ sim: SimCounters; store: CosmosCounters }> => ({
    sim: await control<SimCounters>('GET', '/_sim/counters'),
    store: await cosmos.ipc.call<CosmosCounters>('counters'),
  });
  const syncLimitMs = 60 * 60_000;

  // ---- 20 ms on every Graph request (a rule without `route` applies to Graph only; rate 0: no failures)
  await control('PUT', '/_sim/faults', { seed: 1, rules: [{ rate: 0, latencyMs: args.latencyMs }] });

  // ---- 1. Initial sync
  log(`initial sync of ${args.messages} messages…`);
  await resetCounters();
  cpu.begin();
  const initial = await worker.ipc.call<SyncFigures>(
    'sync',
    { emailAccount: MAIN_ACCOUNT, reason: 'scheduled', maxSeconds: syncLimitMs / 1000 },
    syncLimitMs + 60_000,
  );
  const initialCpu = cpu.end();
  const initialCounters = await readCounters();
  const stored = await countCommunications(database, MAIN_ACCOUNT);
  const storedWithAttachments = await countCommunications(database, MAIN_ACCOUNT, true).catch(() => -1);
  log(
    `initial sync: ${initial.status}, ${initial.totals.created} created in ${(initial.durationMs / 1000).toFixed(1)} s ` +
      `(${initial.runs} run(s)), ${stored} stored`,
  );

  // ---- 2. Incremental cycle with no changes
  log('incremental cycle (no changes)…');
  await resetCounters();
  const incremental = await worker.ipc.call<SyncFigures>(
    'sync',
    { emailAccount: MAIN_ACCOUNT, reason: 'scheduled', maxSeconds: 600 },
    660_000,
  );
  const incrementalCounters = await readCounters();

  // ---- 3. The mailbox without attachments (Graph requests per 1,000 messages without attachments)
  let plain: { figures: SyncFigures; counters: { sim: SimCounters; store: CosmosCounters } } | undefined;
  if (args.plainMessages > 0) {
    log(`initial sync of the mailbox without attachments (${args.plainMessages} messages)…`);
    await resetCounters();
    const figures = await worker.ipc.call<SyncFigures>(
      'sync',
      { emailAccount: PLAIN_ACCOUNT, reason: 'scheduled', maxSeconds: syncLimitMs / 1000 },
      syncLimitMs + 60_000,
    );
    plain = { figures, counters: await readCounters() };
  }

  // ---- 4. Fan-out over N enabled accounts (inserted concurrently, not timed)
  log(`inserting ${args.accounts} accounts for the fan-out…`);
  for (const name of [MAIN_ACCOUNT, PLAIN_ACCOUNT]) {
    if (name === PLAIN_ACCOUNT && args.plainMessages === 0) continue;
    await repositories.emailAccounts.update(name, (current) => ({ ...current, enabled: false }));
  }
  const insertStarted = performance.now();
  const insertDeadline = Date.now() + 20 * 60_000;
  await forEachIndex(args.accounts, 32, async (i) => {
    if (Date.now() > insertDeadline) throw new Error('inserting the fan-out accounts took longer than 20 minutes');
    await repositories.emailAccounts.create(fanOutAccount(i));
  });
  const insertSeconds = (performance.now() - insertStarted) / 1000;
  log(`accounts inserted in ${insertSeconds.toFixed(1)} s; fan-out…`);
  await resetCounters();
  const fanOut = await worker.ipc.call<FanOutFigures>('fanOut', { queueName: FANOUT_QUEUE }, 30 * 60_000);
  const fanOutCounters = await readCounters();
  const queueProperties = await queues.getQueueClient(FANOUT_QUEUE).getProperties();

  // ---- 5. The store's raw upsert rate (same repository, same write concurrency, same document sizes);
  // last, because building N documents in memory raises the worker's RSS for the rest of its life
  const rawCount = Math.max(500, initial.totals.created);
  log(`raw store upserts (${rawCount})…`);
  await resetCounters();
  cpu.begin();
  const raw = await worker.ipc.call<RawUpsertFigures>(
    'rawUpserts',
    { sampleAccount: MAIN_ACCOUNT, targetAccount: RAW_PARTITION, count: rawCount },
    30 * 60_000,
  );
  const rawCpu = cpu.end();
  const rawCounters = await readCounters();

  // Let the worker exit on its own (a CPU profile is written at exit), then the others are stopped.
  const workerExited = new Promise<void>((resolve) => {
    if (worker.ipc.child.exitCode !== null) resolve();
    else worker.ipc.child.once('exit', () => resolve());
  });
  await worker.ipc.call('exit').catch(() => undefined);
  await Promise.race([workerExited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  cosmosClient.dispose();

  return {
    args,
    wiring,
    storeQueryEnginePatched: cosmos.queryEnginePatched,
    initial,
    initialCpu,
    initialGraph: graphCounts(initialCounters.sim),
    initialPeakConcurrency: initialCounters.sim.peakConcurrencyByMailbox[MAIN_UPN] ?? 0,
    initialThrottled: initialCounters.sim.throttled,
    initialStore: { ...storeWrites(initialCounters.store), counters: initialCounters.store },
    stored,
    storedWithAttachments,
    incremental,
    incrementalGraph: graphCounts(incrementalCounters.sim),
    incrementalPeakConcurrency: incrementalCounters.sim.peakConcurrencyByMailbox[MAIN_UPN] ?? 0,
    ...(plain
      ? {
          plain: {
            figures: plain.figures,
            graph: graphCounts(plain.counters.sim),
            peakConcurrency: plain.counters.sim.peakConcurrencyByMailbox[PLAIN_UPN] ?? 0,
            storeWrites: storeWrites(plain.counters.store).total,
          },
        }
      : {}),
    raw,
    rawCpu,
    rawStoreWrites: storeWrites(rawCounters.store).total,
    fanOut,
    fanOutQueueCount: queueProperties.approximateMessagesCount ?? 0,
    fanOutStore: fanOutCounters.store,
    accountsInsertSeconds: insertSeconds,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`npm run bench: ${error.message}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const children = new Children();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: stopping…`);
    void children.stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => children.killAll());
  const limit = setTimeout(() => {
    log(`the benchmark ran longer than ${RUN_LIMIT_MS / 60_000} minutes: stopping`);
    void children.stopAll().finally(() => process.exit(1));
  }, RUN_LIMIT_MS);
  limit.unref();

  try {
    const measurements = await runBench(args, children);
    const report = buildReport(measurements);
    process.stdout.write(`${formatTable(report)}\n`);
    if (args.json) process.stdout.write(`${JSON.stringify(report.json)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(
      `npm run bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  } finally {
    clearTimeout(limit);
    await children.stopAll();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
