/**
 * The account sync use case against a Graph-like fake delta source and the in-memory repositories:
 * completeness, idempotence, moves, deletions, delta expiry, time budget, interruptions, request counts.
 */
import { isAppError } from '../../../../shared/errors';
import { accountSyncProgress } from '../../../../shared/domain/sync';
import { MailSourceError } from '../../../../shared/domain/ports/mail-source';
import { createHarness, type Harness } from './harness';

const folderFilter = (...names: string[]) => names.map((folderName) => ({ folderName, syncEnabled: true }));

async function logs(h: Harness) {
  const page = await h.repos.syncLogs.listForAccount('Sales Inbox', { limit: 200 });
  return page.items;
}

function expectOneCommunicationPerMessage(h: Harness, graphIds: string[]) {
  const all = h.communications();
  expect(all).toHaveLength(new Set(all.map((c) => c.graphMessageId)).size);
  const byGraph = h.byGraphId();
  for (const id of graphIds) expect(byGraph.get(id)).toBeDefined();
}

describe('initial and incremental sync', () => {
  it('stores every message of a multi-page initial sync exactly once, even when pages repeat items', async () => {
    const h = await createHarness({ source: { repeatRate: 0.3, seed: 7 } });
    const inbox = Array.from({ length: 57 }, () => h.mailbox.create('Inbox'));
    const sent = Array.from({ length: 13 }, () =>
      h.mailbox.create('Sent Items', { from: { emailAddress: { name: 'Sales', address: 'sales@contoso.example' } } }),
    );

    const result = await h.run();

    expect(result.outcome).toBe('completed');
    expect(h.communications()).toHaveLength(70);
    expectOneCommunicationPerMessage(h, [...inbox, ...sent]);
    const byGraph = h.byGraphId();
    expect(byGraph.get(inbox[0]!)).toMatchObject({ folder: 'Inbox', sentOrReceived: 'Received', removedInM365: false });
    expect(byGraph.get(sent[0]!)).toMatchObject({ folder: 'Sent Items', sentOrReceived: 'Sent' });
    // Defaults were written into the filter so their state has a home; each has a deltaLink.
    const account = await h.account();
    expect(account.folderFilter.map((f) => f.folderName)).toEqual(['Inbox', 'Sent Items']);
    expect(account.folderFilter.every((f) => f.state?.deltaLink && !f.state.nextLink)).toBe(true);
    expect(account).toMatchObject({ lastSyncStatus: 'Success' });
    expect(account.lease).toBeUndefined();
    // ImmutableId ids, select and page size on every delta request.
    expect(h.source.deltaRequests.every((r) => r.pageSize === 10 && r.select.includes('changeKey'))).toBe(true);
    expect(h.source.deltaRequests[0]!.select).not.toContain('internetMessageHeaders');

    const folderLogs = await logs(h);
    expect(folderLogs).toHaveLength(2);
    const inboxLog = folderLogs.find((l) => l.folderName === 'Inbox')!;
    expect(inboxLog).toMatchObject({ status: 'Success', syncType: 'Initial', emailsCreated: 57, emailsRemoved: 0 });
    expect(inboxLog.emailsFetched).toBeGreaterThanOrEqual(57); // repeats are fetched, not stored
    expect(inboxLog.emailsFetched - inboxLog.emailsSkipped).toBe(57);
  });

  it('writes nothing and makes exactly one Graph request per folder on an unchanged cycle', async () => {
    const h = await createHarness();
    for (let i = 0; i < 35; i++) h.mailbox.create('Inbox');
    await h.run();
    const before = new Map(h.communications().map((c) => [c.id, c.etag]));
    h.source.resetCounters();

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.source.calls).toMatchObject({ resolveFolders: 0, deltaPage: 2 });
    const after = new Map(h.communications().map((c) => [c.id, c.etag]));
    expect(after).toEqual(before);
    const second = (await logs(h)).filter((l) => l.syncType === 'Scheduled');
    expect(second).toHaveLength(2);
    expect(second.every((l) => l.emailsCreated === 0 && l.emailsUpdated === 0)).toBe(true);
  });

  it('updates the same communication when a message changes (read flag, subject)', async () => {
    const h = await createHarness();
    const id = h.mailbox.create('Inbox', { subject: 'Quote' });
    await h.run();
    const commId = h.byGraphId().get(id)!.id;
    h.mailbox.update(id, { isRead: true, subject: 'Quote (revised)' });

    await h.run('manual');

    expect(h.communications()).toHaveLength(1);
    expect(h.byGraphId().get(id)).toMatchObject({ id: commId, seen: true, subject: 'Quote (revised)' });
    const manual = (await logs(h)).find((l) => l.syncType === 'Manual' && l.folderName === 'Inbox');
    expect(manual).toMatchObject({ emailsUpdated: 1, emailsCreated: 0 });
  });

  it('needs at most 12 Graph requests for 1,000 messages at page size 100', async () => {
    const h = await createHarness({ account: { folderFilter: folderFilter('Inbox') }, settings: { pageSize: 100 } });
    for (let i = 0; i < 1000; i++) h.mailbox.create('Inbox');
    await h.run();
    expect(h.communications()).toHaveLength(1000);
    expect(h.source.totalRequests).toBeLessThanOrEqual(12);
  });
});

describe('moves and deletions', () => {
  it.each([
    ['destination synced after the source', ['Inbox', 'Archive']],
    ['destination synced before the source', ['Archive', 'Inbox']],
  ])('a move between synced folders keeps one communication, updated in place (%s)', async (_label, order) => {
    const h = await createHarness({ account: { folderFilter: folderFilter(...order) } });
    h.mailbox.addFolder('Archive');
    const id = h.mailbox.create('Inbox');
    const other = h.mailbox.create('Inbox');
    await h.run();
    const commId = h.byGraphId().get(id)!.id;

    h.mailbox.move(id, 'Archive');
    await h.run();

    expect(h.communications()).toHaveLength(2);
    expect(h.byGraphId().get(id)).toMatchObject({ id: commId, folder: 'Archive', removedInM365: false });
    expect(h.byGraphId().get(other)).toMatchObject({ folder: 'Inbox', removedInM365: false });

    // And back again.
    h.mailbox.move(id, 'Inbox');
    await h.run();
    await h.run();
    expect(h.byGraphId().get(id)).toMatchObject({ id: commId, folder: 'Inbox', removedInM365: false });
  });

  it('marks deleted messages removedInM365 and never deletes stored mail', async () => {
    const h = await createHarness();
    const keep = h.mailbox.create('Inbox');
    const gone = h.mailbox.create('Inbox');
    await h.run();
    h.mailbox.delete(gone);

    await h.run();

    expect(h.communications()).toHaveLength(2);
    expect(h.byGraphId().get(gone)).toMatchObject({ removedInM365: true, folder: 'Inbox' });
    expect(h.byGraphId().get(keep)).toMatchObject({ removedInM365: false });
    expect((await logs(h)).find((l) => l.emailsRemoved === 1)).toMatchObject({ folderName: 'Inbox' });
  });

  it('a move to a folder that is not synced counts as removed until the message comes back', async () => {
    const h = await createHarness();
    h.mailbox.addFolder('Private');
    const id = h.mailbox.create('Inbox');
    await h.run();

    h.mailbox.move(id, 'Private');
    await h.run();
    expect(h.byGraphId().get(id)).toMatchObject({ removedInM365: true });

    h.mailbox.move(id, 'Inbox');
    await h.run();
    expect(h.byGraphId().get(id)).toMatchObject({ removedInM365: false, folder: 'Inbox' });
    expect(h.communications()).toHaveLength(1);
  });
});

describe('delta expiry', () => {
  it('drops an expired deltaLink and resyncs the folder without duplicates or gaps', async () => {
    const h = await createHarness();
    const first = Array.from({ length: 15 }, () => h.mailbox.create('Inbox'));
    await h.run();
    h.source.expireAllLinks();
    const later = Array.from({ length: 8 }, () => h.mailbox.create('Inbox'));
    h.mailbox.update(first[0]!, { isRead: true });

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.communications()).toHaveLength(23);
    expectOneCommunicationPerMessage(h, [...first, ...later]);
    expect(h.byGraphId().get(first[0]!)).toMatchObject({ seen: true });
    const inbox = (await logs(h)).find((l) => l.folderName === 'Inbox' && l.emailsCreated === 8)!;
    expect(inbox).toMatchObject({ emailsUpdated: 1, syncType: 'Initial' });
    // The folder carries a fresh deltaLink afterwards.
    expect((await h.account()).folderFilter[0]!.state?.deltaLink).toMatch(/g=2/);
  });

  it('recovers when the nextLink of a round in progress expires', async () => {
    const h = await createHarness({ source: { msPerRequest: 60_000 }, settings: { timeBudgetSeconds: 150 } });
    const ids = Array.from({ length: 60 }, () => h.mailbox.create('Inbox'));
    const first = await h.run();
    expect(first.outcome).toBe('continued');
    h.source.expireAllLinks();
    const extra = h.mailbox.create('Inbox');

    await h.runToCompletion();

    expectOneCommunicationPerMessage(h, [...ids, extra]);
    expect(h.communications()).toHaveLength(61);
  });

  it('after a resync, messages deleted while the token was dead are marked removed (sweep)', async () => {
    const h = await createHarness({ source: { msPerRequest: 20_000 }, settings: { timeBudgetSeconds: 100 } });
    const ids = Array.from({ length: 30 }, () => h.mailbox.create('Inbox'));
    await h.runToCompletion();
    h.source.expireAllLinks();
    // Deleted, or moved to a folder that is not synced, before the resync: no @removed will ever say so.
    h.mailbox.delete(ids[0]!);
    h.mailbox.addFolder('Private');
    h.mailbox.move(ids[1]!, 'Private');
    const resyncStarted = h.clock.now().toISOString();

    await h.runToCompletion();

    expect(h.byGraphId().get(ids[0]!)).toMatchObject({ removedInM365: true });
    expect(h.byGraphId().get(ids[1]!)).toMatchObject({ removedInM365: true });
    expect(ids.slice(2).every((id) => h.byGraphId().get(id)!.removedInM365 === false)).toBe(true);
    expect(h.communications()).toHaveLength(30);
    expect((await h.account()).folderFilter[0]!.state!.sweepAtEnd).toBeUndefined();
    // Unchanged messages are only stamped with the round marker, not counted as updates.
    const resyncLogs = (await logs(h)).filter((l) => l.syncStartTime >= resyncStarted);
    expect(resyncLogs.reduce((n, l) => n + l.emailsUpdated, 0)).toBe(0);
    expect(resyncLogs.reduce((n, l) => n + l.emailsRemoved, 0)).toBe(2);
  });

  it('treats syncStateNotFound / resyncRequired in any letter case as expiry', async () => {
    const h = await createHarness();
    for (let i = 0; i < 5; i++) h.mailbox.create('Inbox');
    await h.run();
    h.source.failNext('deltaPage', () => new MailSourceError(400, 'SYNCSTATENOTFOUND', 'gone'));
    h.source.failNext('deltaPage', () => new MailSourceError(400, 'ResyncRequired', 'gone'));
    const result = await h.run();
    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.communications()).toHaveLength(5);
  });
});

describe('time budget and interruptions', () => {
  it('stops at the budget with a checkpoint, enqueues a continuation and resumes exactly there', async () => {
    const h = await createHarness({
      account: { folderFilter: folderFilter('Inbox') },
      source: { msPerRequest: 50_000 },
      settings: { timeBudgetSeconds: 120 },
    });
    const ids = Array.from({ length: 95 }, () => h.mailbox.create('Inbox'));

    const first = await h.run();

    expect(first.outcome).toBe('continued');
    expect(h.queue.sent).toEqual([
      {
        message: {
          emailAccount: 'Sales Inbox',
          reason: 'continuation',
          requestedAt: expect.any(String),
          folders: ['Inbox'],
        },
      },
    ]);
    const state = (await h.account()).folderFilter[0]!.state!;
    expect(state.nextLink).toBeDefined();
    expect(state.deltaLink).toBeUndefined();
    const storedAfterFirst = h.communications().length;
    expect(storedAfterFirst).toBe(state.processed);
    expect(storedAfterFirst).toBeGreaterThan(0);
    expect(storedAfterFirst).toBeLessThan(95);
    const progress = accountSyncProgress(await h.account(), h.clock.now());
    expect(progress.folders[0]).toMatchObject({ phase: 'initial', processed: storedAfterFirst, estimatedTotal: 95 });
    expect(progress.folders[0]!.percent).toBe(Math.floor((storedAfterFirst / 95) * 100));
    expect(progress.lastSyncStatus).toBe('In Progress');

    h.queue.take();
    const requestsBefore = h.source.deltaRequests.length;
    const second = await h.run('continuation');

    expect(h.source.deltaRequests[requestsBefore]!.link).toBe(state.nextLink);
    expect(['continued', 'completed']).toContain(second.outcome);
    const rest = await h.runToCompletion();
    expect(rest.at(-1)).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.communications()).toHaveLength(95);
    expectOneCommunicationPerMessage(h, ids);
    const continuationLogs = (await logs(h)).filter((l) => l.syncType === 'Continuation');
    expect(continuationLogs.length).toBeGreaterThan(0);
    const created = (await logs(h)).reduce((sum, l) => sum + l.emailsCreated, 0);
    expect(created).toBe(95);
  });

  it('a run that fails between pages resumes from the checkpoint with no loss and no duplicates', async () => {
    const h = await createHarness({ account: { folderFilter: folderFilter('Inbox') } });
    const ids = Array.from({ length: 48 }, () => h.mailbox.create('Inbox'));
    let deltaCalls = 0;
    h.source.faults.push((kind) => {
      if (kind === 'deltaPage' && ++deltaCalls === 3) return new MailSourceError(502, 'BadGateway', 'upstream');
      return undefined;
    });

    const failure = await h.run().catch((e: unknown) => e);

    expect(isAppError(failure, 'DEPENDENCY_UNAVAILABLE')).toBe(true);
    expect((failure as { retryable: boolean }).retryable).toBe(true);
    const account = await h.account();
    expect(account.lease).toBeUndefined();
    expect(account.lastSyncStatus).toBe('Failed');
    const checkpointed = account.folderFilter[0]!.state!;
    expect(checkpointed.nextLink).toBeDefined();
    expect(h.communications()).toHaveLength(checkpointed.processed);

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.communications()).toHaveLength(48);
    expectOneCommunicationPerMessage(h, ids);
    expect((await h.account()).syncErrorMessage).toBeUndefined();
  });

  it('a store failure after some pages loses nothing: the page is redone from the checkpoint', async () => {
    const h = await createHarness({ account: { folderFilter: folderFilter('Inbox') } });
    const ids = Array.from({ length: 30 }, () => h.mailbox.create('Inbox'));
    const upsertMany = h.repos.communications.upsertMany.bind(h.repos.communications);
    let writes = 0;
    h.repos.communications.upsertMany = async (records) => {
      if (++writes === 2) {
        const { dependencyUnavailable } = await import('../../../../shared/errors');
        throw dependencyUnavailable('Cosmos DB');
      }
      return upsertMany(records);
    };

    await expect(h.run()).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', retryable: true });
    expect(h.communications()).toHaveLength(10);
    await h.run();
    expect(h.communications()).toHaveLength(30);
    expectOneCommunicationPerMessage(h, ids);
  });
});

describe('continuations', () => {
  it('a chain of continuations finishes every folder even when one run can do very little', async () => {
    const folders = ['Inbox', 'Sent Items', 'Archive', 'Projects'];
    const h = await createHarness({
      account: { folderFilter: folderFilter(...folders) },
      source: { msPerRequest: 30_000 },
      settings: { timeBudgetSeconds: 50, pageSize: 5 },
    });
    h.mailbox.addFolder('Archive');
    h.mailbox.addFolder('Projects');
    const ids = folders.flatMap((f) => Array.from({ length: 12 }, () => h.mailbox.create(f)));

    const results = await h.runToCompletion(100);

    expect(results.at(-1)).toMatchObject({ outcome: 'completed' });
    expectOneCommunicationPerMessage(h, ids);
    expect(h.communications()).toHaveLength(48);
    // Each continuation only worked on folders the previous run had not finished.
    const continuationLogs = (await logs(h)).filter((l) => l.syncType === 'Continuation');
    const completedPerFolder = new Map<string, number>();
    for (const l of continuationLogs.filter((x) => x.status === 'Success')) {
      completedPerFolder.set(l.folderName, (completedPerFolder.get(l.folderName) ?? 0) + 1);
    }
    expect([...completedPerFolder.values()].every((n) => n === 1)).toBe(true);

    // The progress view reads the checkpoints.
    const progress = accountSyncProgress(await h.account(), h.clock.now());
    expect(progress.folders.map((f) => f.phase)).toEqual(['up-to-date', 'up-to-date', 'up-to-date', 'up-to-date']);
    expect(progress.running).toBe(false);
  });
});

describe('lease', () => {
  it('two concurrent runs for one account: one does the work, the other exits without any', async () => {
    const h = await createHarness();
    for (let i = 0; i < 30; i++) h.mailbox.create('Inbox');

    const results = await Promise.all([h.run(), h.run()]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['completed', 'skipped']);
    expect(results.find((r) => r.outcome === 'skipped')).toEqual({ outcome: 'skipped', reason: 'lease-held' });
    expect(h.communications()).toHaveLength(30);
    expect(h.source.calls.resolveFolders).toBe(1);
    expect((await h.account()).lease).toBeUndefined();
  });

  it('takes over a stale lease, but not a live one', async () => {
    const h = await createHarness();
    h.mailbox.create('Inbox');
    await h.repos.emailAccounts.update('Sales Inbox', (a) => ({
      ...a,
      lease: { holder: 'crashed-run', expiresAt: new Date(h.clock.now().getTime() + 60_000).toISOString() },
    }));
    expect(await h.run()).toEqual({ outcome: 'skipped', reason: 'lease-held' });
    expect(h.source.totalRequests).toBe(0);

    h.clock.advance(61_000);
    expect(await h.run()).toMatchObject({ outcome: 'completed' });
    expect(h.communications()).toHaveLength(1);
  });

  it('a run that loses its lease mid-way stops without touching the account again', async () => {
    const h = await createHarness({ account: { folderFilter: folderFilter('Inbox') } });
    for (let i = 0; i < 40; i++) h.mailbox.create('Inbox');
    let pages = 0;
    h.source.faults.push((kind) => {
      if (kind === 'deltaPage' && ++pages === 2) {
        // Another worker takes the lease (ours "expired").
        void h.repos.emailAccounts.update('Sales Inbox', (a) => ({
          ...a,
          lease: { holder: 'other-run', expiresAt: new Date(h.clock.now().getTime() + 600_000).toISOString() },
        }));
      }
      return undefined;
    });
    const result = await h.run();
    expect(result).toEqual({ outcome: 'skipped', reason: 'lease-lost' });
    expect((await h.account()).lease?.holder).toBe('other-run');
  });
});

describe('skips', () => {
  it('does nothing for a missing or disabled account or a disabled service principal', async () => {
    const h = await createHarness({ principalEnabled: false });
    expect(await h.run()).toEqual({ outcome: 'skipped', reason: 'principal-disabled' });
    await h.repos.emailAccounts.update('Sales Inbox', (a) => ({ ...a, enabled: false }));
    expect(await h.run()).toEqual({ outcome: 'skipped', reason: 'account-disabled' });
    const { syncMailbox } = await import('../../../../shared/domain/sync');
    expect(
      await syncMailbox(
        h.deps,
        { emailAccount: 'Nobody', reason: 'manual', requestedAt: h.clock.now().toISOString() },
        h.settings,
      ),
    ).toEqual({ outcome: 'skipped', reason: 'account-missing' });
    expect(h.source.totalRequests).toBe(0);
  });
});
