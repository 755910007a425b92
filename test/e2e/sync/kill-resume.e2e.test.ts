/**
 * A worker killed between pages (SIGKILL of the functions host process, right after the first checkpoint is
 * seen in Cosmos) resumes from its checkpoint with no loss and no duplicates: the queue redelivers the message
 * once its visibility lease runs out (40 s here), the dead run's account lease (30 s) has expired by then, and a
 * new host process takes over at the stored nextLink.
 */
import { startSyncWorld, type Mailbox, type SyncWorld } from './support/world';

jest.setTimeout(150_000);

const QUEUE_LEASE_MS = 40_000;
const PAGE_SIZE = 50;
const FOLDERS = { Inbox: 400, 'Sent Items': 200 };

let world: SyncWorld;
let dave: Mailbox;
let account: string;

beforeAll(async () => {
  world = await startSyncWorld('kill', { queueLeaseMs: QUEUE_LEASE_MS });
  const adminToken = await world.token(world.adminUpn, ['SystemManager']);
  dave = await world.addMailbox('dave', FOLDERS);
  const created = await world.createServicePrincipal(adminToken, 'Contoso');
  expect(created.status).toBe(201);
  account = await world.enableSync(await world.token(dave.upn), { servicePrincipal: 'Contoso' });
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

it('resumes from its checkpoint after SIGKILL between pages, with no loss and no duplicates', async () => {
  // Slow delta pages a little so the kill lands between pages, not after the whole sync.
  await world.control('PUT', '/_sim/faults', {
    seed: 1,
    rules: [{ mailbox: dave.upn, route: 'messages/delta', rate: 0, latencyMs: 250 }],
  });
  const first = world.host;
  await world.workQueue.send({ emailAccount: account, reason: 'manual', requestedAt: new Date().toISOString() });

  // Kill as soon as a checkpoint (a stored nextLink: a round in progress) is in Cosmos.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = (await world.account(account)).folderFilter.find((f) => f.state?.nextLink)?.state;
    if (state && state.processed > 0) break;
    if (Date.now() > deadline) throw new Error(`no checkpoint seen:\n${first.lines().slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await first.kill();
  expect(first.child.signalCode).toBe('SIGKILL');
  const killedAt = Date.now();
  // Let the Cosmos stand-in finish any write the dead process had already sent.
  await new Promise((r) => setTimeout(r, 300));

  // What the dead run left: a checkpoint, a lease it will never release, part of the mail.
  const atKill = await world.account(account);
  const inProgress = atKill.folderFilter.find((f) => f.state?.nextLink);
  expect(inProgress?.state?.processed).toBeGreaterThan(0);
  expect(atKill.lease).toBeDefined();
  const storedAtKill = (await world.communications(account)).length;
  expect(storedAtKill).toBeGreaterThan(0);
  expect(storedAtKill).toBeLessThan(600);
  const pagesDone = Math.floor((inProgress!.state!.processed ?? 0) / PAGE_SIZE);
  const foldersDone = atKill.folderFilter.filter((f) => f.state?.deltaLink).map((f) => f.folderName);

  await world.control('DELETE', '/_sim/faults');
  await world.resetCounters();
  const second = await world.startHost();
  await world.waitForIdle(account, killedAt, 100_000);

  const stored = await world.expectStoreEqualsMailbox(account, dave.upn, Object.keys(FOLDERS));
  expect(stored).toHaveLength(600);
  const resumedAccount = await world.account(account);
  expect(resumedAccount.lastSyncStatus).toBe('Success');

  // Resumed, not restarted: the redelivered message (dequeue count 2) fetched only the pages after the
  // checkpoint, and created only what the dead run had not stored.
  const counters = await world.counters();
  const deltaRequests = Object.entries(counters.requestsByRoute)
    .filter(([route]) => route.includes('/delta'))
    .reduce((sum, [, n]) => sum + n, 0);
  const totalPages = Object.entries(FOLDERS)
    .filter(([name]) => !foldersDone.includes(name))
    .reduce((sum, [, n]) => sum + Math.ceil(n / PAGE_SIZE), 0);
  expect(deltaRequests).toBeLessThanOrEqual(totalPages - pagesDone);
  const run = second.lines().find((l) => l.includes('Mailbox sync run finished') && l.includes(account));
  expect(run).toContain('"dequeueCount":2');
  expect(run).toContain(`"created":${600 - storedAtKill}`);
  console.log(
    `kill/resume: killed after ${storedAtKill} of 600 stored (checkpoint at ${inProgress!.state!.processed} in ` +
      `${inProgress!.folderName}); resumed ${Date.now() - killedAt} ms later (queue redelivery after the ` +
      `${QUEUE_LEASE_MS / 1000} s visibility lease) with ${deltaRequests} delta requests (a restart needs ${totalPages})`,
  );
});
