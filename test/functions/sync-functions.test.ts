/**
 * The sync functions as the host calls them (handlers invoked directly, with in-memory repositories and a
 * recording queue behind `setSyncServicesForTests`): the worker's error policy (malformed messages dropped,
 * only retryable errors thrown), the schedule fan-out and the sync-log cleanup. The engine itself against the
 * real Graph adapter, Cosmos, Azurite and the host is covered by `test/e2e/sync/`.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import { cleanupSyncLogs } from '../../functions/cleanup-sync-logs';
import { scheduleMailboxSync } from '../../functions/schedule-mailbox-sync';
import { syncMailboxWorker } from '../../functions/sync-mailbox';
import { createSyncServices, setSyncServicesForTests } from '../../shared/adapters/sync-factory';
import type { MailboxSyncMessage } from '../../shared/domain/sync';
import { AppError } from '../../shared/errors';
import { createInMemoryRepositories, type InMemoryRepositories } from '../support/in-memory-repositories';
import { FakeBlobStore, FakeQueue } from '../shared/domain/sync/fakes';
import { newSyncLog } from '../shared/adapters/cosmos/fixtures';

const NOW = '2025-03-01T12:00:00.000Z';
const clock = { now: () => new Date(NOW) };
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

let repos: InMemoryRepositories;
let queue: FakeQueue<MailboxSyncMessage>;
let mailSourceCalls = 0;

function invocation(functionName: string, dequeueCount = 1): { context: InvocationContext; lines: string[] } {
  const lines: string[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: 'test-invocation',
    triggerMetadata: { dequeueCount },
    logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(' ')}`),
  });
  return { context, lines };
}

async function seed(): Promise<void> {
  for (const [name, enabled] of [
    ['Contoso', true],
    ['Fabrikam', false],
  ] as const) {
    await repos.servicePrincipals.create({
      servicePrincipalName: name,
      tenantId: '9e7a1d2b-0000-4000-8000-00000000c0de',
      clientId: '9e7a1d2b-0000-4000-8000-00000000abcd',
      cloud: 'global',
      authorityUrl: 'https://login.microsoftonline.com/9e7a1d2b-0000-4000-8000-00000000c0de',
      graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
      enabled,
      credential: { kind: 'clientSecret', secretRef: { name: `sp-${name.toLowerCase()}` } },
      scopes: 'https://graph.microsoft.com/.default',
    });
  }
  const accounts = [
    { accountName: 'A-enabled', servicePrincipal: 'Contoso', enabled: true },
    { accountName: 'B-enabled', servicePrincipal: 'Contoso', enabled: true },
    { accountName: 'C-disabled', servicePrincipal: 'Contoso', enabled: false },
    { accountName: 'D-principal-disabled', servicePrincipal: 'Fabrikam', enabled: true },
  ];
  for (const [index, a] of accounts.entries()) {
    await repos.emailAccounts.create({
      ...a,
      accountType: 'User Mailbox',
      emailAddress: `user${index}@contoso.test`,
      user: `user${index}@contoso.test`,
      folderFilter: [],
      autoCreateContact: true,
      syncAttachments: true,
      maxAttachmentSize: 10,
      linkingRules: [],
    });
  }
}

beforeEach(async () => {
  repos = createInMemoryRepositories({ clock });
  queue = new FakeQueue();
  mailSourceCalls = 0;
  await seed();
  setSyncServicesForTests(
    createSyncServices({
      repositories: repos,
      queue,
      blobs: new FakeBlobStore(),
      settings: { pageSize: 50, timeBudgetSeconds: 60, leaseSeconds: 120, attachmentsContainer: 'attachments' },
      mailSourceFor: () => {
        mailSourceCalls++;
        throw new Error('no Graph in this test');
      },
      clock,
    }),
  );
});

afterAll(() => {
  setSyncServicesForTests(undefined);
});

describe('sync-mailbox (queue worker)', () => {
  it.each([
    ['text that is not JSON', 'not json at all'],
    ['a JSON array', [1, 2]],
    ['a wrong field type', { emailAccount: 42, reason: 'manual', requestedAt: NOW }],
    ['an unknown reason', { emailAccount: 'A-enabled', reason: 'whenever', requestedAt: NOW }],
    ['a missing requestedAt', { emailAccount: 'A-enabled', reason: 'manual' }],
  ])('logs and drops %s (returns normally: no retry)', async (_kind, message) => {
    const { context, lines } = invocation('sync-mailbox');
    await expect(syncMailboxWorker(message, context)).resolves.toBeUndefined();
    expect(lines.filter((l) => l.startsWith('warning Malformed mailbox-sync message dropped'))).toHaveLength(1);
    expect(lines.join('\n')).toContain('"dequeueCount":1');
    // Nothing was touched: no lease, no Graph.
    expect((await repos.emailAccounts.get('A-enabled'))?.lease).toBeUndefined();
    expect(mailSourceCalls).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('finishes without error for an account that does not exist (skipped, logged)', async () => {
    const { context, lines } = invocation('sync-mailbox');
    await syncMailboxWorker({ emailAccount: 'Nobody', reason: 'manual', requestedAt: NOW }, context);
    expect(lines.join('\n')).toMatch(/Mailbox sync run finished .*"outcome":"skipped","reason":"account-missing"/);
  });

  it('throws a retryable error (the store is down) so the queue retries', async () => {
    repos.emailAccounts.get = () =>
      Promise.reject(new AppError('DEPENDENCY_UNAVAILABLE', 'Azure Cosmos DB is not reachable right now.'));
    const { context } = invocation('sync-mailbox');
    await expect(
      syncMailboxWorker({ emailAccount: 'A-enabled', reason: 'manual', requestedAt: NOW }, context),
    ).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', retryable: true });
  });

  it('logs and swallows a non-retryable error (retrying cannot help)', async () => {
    repos.emailAccounts.get = () => Promise.reject(new TypeError('a bug'));
    const { context, lines } = invocation('sync-mailbox');
    await expect(
      syncMailboxWorker({ emailAccount: 'A-enabled', reason: 'manual', requestedAt: NOW }, context),
    ).resolves.toBeUndefined();
    expect(lines.some((l) => l.startsWith('error Mailbox sync run failed; not retried'))).toBe(true);
  });

  it('records a mail source that cannot be built as a failed account, not a retry', async () => {
    const { context } = invocation('sync-mailbox');
    await syncMailboxWorker({ emailAccount: 'A-enabled', reason: 'manual', requestedAt: NOW }, context);
    expect(mailSourceCalls).toBe(1);
    const account = await repos.emailAccounts.get('A-enabled');
    expect(account).toMatchObject({ lastSyncStatus: 'Failed', syncErrorCode: 'InternalError' });
    expect(account?.lease).toBeUndefined();
  });
});

describe('schedule-mailbox-sync (timer)', () => {
  it('enqueues one scheduled message per enabled account of an enabled principal', async () => {
    const { context } = invocation('schedule-mailbox-sync');
    await scheduleMailboxSync(timer, context);
    expect(queue.sent.map((s) => s.message)).toEqual([
      { emailAccount: 'A-enabled', reason: 'scheduled', requestedAt: NOW },
      { emailAccount: 'B-enabled', reason: 'scheduled', requestedAt: NOW },
    ]);
  });

  it('skips an account whose run holds a live lease', async () => {
    await repos.emailAccounts.update('A-enabled', (a) => ({
      ...a,
      lease: { holder: 'run-1', expiresAt: '2025-03-01T12:05:00.000Z' },
    }));
    await scheduleMailboxSync(timer, invocation('schedule-mailbox-sync').context);
    expect(queue.sent.map((s) => s.message.emailAccount)).toEqual(['B-enabled']);
  });
});

describe('cleanup-sync-logs (timer)', () => {
  it('deletes sync logs older than 30 days and keeps newer ones', async () => {
    const log = (start: string) => newSyncLog('A-enabled', new Date(start));
    await repos.syncLogs.create(log('2025-01-15T00:00:00.000Z'));
    await repos.syncLogs.create(log('2025-01-29T11:00:00.000Z'));
    await repos.syncLogs.create(log('2025-02-20T00:00:00.000Z'));
    await cleanupSyncLogs(timer, invocation('cleanup-sync-logs').context);
    const left = await repos.syncLogs.listForAccount('A-enabled', { limit: 10 });
    expect(left.items.map((l) => l.syncStartTime)).toEqual(['2025-02-20T00:00:00.000Z']);
  });
});
