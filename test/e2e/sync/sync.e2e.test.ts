/**
 * The mailbox sync engine end to end: the M365 simulator, the Cosmos stand-in and Azurite, and the local
 * functions host running the real registrations (`sync-mailbox` queue worker, `schedule-mailbox-sync` timer,
 * the API) in a child process. Every assertion compares what Cosmos / Blob hold with what the simulator's
 * mailboxes hold.
 *
 * Figures (messages/s, Graph requests per 1,000 messages, peak concurrency) are printed, never asserted on time.
 */
import { randomBytes } from 'node:crypto';
import type { CommunicationRecord } from '../../../shared/domain/records';
import { rawQueueText, startSyncWorld, type Mailbox, type SyncWorld } from './support/world';

jest.setTimeout(120_000);

let world: SyncWorld;
let adminToken: string;
let aliceToken: string;
let bobToken: string;
let alice: Mailbox;
let support: Mailbox;
let carol: Mailbox;
let aliceAccount: string;
const SHARED_ACCOUNT = 'Support';
let carolAccount: string;
const ALICE_FOLDERS = ['Inbox', 'Sent Items', 'Projects'];
const figures: string[] = [];

const graphRequests = async (upn: string): Promise<number> =>
  (await world.counters()).requestsByMailbox[upn.toLowerCase()] ?? 0;

beforeAll(async () => {
  world = await startSyncWorld('main');
  adminToken = await world.token(world.adminUpn, ['SystemManager']);
  [alice, support, carol] = await Promise.all([
    world.addMailbox('alice', { Inbox: 300, 'Sent Items': 100, Projects: 100 }, { attachmentRate: 0.04 }),
    world.addMailbox('support', { Inbox: 200 }, { userPurpose: 'shared' }),
    world.addMailbox('carol', { Inbox: 300, 'Sent Items': 100 }, { attachmentRate: 0.05 }),
  ]);
  aliceToken = await world.token(alice.upn);
  bobToken = await world.token(`bob@${world.domain}`);
  const carolToken = await world.token(carol.upn);

  const created = await world.createServicePrincipal(adminToken, 'Contoso');
  expect(created.status).toBe(201);

  aliceAccount = await world.enableSync(aliceToken, {
    servicePrincipal: 'Contoso',
    folderFilter: ALICE_FOLDERS.map((folderName) => ({ folderName })),
    maxAttachmentSize: 1,
  });

  const shared = await world.api('POST', '/shared-mailboxes', {
    token: adminToken,
    body: { servicePrincipal: 'Contoso', emailAddress: support.upn, accountName: SHARED_ACCOUNT },
  });
  expect(shared.status).toBe(201);

  carolAccount = await world.enableSync(carolToken, { servicePrincipal: 'Contoso' });
}, 120_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`Sync e2e figures:\n  ${figures.join('\n  ')}`);
  await world?.stop();
});

describe('initial and incremental sync', () => {
  it('a multi-page initial sync (requested through the API) stores every message exactly once', async () => {
    await world.resetCounters();
    const since = Date.now();
    const requested = await world.api('POST', `/email-accounts/${encodeURIComponent(aliceAccount)}/sync`, {
      token: aliceToken,
    });
    expect(requested.status).toBe(202);
    await world.waitForIdle(aliceAccount, since);
    const ms = Date.now() - since;

    const stored = await world.expectStoreEqualsMailbox(aliceAccount, alice.upn, ALICE_FOLDERS);
    expect(stored).toHaveLength(500);
    const account = await world.account(aliceAccount);
    expect(account.lastSyncStatus).toBe('Success');
    const counters = await world.counters();
    const deltaRequests = Object.entries(counters.requestsByRoute)
      .filter(([route]) => route.includes('/delta'))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(deltaRequests).toBeGreaterThanOrEqual(10); // 500 messages at 50 per page: many pages
    const requests = counters.requestsByMailbox[alice.upn.toLowerCase()] ?? 0;
    figures.push(
      `initial sync: 500 messages (3 folders, ${stored.filter((c) => c.attachments.length > 0).length} with attachments) ` +
        `in ${ms} ms = ${Math.round((500 / ms) * 1000)} messages/s; ${requests} Graph requests ` +
        `(${deltaRequests} delta) = ${Math.round((requests / 500) * 1000)} per 1,000 messages; ` +
        `peak concurrency ${counters.peakConcurrencyByMailbox[alice.upn.toLowerCase()] ?? 0}; per folder: ` +
        (await world.repos.syncLogs.listForAccount(aliceAccount, { limit: 10 })).items
          .map(
            (l) =>
              `${l.folderName} ${l.emailsCreated} in ${Date.parse(l.syncEndTime ?? l.syncStartTime) - Date.parse(l.syncStartTime)} ms`,
          )
          .join(', '),
    );
  });

  it('a second cycle (the schedule timer) writes nothing and costs exactly one Graph request per folder', async () => {
    const before = new Map((await world.communications(aliceAccount)).map((c) => [c.id, c.etag]));
    await world.resetCounters();
    const since = Date.now();
    const fired = await fetch(`${world.host.url}/admin/functions/schedule-mailbox-sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(fired.status).toBe(202);
    // The timer fans out to every account; the others (never synced yet) sync now too.
    await world.waitForIdle(aliceAccount, since);
    await Promise.all([world.waitForIdle(SHARED_ACCOUNT, since), world.waitForIdle(carolAccount, since)]);
    expect(await graphRequests(alice.upn)).toBe(ALICE_FOLDERS.length);
    const after = new Map((await world.communications(aliceAccount)).map((c) => [c.id, c.etag]));
    expect(after).toEqual(before);
    const logs = await world.repos.syncLogs.listForAccount(aliceAccount, { limit: 10 });
    const latest = logs.items.slice(0, ALICE_FOLDERS.length);
    expect(latest.map((l) => [l.syncType, l.emailsCreated, l.emailsUpdated])).toEqual(
      ALICE_FOLDERS.map(() => ['Scheduled', 0, 0]),
    );
  });

  it('messages moved between synced folders, deleted, or changed keep one communication each, updated', async () => {
    const inbox = await world.messages(alice.upn, 'Inbox');
    const [toMove, toDelete, toChange] = [inbox.slice(0, 5), inbox.slice(5, 10), inbox.slice(10, 15)];
    const mailbox = `/_sim/mailboxes/${encodeURIComponent(alice.upn)}/messages`;
    for (const m of toMove) await world.control('POST', `${mailbox}/${m.id}/move`, { destination: 'Projects' });
    for (const m of toDelete) await world.control('DELETE', `${mailbox}/${m.id}`);
    for (const m of toChange) {
      await world.control('PATCH', `${mailbox}/${m.id}`, { subject: `Changed: ${m.subject}`, isRead: !m.isRead });
    }
    await world.syncNow(aliceAccount);

    const stored = await world.expectStoreEqualsMailbox(aliceAccount, alice.upn, ALICE_FOLDERS);
    expect(stored).toHaveLength(500); // nothing new: moves and changes updated the same documents
    const byGraphId = new Map(stored.map((c) => [c.graphMessageId, c]));
    for (const m of toMove)
      expect(byGraphId.get(m.immutableId)).toMatchObject({ folder: 'Projects', removedInM365: false });
    for (const m of toDelete) expect(byGraphId.get(m.immutableId)?.removedInM365).toBe(true);
    for (const m of toChange) {
      expect(byGraphId.get(m.immutableId)).toMatchObject({ subject: `Changed: ${m.subject}`, seen: !m.isRead });
    }
  });

  it('a delta token that expired mid-life recovers with no duplicates and no gaps', async () => {
    const mailbox = `/_sim/mailboxes/${encodeURIComponent(alice.upn)}`;
    const inbox = await world.messages(alice.upn, 'Inbox');
    // Changes made while the token is dead: new mail, a deletion, a move.
    for (let i = 0; i < 12; i++) {
      await world.deliver(alice.upn, 'Inbox', {
        subject: `After expiry ${i}`,
        body: { contentType: 'html', content: '<p>x</p>' },
      });
    }
    await world.control('DELETE', `${mailbox}/messages/${inbox[20]!.id}`);
    await world.control('POST', `${mailbox}/messages/${inbox[21]!.id}/move`, { destination: 'Sent Items' });
    await world.control('POST', `${mailbox}/delta/expire`, {});

    await world.syncNow(aliceAccount);
    const stored = await world.expectStoreEqualsMailbox(aliceAccount, alice.upn, ALICE_FOLDERS);
    expect(stored).toHaveLength(512);
    const byGraphId = new Map(stored.map((c) => [c.graphMessageId, c]));
    expect(byGraphId.get(inbox[20]!.immutableId)?.removedInM365).toBe(true);
    expect(byGraphId.get(inbox[21]!.immutableId)).toMatchObject({ folder: 'Sent Items', removedInM365: false });
    expect((await world.account(aliceAccount)).lastSyncStatus).toBe('Success');
  });

  it('two queue messages for the same account at once produce no duplicates', async () => {
    for (let i = 0; i < 30; i++) await world.deliver(alice.upn, 'Inbox', { subject: `Concurrent ${i}` });
    await world.syncNow(aliceAccount, { copies: 2 });
    const stored = await world.expectStoreEqualsMailbox(aliceAccount, alice.upn, ALICE_FOLDERS);
    expect(stored).toHaveLength(542);
    // Both messages ran: one synced, the other found the lease held (or, if it came later, found nothing new).
    const runs = world.host
      .lines()
      .filter((l) => l.includes('Mailbox sync run finished') && l.includes(aliceAccount))
      .slice(-2);
    expect(runs).toHaveLength(2);
    figures.push(
      `two messages at once: ${runs.map((l) => /"outcome":"(\w+)"(?:,"reason":"([\w-]+)")?/.exec(l)?.slice(1).filter(Boolean).join('/')).join(' + ')}`,
    );
  });
});

describe('throttling and faults', () => {
  it('under injected 429/503 faults on ≥ 10% of Graph requests, the store equals the mailbox with ≤ 4 requests in flight', async () => {
    await world.resetCounters();
    await world.control('PUT', '/_sim/faults', {
      seed: 42,
      rules: [
        { mailbox: carol.upn, rate: 0.15, status: 429, retryAfterSeconds: 1 },
        { mailbox: carol.upn, rate: 0.08, status: 503, retryAfterSeconds: 1 },
      ],
    });
    // Carol's initial sync ran (untroubled) with the timer above; make her mailbox change a lot, then resync all.
    const mailbox = `/_sim/mailboxes/${encodeURIComponent(carol.upn)}`;
    await world.control('POST', `${mailbox}/messages`, { folder: 'Inbox', count: 150 });
    await world.control('POST', `${mailbox}/delta/expire`, {});
    try {
      const { ms } = await world.syncNow(carolAccount, { timeoutMs: 90_000 });
      const counters = await world.counters();
      const requests = counters.requestsByMailbox[carol.upn.toLowerCase()] ?? 0;
      const share = counters.faultsInjected / requests;
      expect(share).toBeGreaterThanOrEqual(0.1);
      const peak = counters.peakConcurrencyByMailbox[carol.upn.toLowerCase()] ?? 0;
      expect(peak).toBeLessThanOrEqual(4);
      await world.expectStoreEqualsMailbox(carolAccount, carol.upn, ['Inbox', 'Sent Items']);
      figures.push(
        `faults: ${counters.faultsInjected} of ${requests} Graph requests (${Math.round(share * 100)}%) answered 429/503; ` +
          `converged in ${ms} ms; peak concurrency ${peak}`,
      );
    } finally {
      await world.control('DELETE', '/_sim/faults');
    }
  });
});

describe('ownership, attachments, bodies and folders', () => {
  it('shared mailbox communications are owned by the configuring admin (and visible to them, not to users)', async () => {
    const stored = await world.expectStoreEqualsMailbox(SHARED_ACCOUNT, support.upn, ['Inbox']);
    expect(stored).toHaveLength(200);
    expect(new Set(stored.map((c) => c.owner))).toEqual(new Set([world.adminUpn]));
    expect(new Set(stored.map((c) => c.accountType))).toEqual(new Set(['Shared Mailbox']));
    const one = stored[0]!;
    expect((await world.api('GET', `/communications/${one.id}`, { token: adminToken })).status).toBe(200);
    expect((await world.api('GET', `/communications/${one.id}`, { token: aliceToken })).status).toBe(404);
  });

  it('holds attachment size limits: oversized ones are skipped with a reason, stored ones download intact', async () => {
    const small = randomBytes(300 * 1024);
    const id = await world.deliver(alice.upn, 'Inbox', {
      subject: 'Quarterly figures',
      attachments: [
        {
          '@odata.type': '#microsoft.graph.fileAttachment',
          name: 'figures Q3 (final).xlsx',
          contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
          contentBytes: small.toString('base64'),
        },
        // 2 MB of generated content: over alice's 1 MB limit.
        {
          '@odata.type': '#microsoft.graph.fileAttachment',
          name: 'scan.pdf',
          contentType: 'application/pdf',
          size: 2 * 1024 * 1024,
        },
        {
          '@odata.type': '#microsoft.graph.referenceAttachment',
          name: 'Plan.docx',
          sourceUrl: 'https://contoso.sharepoint.com/plan.docx',
        },
      ],
    });
    await world.syncNow(aliceAccount);
    const communication = (await world.communications(aliceAccount)).find((c) => c.graphMessageId === id)!;
    const [stored, oversized, link] = ['figures Q3 (final).xlsx', 'scan.pdf', 'Plan.docx'].map((name) =>
      communication.attachments.find((a) => a.fileName === name)!,
    );
    expect(stored).toMatchObject({ status: 'stored', size: small.length });
    expect(oversized).toMatchObject({ status: 'skipped' });
    expect(oversized!.skipReason).toMatch(/1 MB|limit|large/i);
    expect(link).toMatchObject({ status: 'link' });

    const path = (a: { id: string }) => `/communications/${communication.id}/attachments/${encodeURIComponent(a.id)}`;
    const download = await world.api('GET', path(stored!), { token: aliceToken });
    expect(download.status).toBe(200);
    expect(download.bytes.equals(small)).toBe(true);
    expect(download.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(download.headers.get('content-disposition')).toContain('figures Q3 (final).xlsx');
    const skipped = await world.api('GET', path(oversized!), { token: aliceToken });
    expect(skipped.status).toBe(404);
    expect(skipped.json.details).toMatchObject({ reason: 'attachment-not-stored' });
    const linked = await world.api('GET', path(link!), { token: aliceToken });
    expect(linked.status).toBe(404);
    expect(linked.json.details).toMatchObject({ reason: 'attachment-is-link' });
    expect((await world.api('GET', path(stored!), { token: bobToken })).status).toBe(404);
  });

  it('stores a 5 MB HTML body in Blob and returns it whole with ?includeBody=true', async () => {
    const paragraph = `<p>${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(20)}</p>\n`;
    const html = `<html><body>${paragraph.repeat(Math.ceil((5 * 1024 * 1024) / paragraph.length))}</body></html>`;
    const id = await world.deliver(alice.upn, 'Inbox', {
      subject: 'Huge newsletter',
      body: { contentType: 'html', content: html },
    });
    await world.syncNow(aliceAccount);
    const communication = (await world.communications(aliceAccount)).find((c) => c.graphMessageId === id)!;
    expect(communication.content).toBe('');
    expect(communication.contentBlob).toBeTruthy();

    const summary = await world.api('GET', `/communications/${communication.id}`, { token: aliceToken });
    expect(summary.json).toMatchObject({ content: '', contentStoredSeparately: true });
    const full = await world.api('GET', `/communications/${communication.id}?includeBody=true`, { token: aliceToken });
    expect(full.status).toBe(200);
    expect(full.json.content.length).toBe(html.length);
    expect(full.json.content === html).toBe(true);
  });

  it('lists the mailbox folders from Graph, with the synced ones flagged, to whoever may read the account', async () => {
    const res = await world.api('GET', `/email-accounts/${encodeURIComponent(aliceAccount)}/folders`, {
      token: aliceToken,
    });
    expect(res.status).toBe(200);
    const simFolders = await world.control<Array<{ id: string; path: string; isHidden?: boolean }>>(
      'GET',
      `/_sim/mailboxes/${encodeURIComponent(alice.upn)}/folders`,
    );
    const listed = res.json.items as Array<{ id: string; path: string; syncEnabled: boolean }>;
    // Graph lists visible folders (hidden ones such as Clutter need includeHiddenFolders).
    const visible = simFolders.filter((f) => f.isHidden !== true);
    expect(listed.map((f) => f.path).sort()).toEqual(visible.map((f) => f.path).sort());
    expect(listed.find((f) => f.path === 'Inbox')?.id).toBe(simFolders.find((f) => f.path === 'Inbox')?.id);
    expect(
      listed
        .filter((f) => f.syncEnabled)
        .map((f) => f.path)
        .sort(),
    ).toEqual([...ALICE_FOLDERS].sort());
    expect(
      (await world.api('GET', `/email-accounts/${encodeURIComponent(aliceAccount)}/folders`, { token: bobToken }))
        .status,
    ).toBe(404);
  });
});

describe('queue hygiene', () => {
  it('a refused credential fails the account with the code and remedy, and is not retried', async () => {
    const erin = await world.addMailbox('erin', { Inbox: 20 });
    const broken = await world.createServicePrincipal(adminToken, 'Broken', {
      clientSecret: 'not-the-secret-value-at-all-000000000',
    });
    expect(broken.status).toBe(201);
    const erinAccount = await world.enableSync(await world.token(erin.upn), { servicePrincipal: 'Broken' });
    const before = world.host.lines().length;
    await world.syncNow(erinAccount);

    const account = await world.account(erinAccount);
    expect(account).toMatchObject({ lastSyncStatus: 'Failed', syncErrorCode: 'AADSTS7000215' });
    expect(account.syncErrorMessage).toContain('Certificates & secrets'); // the identity area's remedy
    expect(account.syncErrorRemedy).toBeTruthy();
    expect(await world.communications(erinAccount)).toEqual([]);
    const attempts = world.host
      .lines()
      .slice(before)
      .filter(
        (l) => l.includes('[sync-mailbox]') && l.includes(erinAccount) && l.includes('Mailbox sync run finished'),
      );
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toContain('"outcome":"failed"');
  });

  it('logs and drops a malformed queue message: no retries, nothing in the poison queue', async () => {
    const before = world.host.lines().length;
    await world.queue.sendMessage(rawQueueText('this is not JSON'));
    await world.queue.sendMessage(rawQueueText(JSON.stringify({ emailAccount: 42, reason: 'whenever' })));
    const deadline = Date.now() + 20_000;
    let dropped: string[] = [];
    while (dropped.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      dropped = world.host
        .lines()
        .slice(before)
        .filter((l) => l.includes('Malformed mailbox-sync message dropped'));
    }
    expect(dropped).toHaveLength(2);
    for (const line of dropped) expect(line).toContain('"dequeueCount":1');
    // Give a (wrong) retry the chance to happen, then check there was none.
    await new Promise((r) => setTimeout(r, 1500));
    const all = world.host
      .lines()
      .slice(before)
      .filter((l) => l.includes('Malformed mailbox-sync message dropped'));
    expect(all).toHaveLength(2);
    expect((await world.queue.getProperties()).approximateMessagesCount).toBe(0);
    const poisoned = (await world.poisonQueue.exists())
      ? (await world.poisonQueue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems
      : [];
    expect(poisoned).toEqual([]);
  });

  it('the communications of every account are still exactly their mailboxes', async () => {
    const all: CommunicationRecord[] = [
      ...(await world.expectStoreEqualsMailbox(aliceAccount, alice.upn, ALICE_FOLDERS)),
      ...(await world.expectStoreEqualsMailbox(SHARED_ACCOUNT, support.upn, ['Inbox'])),
      ...(await world.expectStoreEqualsMailbox(carolAccount, carol.upn, ['Inbox', 'Sent Items'])),
    ];
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
  });
});
