/**
 * Property: whatever happens to the mailbox (creates, moves between synced and unsynced folders, deletions,
 * updates) and whatever fails along the way (429 under and over the budget, 503, network errors, store
 * failures, expired delta links, tiny time budgets, concurrent runs, repeated items across pages), once the
 * faults stop and a sync completes, the store equals the mailbox:
 * - every message in a synced folder has exactly one communication, in that folder, current, not removed;
 * - every communication of a message that is gone (deleted, or in a folder that is not synced) is removed;
 * - nothing was ever deleted from the store.
 * Each case is replayable from its seed.
 */
import { dependencyUnavailable } from '../../../../shared/errors';
import { MailSourceError } from '../../../../shared/domain/ports/mail-source';
import { createHarness } from './harness';
import { rng, throttled } from './fakes';

const SYNCED = ['Inbox', 'Sent Items', 'Archive'];
const ALL_FOLDERS = [...SYNCED, 'Private', 'Deleted Items'];

async function runCase(seed: number): Promise<void> {
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const h = await createHarness({
    account: { folderFilter: SYNCED.map((folderName) => ({ folderName, syncEnabled: true })) },
    source: { repeatRate: 0.25, seed, msPerRequest: 5_000 + Math.floor(random() * 20_000) },
    settings: { pageSize: 2 + Math.floor(random() * 6), timeBudgetSeconds: 60 + Math.floor(random() * 120) },
  });
  for (const f of ['Archive', 'Private', 'Deleted Items']) h.mailbox.addFolder(f);

  // Faults, switched on per step with random rates.
  let faultRate = 0;
  h.source.faults.push(() => {
    if (random() >= faultRate) return undefined;
    const r = random();
    if (r < 0.35) return throttled(1 + Math.floor(random() * 20)); // waited once, within the budget
    if (r < 0.45) return throttled(3600); // beyond the budget: throttled outcome
    if (r < 0.65) return new MailSourceError(503, 'ServiceUnavailable', 'busy', { retryAfterSeconds: 3 });
    if (r < 0.85) return new MailSourceError(0, 'NetworkError', 'socket hang up');
    return new MailSourceError(504, 'GatewayTimeout', 'timeout');
  });
  const upsertMany = h.repos.communications.upsertMany.bind(h.repos.communications);
  h.repos.communications.upsertMany = async (records) => {
    if (random() < faultRate / 2) throw dependencyUnavailable('Cosmos DB');
    return upsertMany(records);
  };

  const everStored = new Set<string>();
  const steps = 18;
  for (let step = 0; step < steps; step++) {
    const ops = 1 + Math.floor(random() * 8);
    for (let i = 0; i < ops; i++) {
      const ids = [...h.mailbox.messages.keys()];
      const r = random();
      if (r < 0.4 || ids.length === 0) h.mailbox.create(pick(ALL_FOLDERS), {}, []);
      else if (r < 0.65) h.mailbox.move(pick(ids), pick(ALL_FOLDERS));
      else if (r < 0.8) h.mailbox.delete(pick(ids));
      else h.mailbox.update(pick(ids), { isRead: random() < 0.5, subject: `Edited ${step}.${i}` });
    }
    if (random() < 0.1) h.source.expireAllLinks();
    faultRate = random() < 0.3 ? 0 : random() * 0.3;
    const concurrent = random() < 0.2 ? 2 : 1;
    const reasons = ['scheduled', 'continuation', 'manual'] as const;
    await Promise.all(Array.from({ length: concurrent }, () => h.run(pick(reasons)).catch(() => undefined)));
    for (const c of h.communications()) everStored.add(c.id);
    h.queue.take();
    h.clock.advance(60_000 + Math.floor(random() * 3_600_000));
  }

  // Faults stop; the sync catches up.
  faultRate = 0;
  h.clock.advance(2 * 3600_000);
  const results = await h.runToCompletion(400);
  expect(results.at(-1)).toMatchObject({ outcome: 'completed', status: 'Success' });

  const stored = h.byGraphId();
  const all = h.communications();
  expect(all).toHaveLength(stored.size); // one communication per message
  for (const id of everStored) expect(all.some((c) => c.id === id)).toBe(true); // nothing deleted

  const problems: string[] = [];
  for (const [id, m] of h.mailbox.messages) {
    const path = h.mailbox.folders.get(m.folderId)!.path;
    const comm = stored.get(id);
    if (!SYNCED.includes(path)) {
      if (comm && !comm.removedInM365) problems.push(`${id} is in ${path} (not synced) but not removed`);
      continue;
    }
    if (!comm) problems.push(`${id} in ${path} is missing`);
    else if (
      comm.folder !== path ||
      comm.removedInM365 ||
      comm.subject !== m.data.subject ||
      comm.seen !== m.data.isRead
    ) {
      problems.push(`${id} in ${path} is stale: ${comm.folder} removed=${comm.removedInM365} "${comm.subject}"`);
    }
  }
  for (const comm of all) {
    if (!h.mailbox.messages.has(comm.graphMessageId) && !comm.removedInM365) {
      problems.push(`${comm.graphMessageId} was deleted but is not removed`);
    }
  }
  expect({ seed, problems }).toEqual({ seed, problems: [] });
  const account = await h.account();
  expect(account.lease).toBeUndefined();
  expect(account.lastSyncStatus).toBe('Success');
}

describe('convergence under random histories and faults', () => {
  const seeds = Array.from({ length: 24 }, (_, i) => 1000 + i * 7919);
  it.each(seeds)('seed %i: the store ends equal to the mailbox', async (seed) => {
    await runCase(seed);
  });
});
