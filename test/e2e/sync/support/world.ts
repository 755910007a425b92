/**
 * The end-to-end sync world: the M365 simulator (Entra ID, Graph mail, Key Vault) in the test process, a Cosmos
 * database, a queue and a blob container of its own on the embedded stack, and the local functions host running
 * the real function registrations in a **child process** (so a test can SIGKILL it mid-sync).
 *
 * Set-up goes through the simulator's control API (tenant, app with a secret and Mail.Read / User.Read.All /
 * MailboxSettings.Read, mailboxes) and through the API served by the host (service principal, accounts).
 *
 *   const world = await startSyncWorld('main');
 *   const alice = await world.addMailbox('alice', { Inbox: 300 });
 *   await world.syncNow('M365-alice@...');            // a queue message, then wait until the account is idle
 *   await world.expectStoreEqualsMailbox(account, alice.upn, ['Inbox']);
 *   await world.stop();
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CosmosClient, Database } from '@azure/cosmos';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { createCosmosClient, createCosmosRepositories, ensureDatabase } from '../../../../shared/adapters/cosmos';
import { StorageWorkQueue } from '../../../../shared/adapters/queue/storage-work-queue';
import { systemClock } from '../../../../shared/domain/ports/clock';
import type { Repositories } from '../../../../shared/domain/ports/repositories';
import type { CommunicationRecord, EmailAccountRecord } from '../../../../shared/domain/records';
import type { MailboxSyncMessage } from '../../../../shared/domain/sync';
import type { MailboxSeed, SimCounters, StartedSimulator } from '../../../../dev/m365-simulator/contract';
import { startSimulator } from '../../../../dev/m365-simulator/server';
import { startHostProcess, type HostProcess } from '../../../support/functions-host-process';
import { testStack, uniqueName } from '../../../support/stack';

const ROOT = path.resolve(__dirname, '../../../..');
const AUDIENCE = 'api://m365-mail-sync-e2e';
const NEVER = '0 0 0 1 1 *';

/** The function files the host loads: the sync engine's and the API routes the tests call. */
export const HOST_MODULES = [
  'sync-mailbox',
  'schedule-mailbox-sync',
  'cleanup-sync-logs',
  'email-account-folders-list',
  'communication-attachment-get',
  'communication-get',
  'communications-list',
  'email-account-get',
  'email-account-sync',
  'email-accounts-enable-sync',
  'shared-mailbox-create',
  'service-principal-create',
].map((name) => path.join(ROOT, 'functions', `${name}.ts`));

export type { HostProcess };

export interface ApiResult {
  status: number;
  headers: Headers;
  bytes: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  json: any;
}

export interface SimMessage {
  id: string;
  immutableId: string;
  subject: string;
  receivedDateTime: string;
  isRead: boolean;
  folder: string;
}

export interface Mailbox {
  upn: string;
  id: string;
}

export interface SyncWorld {
  sim: StartedSimulator;
  tenantId: string;
  domain: string;
  appId: string;
  database: Database;
  repos: Repositories;
  queueName: string;
  queue: QueueClient;
  poisonQueue: QueueClient;
  workQueue: StorageWorkQueue<MailboxSyncMessage>;
  attachmentsContainer: string;
  host: HostProcess;
  adminUpn: string;
  /** Starts another host (after a kill), with the same settings. */
  startHost(options?: { queueLeaseMs?: number }): Promise<HostProcess>;
  control<T = unknown>(method: string, pathAndQuery: string, body?: unknown): Promise<T>;
  counters(): Promise<SimCounters>;
  resetCounters(): Promise<void>;
  /** A user token for the API (roles `SystemManager`, `InboxUser`). */
  token(username: string, roles?: string[]): Promise<string>;
  api(method: string, pathAndQuery: string, options?: { token?: string; body?: unknown }): Promise<ApiResult>;
  /** `POST /api/service-principals` for the world's app, with a fresh secret of it unless `clientSecret` is given. */
  createServicePrincipal(token: string, name: string, options?: { clientSecret?: string }): Promise<ApiResult>;
  /** `POST /api/email-accounts/enable-sync` as the token's user: expects 201, returns the new account's name. */
  enableSync(token: string, body: Record<string, unknown>): Promise<string>;
  /** A directory user with a mailbox seeded with `folders` (name → message count). */
  addMailbox(
    alias: string,
    folders: Record<string, number>,
    options?: { userPurpose?: 'user' | 'shared'; attachmentRate?: number; seed?: number },
  ): Promise<Mailbox>;
  /** Delivers one message (Graph-shaped) into a folder; returns its immutable id. */
  deliver(upn: string, folder: string, message: Record<string, unknown>): Promise<string>;
  messages(upn: string, folder: string): Promise<SimMessage[]>;
  communications(accountName: string): Promise<CommunicationRecord[]>;
  account(accountName: string): Promise<EmailAccountRecord>;
  /** Sends `mailbox-sync` messages for the account and waits until it is idle again. */
  syncNow(accountName: string, options?: { copies?: number; timeoutMs?: number }): Promise<{ ms: number }>;
  /** Waits until the account has been written since `since`, holds no lease, is not In Progress, and the queue is empty. */
  waitForIdle(accountName: string, since: number, timeoutMs?: number): Promise<void>;
  /** The store equals the mailbox: one live communication per message of the synced folders, in its folder. */
  expectStoreEqualsMailbox(accountName: string, upn: string, folders: string[]): Promise<CommunicationRecord[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export async function startSyncWorld(name: string, hostOptions: { queueLeaseMs?: number } = {}): Promise<SyncWorld> {
  const stack = testStack();
  const sim = await startSimulator({
    tls: { cert: fs.readFileSync(stack.tlsCertPath), key: fs.readFileSync(stack.tlsKeyPath) },
  });
  const simHost = new URL(sim.url).host;

  async function control<T = unknown>(method: string, pathAndQuery: string, body?: unknown): Promise<T> {
    const response = await fetch(`${sim.url}${pathAndQuery}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${pathAndQuery} → ${response.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  // The Function App's own identity (Key Vault access) lives in a "host" tenant, which is also the vault's.
  const hostTenant = await control<{ id: string }>('POST', '/_sim/tenants', { displayName: 'Host' });
  const hostApp = await control<{ appId: string; secrets: Array<{ value: string }> }>(
    'POST',
    `/_sim/tenants/${hostTenant.id}/apps`,
    { displayName: 'm365-mail-sync host', roles: [], secrets: [{}] },
  );
  await control('PUT', '/_sim/keyvault', { tenantId: hostTenant.id });

  // The customer tenant and the app the service principal stands for.
  const domain = `${name}-${Math.random().toString(36).slice(2, 8)}.example.com`;
  const tenant = await control<{ id: string }>('POST', '/_sim/tenants', { displayName: `Contoso ${name}`, domain });
  const app = await control<{ appId: string; secrets: Array<{ value: string }> }>(
    'POST',
    `/_sim/tenants/${tenant.id}/apps`,
    {
      displayName: 'Contoso mail sync',
      roles: ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'],
      secrets: [{}],
    },
  );

  const cosmos: CosmosClient = createCosmosClient({ endpoint: stack.cosmosEndpoint, key: stack.cosmosKey });
  const database = await ensureDatabase(cosmos, uniqueName(`e2e${name}`));
  const repos = createCosmosRepositories(database, { clock: systemClock });
  const queues = QueueServiceClient.fromConnectionString(stack.storageConnectionString);
  const queueName = uniqueName(`sync${name}`);
  const queue = queues.getQueueClient(queueName);
  await queue.createIfNotExists();
  const poisonQueue = queues.getQueueClient(`${queueName}-poison`);
  const workQueue = new StorageWorkQueue<MailboxSyncMessage>(queue);
  const attachmentsContainer = uniqueName(`att${name}`);

  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    NODE_EXTRA_CA_CERTS: stack.tlsCertPath,
    COSMOS_ENDPOINT: stack.cosmosEndpoint,
    COSMOS_KEY: stack.cosmosKey,
    COSMOS_DATABASE: database.id,
    AzureWebJobsStorage: stack.storageConnectionString,
    KEY_VAULT_URL: sim.url,
    AZURE_TENANT_ID: hostTenant.id,
    AZURE_CLIENT_ID: hostApp.appId,
    AZURE_CLIENT_SECRET: hostApp.secrets[0]!.value,
    AZURE_AUTHORITY_HOST: sim.url,
    ALLOWED_DEV_HOSTS: simHost,
    SYNC_SCHEDULE: NEVER,
    REFRESH_TOKENS_SCHEDULE: NEVER,
    VALIDATE_PRINCIPALS_SCHEDULE: NEVER,
    CLEANUP_SYNC_LOGS_SCHEDULE: NEVER,
    SYNC_QUEUE_NAME: queueName,
    SYNC_PAGE_SIZE: '50',
    SYNC_TIME_BUDGET_SECONDS: '20',
    SYNC_LEASE_SECONDS: '30',
    ATTACHMENTS_CONTAINER: attachmentsContainer,
    API_AUTH_JWKS_URI: `${sim.url}/common/discovery/v2.0/keys`,
    API_AUTH_ISSUERS: `${sim.url}/${tenant.id}/v2.0`,
    API_AUTH_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'info',
  };

  const hosts: HostProcess[] = [];
  async function startHost(options: { queueLeaseMs?: number } = {}): Promise<HostProcess> {
    const host = await startHostProcess({
      options: {
        modules: HOST_MODULES,
        timers: false,
        logLevel: 'info',
        stopGraceMs: 2000,
        queues: { visibilityTimeoutMs: 1000, maxPollingIntervalMs: 200, batchSize: 16, newBatchThreshold: 8 },
        queueLeaseMs: options.queueLeaseMs ?? hostOptions.queueLeaseMs ?? 120_000,
      },
      env,
      cwd: ROOT,
    });
    hosts.push(host);
    return host;
  }

  const world: SyncWorld = {
    sim,
    tenantId: tenant.id,
    domain,
    appId: app.appId,
    database,
    repos,
    queueName,
    queue,
    poisonQueue,
    workQueue,
    attachmentsContainer,
    host: await startHost(),
    adminUpn: `admin@${domain}`,
    startHost: async (options) => {
      world.host = await startHost(options);
      return world.host;
    },
    control,
    counters: () => control<SimCounters>('GET', '/_sim/counters'),
    resetCounters: async () => {
      await control('POST', '/_sim/counters/reset');
    },
    token: async (username, roles = []) =>
      (
        await control<{ accessToken: string }>('POST', `/_sim/tenants/${tenant.id}/user-tokens`, {
          audience: AUDIENCE,
          preferredUsername: username,
          roles,
        })
      ).accessToken,
    api: async (method, pathAndQuery, options = {}) => {
      const response = await fetch(`${world.host.apiUrl}${pathAndQuery}`, {
        method,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      const type = response.headers.get('content-type') ?? '';
      const json: unknown = /json/.test(type) && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined;
      return { status: response.status, headers: response.headers, bytes, json };
    },
    createServicePrincipal: async (token, name, options = {}) => {
      const clientSecret =
        options.clientSecret ??
        (await control<{ value: string }>('POST', `/_sim/tenants/${tenant.id}/apps/${app.appId}/secrets`, {})).value;
      return world.api('POST', '/service-principals', {
        token,
        body: {
          servicePrincipalName: name,
          tenantId: tenant.id,
          clientId: app.appId,
          clientSecret,
          authorityUrl: `${sim.url}/${tenant.id}`,
          graphApiEndpoint: `${sim.url}/v1.0`,
        },
      });
    },
    enableSync: async (token, body) => {
      const enabled = await world.api('POST', '/email-accounts/enable-sync', { token, body });
      expect(enabled.status).toBe(201);
      return enabled.json.accountName as string;
    },
    addMailbox: async (alias, folders, options = {}) => {
      const upn = `${alias}@${domain}`;
      const mailbox: MailboxSeed = {
        seed: options.seed ?? alias.length * 7919,
        folders,
        attachmentRate: options.attachmentRate ?? 0,
        since: '2025-06-01T00:00:00Z',
      };
      const user = await control<{ id: string }>('POST', `/_sim/tenants/${tenant.id}/users`, {
        userPrincipalName: upn,
        displayName: alias,
        userPurpose: options.userPurpose ?? 'user',
        mailbox,
      });
      return { upn, id: user.id };
    },
    deliver: async (upn, folder, message) => {
      const created = await control<{ immutableIds: string[] }>(
        'POST',
        `/_sim/mailboxes/${encodeURIComponent(upn)}/messages`,
        { folder, message },
      );
      return created.immutableIds[0]!;
    },
    messages: async (upn, folder) =>
      (
        await control<{ value: SimMessage[] }>(
          'GET',
          `/_sim/mailboxes/${encodeURIComponent(upn)}/messages?folder=${encodeURIComponent(folder)}&top=10000`,
        )
      ).value,
    communications: async (accountName) => {
      const { resources } = await database
        .container('communications')
        .items.query<CommunicationRecord>({
          query: 'SELECT * FROM c WHERE c.emailAccount = @a AND c.docType = @t',
          parameters: [
            { name: '@a', value: accountName },
            { name: '@t', value: 'communication' },
          ],
        })
        .fetchAll();
      return resources;
    },
    account: async (accountName) => {
      const account = await repos.emailAccounts.get(accountName);
      if (!account) throw new Error(`no account ${accountName}`);
      return account;
    },
    syncNow: async (accountName, options = {}) => {
      const since = Date.now();
      const message: MailboxSyncMessage = {
        emailAccount: accountName,
        reason: 'manual',
        requestedAt: new Date().toISOString(),
      };
      await Promise.all(Array.from({ length: options.copies ?? 1 }, () => workQueue.send(message)));
      await world.waitForIdle(accountName, since, options.timeoutMs);
      return { ms: Date.now() - since };
    },
    waitForIdle: async (accountName, since, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const account = await repos.emailAccounts.get(accountName);
        const touched = account?.updatedAt !== undefined && Date.parse(account.updatedAt) >= since;
        if (touched && !account?.lease && account?.lastSyncStatus !== 'In Progress') {
          const { approximateMessagesCount } = await queue.getProperties();
          if ((approximateMessagesCount ?? 0) === 0) return;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `account ${accountName} not idle after ${timeoutMs} ms (status ${account?.lastSyncStatus}, ` +
              `lease ${JSON.stringify(account?.lease)}, error ${account?.syncErrorCode}: ${account?.syncErrorMessage})\n` +
              world.host.lines().slice(-40).join('\n'),
          );
        }
        await sleep(100);
      }
    },
    expectStoreEqualsMailbox: async (accountName, upn, folders) => {
      const stored = await world.communications(accountName);
      // Exactly once: one document per Graph message.
      const graphIds = stored.map((c) => c.graphMessageId);
      expect(new Set(graphIds).size).toBe(graphIds.length);
      expect(new Set(stored.map((c) => c.id)).size).toBe(stored.length);

      const inMailbox = new Map<string, SimMessage>();
      for (const folder of folders) for (const m of await world.messages(upn, folder)) inMailbox.set(m.immutableId, m);
      const live = stored.filter((c) => !c.removedInM365);
      const liveIds = new Set(live.map((c) => c.graphMessageId));
      const missing = [...inMailbox.keys()].filter((id) => !liveIds.has(id));
      const extra = live.filter((c) => !inMailbox.has(c.graphMessageId)).map((c) => `${c.folder}: ${c.subject}`);
      expect({ missing: missing.length, extra }).toEqual({ missing: 0, extra: [] });
      const mismatched = live
        .map((c) => ({ c, m: inMailbox.get(c.graphMessageId)! }))
        .filter(
          ({ c, m }) =>
            c.folder.toLowerCase() !== m.folder.toLowerCase() || c.subject !== m.subject || c.seen !== m.isRead,
        )
        .map(({ c, m }) => `${c.folder}/${c.subject}/${c.seen} ≠ ${m.folder}/${m.subject}/${m.isRead}`);
      expect(mismatched).toEqual([]);
      // What is no longer in the synced folders is kept, marked removed.
      for (const c of stored.filter((s) => s.removedInM365)) expect(inMailbox.has(c.graphMessageId)).toBe(false);
      return stored;
    },
    stop: async () => {
      await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
      await Promise.all([queue.deleteIfExists(), poisonQueue.deleteIfExists()].map((p) => p.catch(() => undefined)));
      await database.delete().catch(() => undefined);
      cosmos.dispose();
      await sim.stop();
    },
  };
  return world;
}

/** The base64 queue message text for arbitrary content (malformed-message tests). */
export const rawQueueText = b64;
