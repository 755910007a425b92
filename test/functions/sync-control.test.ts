/**
 * "Sync now" and sync status through their handlers: requests land on a real (Azurite) queue as messages the
 * worker's schema accepts; requests the worker would only skip are answered at once; status reflects the
 * folder state the sync engine checkpoints. Every response is checked against the OpenAPI document.
 */
import { emailAccountSync } from '../../functions/email-account-sync';
import { emailAccountSyncStatus } from '../../functions/email-account-sync-status';
import { syncOwnAccounts } from '../../functions/sync-own-accounts';
import { syncStatusList } from '../../functions/sync-status-list';
import type { EmailAccountRecord } from '../../shared/domain/records';
import { parseMailboxSyncMessage } from '../../shared/domain/sync/schedule';
import { invokeRoute } from '../support/openapi-contract';
import { TEST_CALLERS } from '../support/api-tokens';
import { ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT, useApiWorld, type ApiWorld } from './api-fixture';
import type { ApiWorldExtras } from './api-world-extras';

// The function files register themselves with `app.http`; let them register with the local stand-in.
jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../dev/functions-host/functions-core'), {
  virtual: true,
});

/** One field of each item of a JSON array. */
const pluck = (items: unknown, key: string): unknown[] => (items as Record<string, unknown>[]).map((item) => item[key]);

const NOW = '2025-03-01T12:00:00.000Z';

let world: ApiWorld;
let extras: ApiWorldExtras;
useApiWorld({ extras: true, resetBeforeEach: true }, (started, withExtras) => {
  world = started;
  extras = withExtras;
});

/** Fresh records with no sync running (the fixture's accounts hold a live lease). */
beforeEach(async () => {
  for (const name of [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT]) await change(name, (a) => void delete a.lease);
});

async function change(name: string, edit: (account: EmailAccountRecord) => void): Promise<void> {
  await world.repos.emailAccounts.update(name, (current) => {
    edit(current);
    return current;
  });
}

describe('POST /api/email-accounts/{name}/sync', () => {
  it('queues exactly one manual request, in the schema the worker reads, and answers 202 with the status URL', async () => {
    const res = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(res.status).toBe(202);
    const statusUrl = `/api/email-accounts/${encodeURIComponent(ALICE_ACCOUNT)}/sync-status`;
    expect(res.json).toEqual({ queued: true, syncing: false, statusUrl });
    expect(res.headers.get('location')).toBe(statusUrl);

    const messages = await extras.drainQueue();
    expect(messages).toHaveLength(1);
    const parsed = parseMailboxSyncMessage(messages[0]);
    expect(parsed).toEqual({ ok: true, message: { emailAccount: ALICE_ACCOUNT, reason: 'manual', requestedAt: NOW } });
  });

  it('answers 200 without queueing while a sync runs (it carries on by itself)', async () => {
    await change(ALICE_ACCOUNT, (a) => (a.lease = { holder: 'worker-1', expiresAt: '2025-03-01T12:05:00.000Z' }));
    const res = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ queued: false, syncing: true });
    // An expired lease is a crashed run: a sync request goes through.
    await change(ALICE_ACCOUNT, (a) => (a.lease = { holder: 'worker-1', expiresAt: '2025-03-01T11:59:59.000Z' }));
    const after = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(after.status).toBe(202);
    expect(await extras.drainQueue()).toHaveLength(1);
  });

  it('refuses a disabled account with 409 and queues nothing', async () => {
    await change(ALICE_ACCOUNT, (a) => (a.enabled = false));
    const res = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'CONFLICT', details: { reason: 'account-disabled' } });
    expect(res.json.detail).toMatch(/turned off/);
    expect(await extras.sideEffects()).toEqual({ secrets: 0, queued: 0 });
  });

  it('refuses with 424 when the service principal is disabled, naming what to do', async () => {
    await change(ALICE_ACCOUNT, (a) => (a.servicePrincipal = 'Fabrikam'));
    const res = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(res.status).toBe(424);
    expect(res.json).toMatchObject({
      code: 'CREDENTIAL_REJECTED',
      details: { servicePrincipal: 'Fabrikam', tokenErrorCode: 'PRINCIPAL_DISABLED', remedy: expect.any(String) },
    });
    expect(await extras.sideEffects()).toEqual({ secrets: 0, queued: 0 });
  });

  it('refuses with 429 and Retry-After while Microsoft Graph throttles the mailbox', async () => {
    await change(ALICE_ACCOUNT, (a) => (a.throttledUntil = '2025-03-01T12:02:00.000Z'));
    const res = await invokeRoute(emailAccountSync, { params: { name: ALICE_ACCOUNT }, token: world.tokens.alice });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('120');
    expect(res.json).toMatchObject({
      code: 'RATE_LIMITED',
      details: { throttledUntil: '2025-03-01T12:02:00.000Z', retryAfterSeconds: 120 },
    });
    expect(await extras.sideEffects()).toEqual({ secrets: 0, queued: 0 });
  });
});

describe('POST /api/sync', () => {
  it("queues each of the caller's enabled accounts and says why others were skipped", async () => {
    // Alice has a second mailbox account (disabled: not synced, not listed) and a throttled third.
    for (const [accountName, enabled] of [
      ['Alice archive', false],
      ['Alice projects', true],
    ] as const) {
      await world.repos.emailAccounts.create({
        accountName,
        accountType: 'User Mailbox',
        emailAddress: `${accountName.split(' ')[1]}@contoso.test`,
        user: TEST_CALLERS.alice.username,
        enabled,
        servicePrincipal: 'Contoso',
        folderFilter: [],
        autoCreateContact: true,
        syncAttachments: true,
        maxAttachmentSize: 10,
        linkingRules: [],
        ...(enabled ? { throttledUntil: '2025-03-01T12:10:00.000Z' } : {}),
      });
    }
    const res = await invokeRoute(syncOwnAccounts, { token: world.tokens.alice });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({
      queued: 1,
      accounts: [ALICE_ACCOUNT],
      skipped: [{ accountName: 'Alice projects', reason: 'throttled', message: expect.stringMatching(/throttling/) }],
      statusUrl: '/api/sync-status',
    });
    const messages = (await extras.drainQueue()).map((m) => parseMailboxSyncMessage(m));
    expect(messages).toEqual([
      { ok: true, message: { emailAccount: ALICE_ACCOUNT, reason: 'manual', requestedAt: NOW } },
    ]);
  });

  it('queues the shared mailboxes a System Manager added; an Inbox User has nothing of their own', async () => {
    const admin = await invokeRoute(syncOwnAccounts, { token: world.tokens.admin });
    expect(admin.json).toMatchObject({ queued: 1, accounts: [SHARED_ACCOUNT], skipped: [] });
    const inbox = await invokeRoute(syncOwnAccounts, { token: world.tokens.inbox });
    expect(inbox.json).toMatchObject({ queued: 0, accounts: [], skipped: [] });
    expect((await extras.drainQueue()).length).toBe(1);
  });
});

describe('sync status', () => {
  it('reflects the folder state: progress and ETA of a first sync, finished folders, errors, the 5 newest logs', async () => {
    await change(ALICE_ACCOUNT, (a) => {
      a.folderFilter = [
        {
          folderName: 'Inbox',
          syncEnabled: true,
          lastSyncTime: '2025-03-01T11:00:00.000Z',
          state: { deltaLink: 'https://graph.microsoft.com/v1.0/delta?$deltatoken=SECRET-DELTA', processed: 40 },
        },
        {
          folderName: 'Archive',
          syncEnabled: true,
          state: {
            nextLink: 'https://graph.microsoft.com/v1.0/next?$skiptoken=SECRET-NEXT',
            processed: 250,
            estimatedTotal: 1000,
            roundStartedAt: '2025-03-01T11:55:00.000Z',
          },
        },
        { folderName: 'Sent Items', syncEnabled: false },
      ];
      a.lastSyncStatus = 'Partial Success';
      a.lastSyncTime = '2025-03-01T11:00:00.000Z';
      a.syncErrorMessage = 'The folder Archive could not be read.';
      a.syncErrorCode = 'ErrorAccessDenied';
      a.syncErrorRemedy = 'Grant access.';
      a.lease = { holder: 'worker-2', expiresAt: '2025-03-01T12:03:00.000Z' };
    });
    for (let i = 0; i < 7; i++) {
      await world.repos.syncLogs.create({
        emailAccount: ALICE_ACCOUNT,
        folderName: 'Archive',
        syncType: 'Initial',
        syncStartTime: `2025-03-01T11:0${i}:00.000Z`,
        status: 'Success',
        emailsFetched: i,
        emailsCreated: i,
        emailsUpdated: 0,
        emailsSkipped: 0,
        emailsRemoved: 0,
      });
    }
    const res = await invokeRoute(emailAccountSyncStatus, {
      params: { name: ALICE_ACCOUNT },
      token: world.tokens.alice,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      accountName: ALICE_ACCOUNT,
      accountType: 'User Mailbox',
      enabled: true,
      lastSyncStatus: 'Partial Success',
      lastSyncTime: '2025-03-01T11:00:00.000Z',
      syncErrorCode: 'ErrorAccessDenied',
      syncErrorRemedy: 'Grant access.',
      syncing: true,
    });
    expect(res.json.folders).toEqual([
      {
        folderName: 'Inbox',
        syncEnabled: true,
        phase: 'up-to-date',
        initialSyncComplete: true,
        lastSyncTime: '2025-03-01T11:00:00.000Z',
        processed: 40,
      },
      {
        folderName: 'Archive',
        syncEnabled: true,
        phase: 'initial',
        initialSyncComplete: false,
        processed: 250,
        estimatedTotal: 1000,
        percent: 25,
        // 250 messages in 300 s: 750 more take 900 s.
        etaSeconds: 900,
      },
      { folderName: 'Sent Items', syncEnabled: false, phase: 'not-started', initialSyncComplete: false, processed: 0 },
    ]);
    expect(pluck(res.json.recentLogs, 'syncStartTime')).toEqual(
      [6, 5, 4, 3, 2].map((i) => `2025-03-01T11:0${i}:00.000Z`),
    );
    expect(res.text).not.toMatch(/SECRET-(DELTA|NEXT)|worker-2/);
  });

  it('lists the accounts the caller may see, a page at a time (System Managers: every account)', async () => {
    const alice = await invokeRoute(syncStatusList, { token: world.tokens.alice });
    expect(alice.status).toBe(200);
    expect(pluck(alice.json.items, 'accountName')).toEqual([ALICE_ACCOUNT]);
    expect(alice.json.items[0].recentLogs).toHaveLength(1);
    expect(alice.json.continuationToken).toBeNull();
    const inbox = await invokeRoute(syncStatusList, { token: world.tokens.inbox });
    expect(pluck(inbox.json.items, 'accountName')).toEqual([SHARED_ACCOUNT]);

    const names: unknown[] = [];
    let continuationToken: string | null = null;
    do {
      const query: Record<string, string> = { limit: '2', ...(continuationToken ? { continuationToken } : {}) };
      const page = await invokeRoute(syncStatusList, { token: world.tokens.admin, query });
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      names.push(...pluck(page.json.items, 'accountName'));
      continuationToken = page.json.continuationToken as string | null;
    } while (continuationToken);
    expect(names.sort()).toEqual([ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT].sort());
  });

  it('shows disabled accounts too, with enabled false', async () => {
    await change(BOB_ACCOUNT, (a) => (a.enabled = false));
    const bob = await invokeRoute(syncStatusList, { token: world.tokens.bob });
    expect(bob.json.items).toEqual([expect.objectContaining({ accountName: BOB_ACCOUNT, enabled: false })]);
  });
});
