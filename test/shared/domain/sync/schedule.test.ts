/**
 * The fan-out (`schedule-mailbox-sync`), the queue message schema, manual requests and the log cleanup.
 */
import { createInMemoryRepositories } from '../../../support/in-memory-repositories';
import { silentLogger } from '../../../../shared/domain/ports/logger';
import type { WorkQueue } from '../../../../shared/domain/ports/work-queue';
import {
  cleanupSyncLogs,
  parseMailboxSyncMessage,
  requestMailboxSync,
  scheduleMailboxSync,
  type MailboxSyncMessage,
} from '../../../../shared/domain/sync';
import { FakeClock, FakeQueue } from './fakes';
import { newSyncLog } from '../../adapters/cosmos/fixtures';

async function principals(repos: ReturnType<typeof createInMemoryRepositories>) {
  const base = {
    tenantId: '11111111-1111-4111-8111-111111111111',
    clientId: '22222222-2222-4222-8222-222222222222',
    cloud: 'global' as const,
    authorityUrl: 'https://login.microsoftonline.com/11111111-1111-4111-8111-111111111111',
    graphApiEndpoint: 'https://graph.microsoft.com',
    credential: { kind: 'clientSecret' as const, secretRef: { name: 's' } },
    scopes: 'https://graph.microsoft.com/.default',
  };
  await repos.servicePrincipals.create({ ...base, servicePrincipalName: 'Live', enabled: true });
  await repos.servicePrincipals.create({ ...base, servicePrincipalName: 'Off', enabled: false });
}

const account = (name: string, principal: string, extra: Record<string, unknown> = {}) => ({
  accountName: name,
  accountType: 'User Mailbox' as const,
  emailAddress: `${name.toLowerCase().replace(/\s/g, '.')}@contoso.example`,
  user: 'u@contoso.example',
  enabled: true,
  servicePrincipal: principal,
  folderFilter: [],
  autoCreateContact: false,
  syncAttachments: false,
  maxAttachmentSize: 10,
  ...extra,
});

describe('scheduleMailboxSync', () => {
  it('enqueues enabled accounts of enabled principals, skipping live leases and throttled accounts', async () => {
    const clock = new FakeClock();
    const repos = createInMemoryRepositories({ clock });
    await principals(repos);
    const later = new Date(clock.now().getTime() + 60_000).toISOString();
    const earlier = new Date(clock.now().getTime() - 60_000).toISOString();
    await repos.emailAccounts.create(account('A', 'Live'));
    await repos.emailAccounts.create(account('B', 'live')); // principal names are case-insensitive
    await repos.emailAccounts.create(account('Leased', 'Live', { lease: { holder: 'x', expiresAt: later } }));
    await repos.emailAccounts.create(account('Stale lease', 'Live', { lease: { holder: 'x', expiresAt: earlier } }));
    await repos.emailAccounts.create(account('Throttled', 'Live', { throttledUntil: later }));
    await repos.emailAccounts.create(account('Was throttled', 'Live', { throttledUntil: earlier }));
    await repos.emailAccounts.create(account('Disabled', 'Live', { enabled: false }));
    await repos.emailAccounts.create(account('Principal off', 'Off'));
    const queue = new FakeQueue<MailboxSyncMessage>();

    const result = await scheduleMailboxSync({
      emailAccounts: repos.emailAccounts,
      servicePrincipals: repos.servicePrincipals,
      queue,
      clock,
      logger: silentLogger,
    });

    expect(result).toMatchObject({ enqueued: 4, skippedLeased: 1, skippedThrottled: 1, skippedPrincipalDisabled: 1 });
    expect(queue.sent.map((s) => s.message.emailAccount).sort()).toEqual(['A', 'B', 'Stale lease', 'Was throttled']);
    expect(queue.sent[0]!.message).toEqual({
      emailAccount: expect.any(String),
      reason: 'scheduled',
      requestedAt: clock.now().toISOString(),
    });
  });

  it('sends 10,000 accounts in concurrent batches', async () => {
    const clock = new FakeClock();
    const accounts = Array.from({ length: 10_000 }, (_, i) => ({
      accountName: `Account ${i}`,
      servicePrincipal: 'Live',
    }));
    const batches: number[] = [];
    let inFlightBatches = 0;
    let peakBatches = 0;
    const queue: WorkQueue<MailboxSyncMessage> = {
      send: () => Promise.resolve(),
      sendMany: async (messages, options) => {
        inFlightBatches++;
        peakBatches = Math.max(peakBatches, inFlightBatches);
        batches.push(messages.length);
        expect(options?.concurrency).toBe(64);
        await new Promise((resolve) => setImmediate(resolve));
        inFlightBatches--;
      },
    };
    async function* listAll() {
      for (const a of accounts) yield a as never;
      await Promise.resolve();
    }
    async function* listPrincipals() {
      yield { servicePrincipalName: 'Live' } as never;
      await Promise.resolve();
    }
    const result = await scheduleMailboxSync({
      emailAccounts: { listAll },
      servicePrincipals: { listAll: listPrincipals },
      queue,
      clock,
      logger: silentLogger,
    });
    expect(result.enqueued).toBe(10_000);
    expect(batches).toHaveLength(20);
    expect(batches.every((n) => n === 500)).toBe(true);
    expect(peakBatches).toBe(1);
  });

  it('reports a failed send (the timer run fails and is retried next cycle)', async () => {
    const clock = new FakeClock();
    const repos = createInMemoryRepositories({ clock });
    await principals(repos);
    await repos.emailAccounts.create(account('A', 'Live'));
    const queue = new FakeQueue<MailboxSyncMessage>();
    queue.failSends = 1;
    await expect(
      scheduleMailboxSync({
        emailAccounts: repos.emailAccounts,
        servicePrincipals: repos.servicePrincipals,
        queue,
        clock,
        logger: silentLogger,
      }),
    ).rejects.toThrow('queue down');
  });
});

describe('the mailbox-sync queue message', () => {
  it('accepts valid messages (object or JSON text) and ignores unknown fields', () => {
    const valid = { emailAccount: 'Sales', reason: 'manual', requestedAt: '2025-03-01T08:00:00.000Z', extra: 1 };
    expect(parseMailboxSyncMessage(valid)).toEqual({
      ok: true,
      message: { emailAccount: 'Sales', reason: 'manual', requestedAt: '2025-03-01T08:00:00.000Z' },
    });
    expect(parseMailboxSyncMessage(JSON.stringify(valid)).ok).toBe(true);
    expect(parseMailboxSyncMessage(Buffer.from(JSON.stringify(valid))).ok).toBe(true);
  });

  it('rejects malformed messages with field errors (for the worker to log and drop)', () => {
    expect(parseMailboxSyncMessage('not json')).toEqual({
      ok: false,
      errors: [{ field: '(root)', message: 'must be a JSON object' }],
    });
    const bad = parseMailboxSyncMessage({ emailAccount: '', reason: 'later', requestedAt: 'yesterday' });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.errors.map((e) => e.field).sort()).toEqual(['emailAccount', 'reason', 'requestedAt']);
    expect(parseMailboxSyncMessage(null).ok).toBe(false);
  });

  it('requestMailboxSync enqueues a manual request', async () => {
    const clock = new FakeClock();
    const queue = new FakeQueue<MailboxSyncMessage>();
    await requestMailboxSync(queue, clock, 'Sales');
    expect(queue.sent).toEqual([
      { message: { emailAccount: 'Sales', reason: 'manual', requestedAt: clock.now().toISOString() } },
    ]);
  });
});

describe('cleanupSyncLogs', () => {
  it('deletes logs older than 30 days and keeps the rest', async () => {
    const clock = new FakeClock('2025-03-31T04:15:00.000Z');
    const repos = createInMemoryRepositories({ clock });
    const log = (start: string) => newSyncLog('Sales', new Date(start));
    await repos.syncLogs.create(log('2025-02-27T00:00:00.000Z'));
    await repos.syncLogs.create(log('2025-03-01T04:14:00.000Z'));
    await repos.syncLogs.create(log('2025-03-01T04:16:00.000Z'));
    await repos.syncLogs.create(log('2025-03-30T00:00:00.000Z'));

    const result = await cleanupSyncLogs({ syncLogs: repos.syncLogs, clock, logger: silentLogger });

    expect(result).toEqual({ deleted: 2, before: '2025-03-01T04:15:00.000Z' });
    const left = await repos.syncLogs.listForAccount('Sales', { limit: 10 });
    expect(left.items.map((l) => l.syncStartTime)).toEqual(['2025-03-30T00:00:00.000Z', '2025-03-01T04:16:00.000Z']);
  });
});
