/**
 * Throttling, tokens, mailbox and folder errors: what the account shows, what is retried and what is not.
 */
import { MailSourceError } from '../../../../shared/domain/ports/mail-source';
import { scheduleMailboxSync, syncMailbox } from '../../../../shared/domain/sync';
import { silentLogger } from '../../../../shared/domain/ports/logger';
import { createHarness, type Harness } from './harness';
import { throttled } from './fakes';

const inboxOnly = [{ folderName: 'Inbox', syncEnabled: true }];

async function logs(h: Harness) {
  return (await h.repos.syncLogs.listForAccount('Sales Inbox', { limit: 100 })).items;
}

describe('throttling (429 / 503)', () => {
  it('waits Retry-After once and retries, within the time budget', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    for (let i = 0; i < 25; i++) h.mailbox.create('Inbox');
    h.source.failNext('deltaPage', () => throttled(7));
    h.source.failNext(
      'resolveFolders',
      () => new MailSourceError(503, 'ServiceUnavailable', 'busy', { retryAfterSeconds: 2 }),
    );

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.slept).toEqual([2000, 7000]);
    expect(h.source.calls).toMatchObject({ resolveFolders: 2, deltaPage: 3 + 1 });
    expect(h.communications()).toHaveLength(25);
    expect((await h.account()).throttledUntil).toBeUndefined();
  });

  it('retries a request only once: a second 429 stops the run with a throttled outcome', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    for (let i = 0; i < 25; i++) h.mailbox.create('Inbox');
    let deltaCalls = 0;
    h.source.faults.push((kind) => (kind === 'deltaPage' && ++deltaCalls >= 2 ? throttled(5) : undefined));

    const result = await h.run();

    expect(result.outcome).toBe('throttled');
    expect(deltaCalls).toBe(3); // page 1, page 2 (429), its single retry (429) — nothing stacked
    expect(h.slept).toEqual([5000]);
  });

  it('when the wait would overrun the budget: checkpoint, throttledUntil, continuation with a visibility delay', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly }, settings: { timeBudgetSeconds: 300 } });
    const ids = Array.from({ length: 35 }, () => h.mailbox.create('Inbox'));
    let deltaCalls = 0;
    h.source.faults.push((kind) => (kind === 'deltaPage' && ++deltaCalls === 3 ? throttled(900) : undefined));
    const start = h.clock.now().getTime();

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'throttled', retryAt: new Date(start + 900_000).toISOString() });
    expect(h.slept).toEqual([]); // never waited past the budget
    const account = await h.account();
    expect(account).toMatchObject({
      throttledUntil: new Date(start + 900_000).toISOString(),
      lastSyncStatus: 'In Progress',
      syncErrorCode: 'MailboxThrottled',
    });
    expect(account.lease).toBeUndefined();
    expect(account.folderFilter[0]!.state!.nextLink).toBeDefined();
    expect(h.queue.sent).toEqual([
      { message: expect.objectContaining({ reason: 'continuation' }), visibilityDelaySeconds: 900 },
    ]);
    expect((await logs(h))[0]).toMatchObject({ status: 'Partial Success', errorCode: 'MailboxThrottled' });

    // The fan-out leaves the account alone meanwhile; a scheduled message arriving early does no work.
    const scheduled = await scheduleMailboxSync({
      emailAccounts: h.repos.emailAccounts,
      servicePrincipals: h.repos.servicePrincipals,
      queue: h.queue,
      clock: h.clock,
      logger: silentLogger,
    });
    expect(scheduled).toMatchObject({ enqueued: 0, skippedThrottled: 1 });
    h.queue.take();
    expect(await h.run('scheduled')).toEqual({ outcome: 'skipped', reason: 'throttled' });

    // A continuation that arrives early is kept alive (re-sent with the remaining delay), not lost.
    h.clock.advance(100_000);
    expect(await h.run('continuation')).toEqual({ outcome: 'skipped', reason: 'throttled' });
    expect(h.queue.take()).toEqual([
      { message: expect.objectContaining({ reason: 'continuation' }), visibilityDelaySeconds: 800 },
    ]);

    h.clock.advance(800_001);
    const resumed = await h.run('continuation');
    expect(resumed).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.communications()).toHaveLength(35);
    expect(new Set(h.communications().map((c) => c.graphMessageId))).toEqual(new Set(ids));
    expect((await h.account()).throttledUntil).toBeUndefined();
  });
});

describe('tokens', () => {
  it('on 401 invalidates the token once and retries', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    h.mailbox.create('Inbox');
    h.source.failNext('deltaPage', () => new MailSourceError(401, 'InvalidAuthenticationToken', 'expired'));
    expect(await h.run()).toMatchObject({ outcome: 'completed' });
    expect(h.source.tokenInvalidations).toBe(1);
    expect(h.communications()).toHaveLength(1);
  });

  it('a 401 that persists after one refresh fails the account with a remedy (not retried)', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    h.source.faults.push((kind) =>
      kind === 'resolveFolders' ? new MailSourceError(401, 'InvalidAuthenticationToken', 'bad token') : undefined,
    );
    const result = await h.run();
    expect(result).toMatchObject({ outcome: 'failed', code: 'InvalidAuthenticationToken' });
    expect(h.source.tokenInvalidations).toBe(1);
    expect(h.source.calls.resolveFolders).toBe(2);
  });

  it('an expired client secret (AADSTS7000222) fails the account with the fix', async () => {
    const h = await createHarness();
    h.source.faults.push(
      () => new MailSourceError(401, 'AADSTS7000222', 'The provided client secret keys are expired.'),
    );
    const result = await h.run();
    expect(result).toMatchObject({ outcome: 'failed', code: 'AADSTS7000222' });
    expect((await h.account()).syncErrorRemedy).toMatch(/new one/);
    expect(h.source.tokenInvalidations).toBe(0);
  });
});

describe('mailbox and folder errors', () => {
  it('ErrorAccessDenied → account Failed with the Graph code and a remedy, lease released, nothing thrown', async () => {
    const h = await createHarness();
    h.source.faults.push(() => new MailSourceError(403, 'ErrorAccessDenied', 'Access to OData is disabled.'));

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'failed', code: 'ErrorAccessDenied' });
    const account = await h.account();
    expect(account).toMatchObject({
      lastSyncStatus: 'Failed',
      syncErrorCode: 'ErrorAccessDenied',
      syncErrorMessage: 'Access to OData is disabled.',
    });
    expect(account.syncErrorRemedy).toMatch(/scope/);
    expect(account.lease).toBeUndefined();
    expect(h.queue.sent).toEqual([]);
  });

  it('one failing account does not affect another', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    const principal = (await h.account()).servicePrincipal;
    await h.repos.emailAccounts.create({
      accountName: 'Broken',
      accountType: 'Shared Mailbox',
      emailAddress: 'gone@contoso.example',
      user: 'admin@contoso.example',
      enabled: true,
      servicePrincipal: principal,
      folderFilter: inboxOnly,
      autoCreateContact: false,
      syncAttachments: false,
      maxAttachmentSize: 10,
    });
    h.source.faults.push((_kind, request) =>
      (request as { mailbox?: string }).mailbox === 'gone@contoso.example'
        ? new MailSourceError(
            404,
            'MailboxNotEnabledForRESTAPI',
            'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
          )
        : undefined,
    );
    h.mailbox.create('Inbox');
    const message = (emailAccount: string) => ({
      emailAccount,
      reason: 'scheduled' as const,
      requestedAt: h.clock.now().toISOString(),
    });

    const [broken, fine] = await Promise.all([
      syncMailbox(h.deps, message('Broken'), h.settings),
      syncMailbox(h.deps, message('Sales Inbox'), h.settings),
    ]);

    expect(broken).toMatchObject({ outcome: 'failed', code: 'MailboxNotEnabledForRESTAPI' });
    expect(fine).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect((await h.repos.emailAccounts.get('Broken'))!.syncErrorRemedy).toMatch(/Exchange Online/);
  });

  it('an unknown folder fails only that folder: Partial Success with the code and remedy', async () => {
    const h = await createHarness({
      account: { folderFilter: [...inboxOnly, { folderName: 'Inbox/Orders', syncEnabled: true }] },
    });
    h.mailbox.create('Inbox');

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Partial Success' });
    expect(h.communications()).toHaveLength(1);
    const account = await h.account();
    expect(account).toMatchObject({ lastSyncStatus: 'Partial Success', syncErrorCode: 'ErrorFolderNotFound' });
    expect(account.syncErrorRemedy).toMatch(/folder filter/);
    const orders = (await logs(h)).find((l) => l.folderName === 'Inbox/Orders');
    expect(orders).toMatchObject({ status: 'Failed', errorCode: 'ErrorFolderNotFound' });

    // Once the folder exists (nested path), it syncs.
    h.mailbox.addFolder('Inbox/Orders');
    const order = h.mailbox.create('Inbox/Orders', { subject: 'PO 7' });
    expect(await h.run()).toMatchObject({ status: 'Success' });
    expect(h.byGraphId().get(order)).toMatchObject({ folder: 'Inbox/Orders' });
  });

  it('a folder deleted and re-created (stored id gone) is resolved again and resynced', async () => {
    const h = await createHarness({ account: { folderFilter: [{ folderName: 'Projects', syncEnabled: true }] } });
    h.mailbox.addFolder('Projects');
    const old = h.mailbox.create('Projects');
    await h.run();
    const oldId = h.mailbox.folderId('Projects');
    h.mailbox.folders.delete(oldId);
    h.mailbox.messages.delete(old);
    h.mailbox.addFolder('Projects');
    const fresh = h.mailbox.create('Projects');

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.byGraphId().get(fresh)).toBeDefined();
    expect((await h.account()).folderFilter[0]!.state!.folderId).not.toBe(oldId);
  });

  it('transient Graph errors are thrown as retryable; unexpected errors are recorded, never thrown', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    h.source.failNext('resolveFolders', () => new MailSourceError(0, 'NetworkError', 'socket hang up'));
    await expect(h.run()).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', retryable: true });
    expect((await h.account()).lease).toBeUndefined();

    h.source.failNext('resolveFolders', () => new TypeError('cannot read properties of undefined'));
    const result = await h.run();
    expect(result).toMatchObject({ outcome: 'failed', code: 'InternalError' });
    expect((await h.account()).lastSyncStatus).toBe('Failed');
  });

  it('odd messages are still stored; one the engine cannot map is skipped and counted, not the whole folder', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    const normal = h.mailbox.create('Inbox');
    const odd = h.mailbox.create('Inbox', {
      importance: 'urgent',
      subject: null,
      from: null,
      receivedDateTime: null,
      sentDateTime: null,
      body: null,
    });
    h.mailbox.messages.get(odd)!.data.categories = ['a', 42 as unknown as string];
    const broken = h.mailbox.create('Inbox', { internetMessageId: 42 as unknown as string });
    const refused = h.mailbox.create('Inbox', { receivedDateTime: '+010000-01-01T00:00:00Z' }); // the store refuses its date

    const result = await h.run();

    expect(result).toMatchObject({ outcome: 'completed', status: 'Success' });
    expect(h.byGraphId().get(refused)).toBeUndefined();
    expect(h.byGraphId().get(normal)).toBeDefined();
    expect(h.byGraphId().get(odd)).toMatchObject({ subject: '', sender: '', content: '', categories: ['a'] });
    expect(h.byGraphId().get(odd)!.importance).toBeUndefined();
    expect(h.byGraphId().get(broken)).toBeUndefined();
    expect((await logs(h)).find((l) => l.folderName === 'Inbox')).toMatchObject({ emailsCreated: 2, emailsSkipped: 2 });
  });
});
