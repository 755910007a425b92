/**
 * Communication and contact routes: filters, detail view, linking to records, contact lookup.
 */
import { communicationGet } from '../../functions/communication-get';
import { communicationUpdate } from '../../functions/communication-update';
import { communicationsList } from '../../functions/communications-list';
import { contactsList } from '../../functions/contacts-list';
import { invokeRoute } from '../support/openapi-contract';
import {
  ALICE_ACCOUNT,
  ALICE_MAIL,
  BOB_MAIL,
  SHARED_ACCOUNT,
  SHARED_MAIL,
  useApiWorld,
  type ApiWorld,
} from './api-fixture';

let world: ApiWorld;
useApiWorld({ resetBeforeEach: true }, (started) => (world = started));

const ids = (res: { json: { items: { id: string }[] } }) => res.json.items.map((c) => c.id);

describe('GET /api/communications', () => {
  it('lists newest first, without bodies or internal blob names', async () => {
    const res = await invokeRoute(communicationsList, { token: world.tokens.admin });
    expect(ids(res)).toEqual([SHARED_MAIL, BOB_MAIL, ALICE_MAIL]);
    expect(res.json.items[0].content).toBeUndefined();
    expect(res.json.items[0].attachments[0]).toMatchObject({ fileName: 'invoice.pdf', status: 'stored' });
    expect(res.text).not.toMatch(/blobName|internal\/blob|graphMessageId|AAMk/);
  });

  it('filters by account, folder, since and reference', async () => {
    const token = world.tokens.inbox;
    expect(ids(await invokeRoute(communicationsList, { token, query: { emailAccount: SHARED_ACCOUNT } }))).toEqual([
      SHARED_MAIL,
    ]);
    expect(ids(await invokeRoute(communicationsList, { token, query: { folder: 'Sent Items' } }))).toEqual([]);
    expect(ids(await invokeRoute(communicationsList, { token, query: { since: '2025-02-21T00:00:00Z' } }))).toEqual([
      SHARED_MAIL,
      BOB_MAIL,
    ]);
    await invokeRoute(communicationUpdate, {
      token,
      params: { id: BOB_MAIL },
      body: { referenceDoctype: 'Lead', referenceName: 'LEAD-7' },
    });
    const linked = await invokeRoute(communicationsList, {
      token,
      query: { referenceDoctype: 'Lead', referenceName: 'LEAD-7' },
    });
    expect(ids(linked)).toEqual([BOB_MAIL]);
  });

  it('pages with limit and continuationToken', async () => {
    const first = await invokeRoute(communicationsList, { token: world.tokens.admin, query: { limit: '2' } });
    expect(ids(first)).toEqual([SHARED_MAIL, BOB_MAIL]);
    const second = await invokeRoute(communicationsList, {
      token: world.tokens.admin,
      query: { limit: '2', continuationToken: first.json.continuationToken },
    });
    expect(ids(second)).toEqual([ALICE_MAIL]);
    expect(second.json.continuationToken).toBeNull();
    // Another caller's query does not accept it (alice's list is restricted to her own mail).
    const foreign = await invokeRoute(communicationsList, {
      token: world.tokens.alice,
      query: { limit: '2', continuationToken: first.json.continuationToken },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.json.errors[0].field).toBe('query.continuationToken');
  });

  it.each([
    ['since', 'yesterday'],
    ['since', '2025-02-30T00:00:00Z'],
    ['emailAccount', '../x'],
    ['referenceDoctype', '<script>'],
    ['limit', '500'],
  ])('refuses %s=%j', async (key, value) => {
    const res = await invokeRoute(communicationsList, { token: world.tokens.admin, query: { [key]: value } });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].field).toBe(`query.${key}`);
  });
});

describe('GET /api/communications/{id}', () => {
  it('returns the body', async () => {
    const res = await invokeRoute(communicationGet, { token: world.tokens.alice, params: { id: ALICE_MAIL } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: ALICE_MAIL,
      content: '<p>Body 0</p>',
      contentStoredSeparately: false,
      owner: 'alice@contoso.test',
    });
    expect(res.headers.get('etag')).toBe(res.json.etag);
  });

  it('refuses an id that cannot exist', async () => {
    const res = await invokeRoute(communicationGet, { token: world.tokens.admin, params: { id: "x' OR 1=1" } });
    expect(res.status).toBe(400);
  });
});

describe('PATCH /api/communications/{id}', () => {
  it('links and unlinks a communication', async () => {
    const linked = await invokeRoute(communicationUpdate, {
      token: world.tokens.alice,
      params: { id: ALICE_MAIL },
      body: { referenceDoctype: 'Support Ticket', referenceName: 'TICKET-42' },
    });
    expect(linked.status).toBe(200);
    expect(linked.json).toMatchObject({ referenceDoctype: 'Support Ticket', referenceName: 'TICKET-42' });
    expect((await world.repos.communications.get(ALICE_ACCOUNT, ALICE_MAIL))?.referenceName).toBe('TICKET-42');

    const unlinked = await invokeRoute(communicationUpdate, {
      token: world.tokens.alice,
      params: { id: ALICE_MAIL },
      body: { referenceDoctype: null, referenceName: null },
    });
    expect(unlinked.status).toBe(200);
    expect(unlinked.json.referenceDoctype).toBeUndefined();
    expect((await world.repos.communications.get(ALICE_ACCOUNT, ALICE_MAIL))?.referenceDoctype).toBeUndefined();
  });

  it('refuses half a link and a stale If-Match, changing nothing', async () => {
    const before = world.snapshot();
    const half = await invokeRoute(communicationUpdate, {
      token: world.tokens.alice,
      params: { id: ALICE_MAIL },
      body: { referenceDoctype: 'Lead', referenceName: null },
    });
    expect(half.status).toBe(400);
    const stale = await invokeRoute(communicationUpdate, {
      token: world.tokens.alice,
      params: { id: ALICE_MAIL },
      body: { referenceDoctype: 'Lead', referenceName: 'L-1' },
      headers: { 'if-match': '"old"' },
    });
    expect(stale.status).toBe(409);
    expect(world.snapshot()).toBe(before);
  });
});

describe('GET /api/contacts', () => {
  it('finds a contact by address, case-insensitively; account names only for privileged callers', async () => {
    const mine = await invokeRoute(contactsList, {
      token: world.tokens.alice,
      query: { email: 'CAROL@fabrikam.test' },
    });
    expect(mine.json.items).toHaveLength(1);
    expect(mine.json.items[0]).toMatchObject({ emailId: 'carol@fabrikam.test', fullName: 'carol' });
    expect(mine.json.items[0].emailAccounts).toBeUndefined();
    expect(mine.text).not.toContain('owners');

    const admin = await invokeRoute(contactsList, {
      token: world.tokens.admin,
      query: { email: 'carol@fabrikam.test' },
    });
    expect(admin.json.items[0].emailAccounts).toEqual([ALICE_ACCOUNT]);
  });

  it('refuses an invalid address', async () => {
    const res = await invokeRoute(contactsList, { token: world.tokens.admin, query: { email: 'nope' } });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].field).toBe('query.email');
  });
});
