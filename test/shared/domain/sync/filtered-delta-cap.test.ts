/**
 * `syncFromDate` and the 5,000-message cap of filtered delta rounds. The fake source enforces the cap the
 * pessimistic way: a filtered initial round returns 5,000 messages (newest or oldest first) and the rest are
 * never delivered by its deltaLink.
 */
import { FILTERED_DELTA_CAP } from '../../../../shared/domain/ports/mail-source';
import { createHarness, type Harness } from './harness';

const SYNC_FROM = '2025-01-01';
const day = 24 * 3600 * 1000;
const inboxOnly = [{ folderName: 'Inbox', syncEnabled: true }];

function fill(h: Harness, recent: number, old: number): { recentIds: string[]; oldIds: string[] } {
  const from = Date.parse(`${SYNC_FROM}T00:00:00Z`);
  const span = h.clock.now().getTime() - from;
  const recentIds = Array.from({ length: recent }, (_, i) =>
    h.mailbox.create('Inbox', {
      receivedDateTime: new Date(from + Math.floor((span * (i + 0.5)) / recent)).toISOString(),
    }),
  );
  const oldIds = Array.from({ length: old }, (_, i) =>
    h.mailbox.create('Inbox', { receivedDateTime: new Date(from - (i + 1) * day).toISOString() }),
  );
  return { recentIds, oldIds };
}

async function harness(capOrder: 'newest-first' | 'oldest-first' = 'newest-first') {
  return createHarness({
    account: { syncFromDate: SYNC_FROM, folderFilter: inboxOnly },
    settings: { pageSize: 1000 },
    source: { capOrder },
  });
}

describe('syncFromDate', () => {
  it('uses $filter=receivedDateTime ge syncFromDate when under the cap: older mail is never fetched', async () => {
    const h = await harness();
    const { recentIds, oldIds } = fill(h, 2500, 300);

    await h.runToCompletion();

    expect(h.source.deltaRequests[0]!.syncFrom?.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(h.communications()).toHaveLength(2500);
    const stored = h.byGraphId();
    expect(recentIds.every((id) => stored.has(id))).toBe(true);
    expect(oldIds.some((id) => stored.has(id))).toBe(false);
    expect(h.source.calls.deltaPage).toBe(3);
    const state = (await h.account()).folderFilter[0]!.state!;
    expect(state).toMatchObject({ filterFrom: '2025-01-01T00:00:00.000Z' });
    expect(state.unfiltered).toBeUndefined();
  });
});

describe('the 5,000 cap of a filtered delta round', () => {
  it.each(['newest-first', 'oldest-first'] as const)(
    'restarts without $filter and stores every message since syncFromDate (cap returns %s)',
    async (capOrder) => {
      const h = await harness(capOrder);
      const { recentIds, oldIds } = fill(h, FILTERED_DELTA_CAP + 700, 40);

      const results = await h.runToCompletion();

      expect(results.at(-1)).toMatchObject({ outcome: 'completed', status: 'Success' });
      const stored = h.byGraphId();
      expect(h.communications()).toHaveLength(FILTERED_DELTA_CAP + 700);
      expect(recentIds.every((id) => stored.has(id))).toBe(true);
      expect(oldIds.some((id) => stored.has(id))).toBe(false);
      // The unfiltered restart happened once and is remembered for later rounds.
      const unfilteredStarts = h.source.deltaRequests.filter((r) => !r.link && !r.syncFrom);
      expect(unfilteredStarts).toHaveLength(1);
      const state = (await h.account()).folderFilter[0]!.state!;
      expect(state.unfiltered).toBe(true);
      expect(state.filterFrom).toBeUndefined();
      expect(state.deltaLink).toBeDefined();
      // Nothing was written twice: the restart re-read the first 5,000 and found them unchanged.
      const logs = (await h.repos.syncLogs.listForAccount('Sales Inbox', { limit: 50 })).items;
      expect(logs.reduce((n, l) => n + l.emailsCreated, 0)).toBe(FILTERED_DELTA_CAP + 700);
      expect(logs.reduce((n, l) => n + l.emailsUpdated, 0)).toBe(0);

      // Later rounds: a change to an old, unsynced message is ignored; new mail is stored.
      h.mailbox.update(oldIds[0]!, { isRead: true });
      const fresh = h.mailbox.create('Inbox', { receivedDateTime: h.clock.now().toISOString() });
      h.source.resetCounters();
      await h.run();
      expect(h.source.calls.deltaPage).toBe(1);
      expect(h.byGraphId().has(fresh)).toBe(true);
      expect(h.byGraphId().has(oldIds[0]!)).toBe(false);
    },
  );
});
