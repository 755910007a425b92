/**
 * Email account routes: enabling sync, adding shared mailboxes, reading, changing, folders, deleting,
 * paging and sync logs.
 */
import { emailAccountDelete } from '../../functions/email-account-delete';
import { emailAccountFoldersSet } from '../../functions/email-account-folders-set';
import { emailAccountGet } from '../../functions/email-account-get';
import { emailAccountSyncLogs } from '../../functions/email-account-sync-logs';
import { emailAccountUpdate } from '../../functions/email-account-update';
import { emailAccountsEnableSync } from '../../functions/email-accounts-enable-sync';
import { emailAccountsList } from '../../functions/email-accounts-list';
import { sharedMailboxCreate } from '../../functions/shared-mailbox-create';
import { sharedMailboxesList } from '../../functions/shared-mailboxes-list';
import { invokeRoute } from '../support/openapi-contract';
import { TEST_CALLERS } from '../support/api-tokens';
import { ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT, useApiWorld, type ApiWorld } from './api-fixture';

let world: ApiWorld;
useApiWorld({ resetBeforeEach: true }, (started) => (world = started));

const inboxUser = TEST_CALLERS.inbox.username;

describe('POST /api/email-accounts/enable-sync', () => {
  it('creates the caller’s user mailbox account with the spec’s defaults', async () => {
    const res = await invokeRoute(emailAccountsEnableSync, {
      token: world.tokens.inbox,
      body: { servicePrincipal: 'contoso' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/api/email-accounts/${encodeURIComponent(`M365-${inboxUser}`)}`);
    expect(res.json).toMatchObject({
      accountName: `M365-${inboxUser}`,
      accountType: 'User Mailbox',
      emailAddress: inboxUser,
      user: inboxUser,
      enabled: true,
      servicePrincipal: 'Contoso',
      folderFilter: [
        { folderName: 'Inbox', syncEnabled: true },
        { folderName: 'Sent Items', syncEnabled: true },
      ],
      autoCreateContact: true,
      syncAttachments: true,
      maxAttachmentSize: 10,
      createdBy: inboxUser,
    });
    const stored = await world.repos.emailAccounts.get(`M365-${inboxUser}`);
    expect(stored?.user).toBe(inboxUser);
  });

  it('takes the caller’s settings and account name', async () => {
    const res = await invokeRoute(emailAccountsEnableSync, {
      token: world.tokens.inbox,
      body: {
        servicePrincipal: 'Contoso',
        emailAddress: inboxUser.toUpperCase(),
        accountName: 'Ina mail',
        syncFromDate: '2024-06-01',
        folderFilter: [{ folderName: 'Inbox/Orders' }, { folderName: 'Archive', syncEnabled: false }],
        syncAttachments: false,
        maxAttachmentSize: 25,
      },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      accountName: 'Ina mail',
      emailAddress: inboxUser,
      syncFromDate: '2024-06-01',
      folderFilter: [
        { folderName: 'Inbox/Orders', syncEnabled: true },
        { folderName: 'Archive', syncEnabled: false },
      ],
      syncAttachments: false,
      maxAttachmentSize: 25,
    });
  });

  it('re-enables the caller’s existing account and keeps its sync progress', async () => {
    await world.repos.emailAccounts.update(ALICE_ACCOUNT, (a) => ({ ...a, enabled: false }));
    const res = await invokeRoute(emailAccountsEnableSync, {
      token: world.tokens.alice,
      body: { servicePrincipal: 'Contoso' },
    });
    expect(res.status).toBe(200);
    expect(res.json.enabled).toBe(true);
    const stored = await world.repos.emailAccounts.get(ALICE_ACCOUNT);
    expect(stored?.enabled).toBe(true);
    expect(stored?.folderFilter[0]?.state?.deltaLink).toContain('SECRET-DELTA');
  });

  it('accepts the address in the caller’s email claim when it differs from their username', async () => {
    const token = await world.idp.mint({
      preferred_username: 'dana@contoso.onmicrosoft.com',
      email: 'Dana@Contoso.test',
      oid: '55555555-5555-4555-8555-555555555555',
    });
    const res = await invokeRoute(emailAccountsEnableSync, {
      token,
      body: { servicePrincipal: 'Contoso', emailAddress: 'dana@contoso.test' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ emailAddress: 'dana@contoso.test', user: 'dana@contoso.onmicrosoft.com' });
  });

  it('refuses another person’s address (403) and changes nothing', async () => {
    const before = world.snapshot();
    const res = await invokeRoute(emailAccountsEnableSync, {
      token: world.tokens.alice,
      body: { servicePrincipal: 'Contoso', emailAddress: TEST_CALLERS.bob.username },
    });
    expect(res.status).toBe(403);
    expect(world.snapshot()).toBe(before);
  });

  it.each([
    ['a disabled service principal', 'Fabrikam'],
    ['a missing service principal', 'Nowhere'],
  ])('refuses %s (400 on servicePrincipal)', async (_what, servicePrincipal) => {
    const before = world.snapshot();
    const res = await invokeRoute(emailAccountsEnableSync, { token: world.tokens.inbox, body: { servicePrincipal } });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'servicePrincipal', message: 'is not an enabled service principal' }]);
    expect(world.snapshot()).toBe(before);
  });

  it('answers 409 when the chosen account name belongs to someone else', async () => {
    const before = world.snapshot();
    const res = await invokeRoute(emailAccountsEnableSync, {
      token: world.tokens.alice,
      body: { servicePrincipal: 'Contoso', accountName: BOB_ACCOUNT },
    });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'CONFLICT', details: { reason: 'duplicate', field: 'accountName' } });
    expect(world.snapshot()).toBe(before);
  });
});

describe('POST /api/shared-mailboxes', () => {
  it('creates a shared mailbox owned by the System Manager', async () => {
    const res = await invokeRoute(sharedMailboxCreate, {
      token: world.tokens.admin,
      body: { servicePrincipal: 'Contoso', emailAddress: 'Sales@Contoso.test' },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      accountName: 'M365-sales@contoso.test',
      accountType: 'Shared Mailbox',
      emailAddress: 'sales@contoso.test',
      user: TEST_CALLERS.admin.username,
    });
  });

  it('answers 409 when the address is already synced through the same service principal', async () => {
    const res = await invokeRoute(sharedMailboxCreate, {
      token: world.tokens.admin,
      body: { servicePrincipal: 'Contoso', emailAddress: 'support@contoso.test', accountName: 'Support 2' },
    });
    expect(res.status).toBe(409);
    expect(res.json.details).toMatchObject({ reason: 'duplicate', field: 'emailAddress' });
  });

  it('requires emailAddress', async () => {
    const res = await invokeRoute(sharedMailboxCreate, {
      token: world.tokens.admin,
      body: { servicePrincipal: 'Contoso' },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'emailAddress', message: 'is required' }]);
  });
});

describe('GET /api/email-accounts/{name}', () => {
  it('returns the account without internal state (leases, delta links), with its ETag', async () => {
    const res = await invokeRoute(emailAccountGet, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT.toUpperCase() },
    });
    expect(res.status).toBe(200);
    expect(res.json.accountName).toBe(ALICE_ACCOUNT);
    expect(res.json.folderFilter[0]).toEqual({
      folderName: 'Inbox',
      syncEnabled: true,
      lastSyncTime: '2025-02-28T10:00:00.000Z',
    });
    expect(res.text).not.toMatch(/SECRET-DELTA|deltaLink|lease|worker-1|docType/);
    expect(res.headers.get('etag')).toBe(res.json.etag);
  });
});

describe('PATCH /api/email-accounts/{name}', () => {
  it('changes only the given fields; null clears syncFromDate', async () => {
    const res = await invokeRoute(emailAccountUpdate, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { enabled: false, syncFromDate: null, maxAttachmentSize: 3 },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ enabled: false, maxAttachmentSize: 3, syncAttachments: true });
    expect(res.json.syncFromDate).toBeUndefined();
  });

  it('refuses switching to a disabled service principal', async () => {
    const before = world.snapshot();
    const res = await invokeRoute(emailAccountUpdate, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { servicePrincipal: 'Fabrikam' },
    });
    expect(res.status).toBe(400);
    expect(world.snapshot()).toBe(before);
  });

  it('honours If-Match: a stale ETag is 409 and changes nothing; the current one succeeds', async () => {
    const current = await invokeRoute(emailAccountGet, { token: world.tokens.alice, params: { name: ALICE_ACCOUNT } });
    await world.repos.emailAccounts.update(ALICE_ACCOUNT, (a) => ({ ...a, autoCreateContact: false }));
    const before = world.snapshot();
    const stale = await invokeRoute(emailAccountUpdate, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { enabled: false },
      headers: { 'if-match': current.json.etag },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.details).toEqual({ reason: 'stale' });
    expect(world.snapshot()).toBe(before);

    const fresh = await invokeRoute(emailAccountGet, { token: world.tokens.alice, params: { name: ALICE_ACCOUNT } });
    const ok = await invokeRoute(emailAccountUpdate, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { enabled: false },
      headers: { 'if-match': fresh.json.etag },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.enabled).toBe(false);
  });

  it('refuses an empty change', async () => {
    const res = await invokeRoute(emailAccountUpdate, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: {},
    });
    expect(res.status).toBe(400);
  });
});

describe('PUT /api/email-accounts/{name}/folders', () => {
  it('replaces the folder list, keeping the progress of folders still listed', async () => {
    const res = await invokeRoute(emailAccountFoldersSet, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { folderFilter: [{ folderName: 'INBOX' }, { folderName: 'Archive/2024', syncEnabled: false }] },
    });
    expect(res.status).toBe(200);
    expect(res.json.folderFilter).toEqual([
      { folderName: 'INBOX', syncEnabled: true, lastSyncTime: '2025-02-28T10:00:00.000Z' },
      { folderName: 'Archive/2024', syncEnabled: false },
    ]);
    const stored = await world.repos.emailAccounts.get(ALICE_ACCOUNT);
    expect(stored?.folderFilter[0]?.state?.deltaLink).toContain('SECRET-DELTA');
    expect(stored?.folderFilter[1]?.state).toBeUndefined();
  });

  it('refuses a folder listed twice', async () => {
    const res = await invokeRoute(emailAccountFoldersSet, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      body: { folderFilter: [{ folderName: 'Inbox' }, { folderName: 'inbox' }] },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'folderFilter.1.folderName', message: 'is listed twice' }]);
  });
});

describe('DELETE /api/email-accounts/{name}', () => {
  it('deletes the account and keeps its communications', async () => {
    const res = await invokeRoute(emailAccountDelete, { token: world.tokens.alice, params: { name: ALICE_ACCOUNT } });
    expect(res.status).toBe(204);
    expect(await world.repos.emailAccounts.get(ALICE_ACCOUNT)).toBeUndefined();
    const again = await invokeRoute(emailAccountGet, { token: world.tokens.alice, params: { name: ALICE_ACCOUNT } });
    expect(again.status).toBe(404);
    const mail = await world.repos.communications.list({ limit: 10 }, { emailAccount: ALICE_ACCOUNT });
    expect(mail.items).toHaveLength(1);
  });

  it('refuses a stale If-Match', async () => {
    const res = await invokeRoute(emailAccountDelete, {
      token: world.tokens.alice,
      params: { name: ALICE_ACCOUNT },
      headers: { 'if-match': '"not-the-etag"' },
    });
    expect(res.status).toBe(409);
    expect(await world.repos.emailAccounts.get(ALICE_ACCOUNT)).toBeDefined();
  });
});

describe('lists', () => {
  async function collect(route: typeof emailAccountsList, token: string, query: Record<string, string> = {}) {
    const names: string[] = [];
    let continuationToken: string | null = null;
    let pages = 0;
    do {
      const res = await invokeRoute(route, {
        token,
        query: { ...query, limit: '1', ...(continuationToken ? { continuationToken } : {}) },
      });
      expect(res.status).toBe(200);
      expect(res.json.items.length).toBeLessThanOrEqual(1);
      const items = res.json.items as { accountName: string }[];
      names.push(...items.map((a) => a.accountName));
      continuationToken = res.json.continuationToken;
      pages += 1;
    } while (continuationToken && pages < 20);
    return names;
  }

  it('pages through every account for a System Manager', async () => {
    expect((await collect(emailAccountsList, world.tokens.admin)).sort()).toEqual(
      [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT].sort(),
    );
  });

  it('pages an Inbox User through their own user mailboxes, then the shared mailboxes', async () => {
    await invokeRoute(emailAccountsEnableSync, { token: world.tokens.inbox, body: { servicePrincipal: 'Contoso' } });
    expect(await collect(emailAccountsList, world.tokens.inbox)).toEqual([`M365-${inboxUser}`, SHARED_ACCOUNT]);
    expect(await collect(emailAccountsList, world.tokens.inbox, { accountType: 'Shared Mailbox' })).toEqual([
      SHARED_ACCOUNT,
    ]);
    expect(await collect(emailAccountsList, world.tokens.inbox, { accountType: 'User Mailbox' })).toEqual([
      `M365-${inboxUser}`,
    ]);
  });

  it('filters by enabled', async () => {
    await world.repos.emailAccounts.update(BOB_ACCOUNT, (a) => ({ ...a, enabled: false }));
    expect(await collect(emailAccountsList, world.tokens.admin, { enabled: 'false' })).toEqual([BOB_ACCOUNT]);
    expect(await collect(sharedMailboxesList, world.tokens.admin, { enabled: 'true' })).toEqual([SHARED_ACCOUNT]);
  });

  it('refuses a tampered or foreign continuation token', async () => {
    await invokeRoute(emailAccountsEnableSync, { token: world.tokens.inbox, body: { servicePrincipal: 'Contoso' } });
    await invokeRoute(sharedMailboxCreate, {
      token: world.tokens.admin,
      body: { servicePrincipal: 'Contoso', emailAddress: 'sales@contoso.test' },
    });
    for (const token of [world.tokens.admin, world.tokens.inbox]) {
      const first = await invokeRoute(emailAccountsList, { token, query: { limit: '1' } });
      const issued: string = first.json.continuationToken;
      expect(issued).toEqual(expect.any(String));
      const flipped = issued.slice(0, 12) + (issued[12] === 'A' ? 'B' : 'A') + issued.slice(13);
      // A token issued for another query (a shared-mailbox-only list) is foreign here.
      const foreign = await invokeRoute(sharedMailboxesList, { token: world.tokens.admin, query: { limit: '1' } });
      for (const bad of ['garbage!', 'eyJwIjo5LCJ0IjpudWxsfQ', flipped, foreign.json.continuationToken as string]) {
        const res = await invokeRoute(emailAccountsList, { token, query: { continuationToken: bad } });
        expect(res.status).toBe(400);
        expect(res.json.errors[0].field).toBe('query.continuationToken');
      }
    }
  });
});

describe('GET /api/email-accounts/{name}/sync-logs', () => {
  it('lists the account’s logs', async () => {
    const res = await invokeRoute(emailAccountSyncLogs, { token: world.tokens.alice, params: { name: ALICE_ACCOUNT } });
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0]).toMatchObject({ emailAccount: ALICE_ACCOUNT, status: 'Success', emailsCreated: 3 });
    expect(res.json.continuationToken).toBeNull();
  });
});
