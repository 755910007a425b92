/**
 * The authorization matrix: every route run as anonymous, a user (the owner of the record), another user,
 * an Inbox User and a System Manager, each on fresh records, asserting the status (and, for lists, what
 * each caller sees). Every response is also checked against the OpenAPI document.
 */
import type { DefinedRoute } from '../../shared/http/route';
import { communicationGet } from '../../functions/communication-get';
import { communicationUpdate } from '../../functions/communication-update';
import { communicationsList } from '../../functions/communications-list';
import { contactsList } from '../../functions/contacts-list';
import { emailAccountDelete } from '../../functions/email-account-delete';
import { emailAccountFoldersSet } from '../../functions/email-account-folders-set';
import { emailAccountGet } from '../../functions/email-account-get';
import { emailAccountSyncLogs } from '../../functions/email-account-sync-logs';
import { emailAccountUpdate } from '../../functions/email-account-update';
import { emailAccountsEnableSync } from '../../functions/email-accounts-enable-sync';
import { emailAccountsList } from '../../functions/email-accounts-list';
import { openApi } from '../../functions/openapi';
import { sharedMailboxCreate } from '../../functions/shared-mailbox-create';
import { sharedMailboxesList } from '../../functions/shared-mailboxes-list';
import { servicePrincipalCreate } from '../../functions/service-principal-create';
import { servicePrincipalDelete } from '../../functions/service-principal-delete';
import { servicePrincipalGet } from '../../functions/service-principal-get';
import { servicePrincipalTest } from '../../functions/service-principal-test';
import { servicePrincipalUpdate } from '../../functions/service-principal-update';
import { servicePrincipalsList } from '../../functions/service-principals-list';
import { emailAccountSync } from '../../functions/email-account-sync';
import { emailAccountSyncStatus } from '../../functions/email-account-sync-status';
import { syncOwnAccounts } from '../../functions/sync-own-accounts';
import { syncStatusList } from '../../functions/sync-status-list';
import type { ApiWorldExtras } from './api-world-extras';
import { invokeRoute, type InvokeRequest } from '../support/openapi-contract';
import { communicationAttachmentGet } from '../../functions/communication-attachment-get';
import { emailAccountFoldersList } from '../../functions/email-account-folders-list';
import { installSyncApiFakes, uninstallSyncApiFakes } from './sync-api-fixture';
import {
  ALICE_ACCOUNT,
  ALICE_MAIL,
  BOB_ACCOUNT,
  SHARED_ACCOUNT,
  SHARED_MAIL,
  useApiWorld,
  type ApiWorld,
} from './api-fixture';

type Caller = 'anonymous' | 'alice' | 'bob' | 'inbox' | 'admin';
const CALLERS: Caller[] = ['anonymous', 'alice', 'bob', 'inbox', 'admin'];

interface MatrixRow {
  title: string;
  route: DefinedRoute;
  request: InvokeRequest;
  /** Expected status per caller: anonymous, alice (owner), bob (another user), inbox, admin. */
  expect: [number, number, number, number, number];
  /** For lists: what each caller sees (a property of each item), in the same caller order. */
  sees?: { key: string; values: [string[] | null, string[], string[], string[], string[]] };
}

const account = (name: string) => ({ params: { name } });
const link = { referenceDoctype: 'Support Ticket', referenceName: 'TICKET-1' };

const MATRIX: MatrixRow[] = [
  {
    title: 'GET email-accounts',
    route: emailAccountsList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'accountName',
      values: [null, [ALICE_ACCOUNT], [BOB_ACCOUNT], [SHARED_ACCOUNT], [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT]],
    },
  },
  {
    title: "GET alice's account",
    route: emailAccountGet,
    request: account(ALICE_ACCOUNT),
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: 'GET the shared mailbox',
    route: emailAccountGet,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: 'GET a missing account',
    route: emailAccountGet,
    request: account('M365-nobody@contoso.test'),
    expect: [401, 404, 404, 404, 404],
  },
  {
    title: "PATCH alice's account",
    route: emailAccountUpdate,
    request: { ...account(ALICE_ACCOUNT), body: { enabled: false } },
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: 'PATCH the shared mailbox',
    route: emailAccountUpdate,
    request: { ...account(SHARED_ACCOUNT), body: { enabled: false } },
    expect: [401, 404, 404, 403, 200],
  },
  {
    title: "PUT alice's folders",
    route: emailAccountFoldersSet,
    request: { ...account(ALICE_ACCOUNT), body: { folderFilter: [{ folderName: 'Inbox' }] } },
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: "PUT the shared mailbox's folders",
    route: emailAccountFoldersSet,
    request: { ...account(SHARED_ACCOUNT), body: { folderFilter: [{ folderName: 'Inbox' }] } },
    expect: [401, 404, 404, 403, 200],
  },
  {
    title: "DELETE alice's account",
    route: emailAccountDelete,
    request: account(ALICE_ACCOUNT),
    expect: [401, 204, 404, 404, 204],
  },
  {
    title: 'DELETE the shared mailbox',
    route: emailAccountDelete,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 403, 204],
  },
  {
    title: "GET alice's sync logs",
    route: emailAccountSyncLogs,
    request: account(ALICE_ACCOUNT),
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: "GET the shared mailbox's sync logs",
    route: emailAccountSyncLogs,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: 'POST enable-sync (own mailbox; alice and bob already have theirs)',
    route: emailAccountsEnableSync,
    request: { body: { servicePrincipal: 'Contoso' } },
    expect: [401, 200, 200, 201, 201],
  },
  {
    title: "POST enable-sync for someone else's address",
    route: emailAccountsEnableSync,
    request: { body: { servicePrincipal: 'Contoso', emailAddress: 'carol@contoso.test' } },
    expect: [401, 403, 403, 403, 403],
  },
  {
    title: 'POST shared-mailboxes',
    route: sharedMailboxCreate,
    request: { body: { servicePrincipal: 'Contoso', emailAddress: 'sales@contoso.test' } },
    expect: [401, 403, 403, 403, 201],
  },
  {
    title: 'GET shared-mailboxes',
    route: sharedMailboxesList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: { key: 'accountName', values: [null, [], [], [SHARED_ACCOUNT], [SHARED_ACCOUNT]] },
  },
  {
    title: 'GET communications',
    route: communicationsList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'emailAccount',
      values: [
        null,
        [ALICE_ACCOUNT],
        [BOB_ACCOUNT],
        [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT],
        [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT],
      ],
    },
  },
  {
    title: "GET communications filtered to alice's account",
    route: communicationsList,
    request: { query: { emailAccount: ALICE_ACCOUNT } },
    expect: [401, 200, 200, 200, 200],
    sees: { key: 'emailAccount', values: [null, [ALICE_ACCOUNT], [], [ALICE_ACCOUNT], [ALICE_ACCOUNT]] },
  },
  {
    title: "GET alice's communication",
    route: communicationGet,
    request: { params: { id: ALICE_MAIL } },
    expect: [401, 200, 404, 200, 200],
  },
  {
    title: 'GET a shared mailbox communication',
    route: communicationGet,
    request: { params: { id: SHARED_MAIL } },
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: 'GET a missing communication',
    route: communicationGet,
    request: { params: { id: 'f'.repeat(48) } },
    expect: [401, 404, 404, 404, 404],
  },
  {
    title: "PATCH alice's communication",
    route: communicationUpdate,
    request: { params: { id: ALICE_MAIL }, body: link },
    expect: [401, 200, 404, 200, 200],
  },
  {
    title: 'PATCH a shared mailbox communication',
    route: communicationUpdate,
    request: { params: { id: SHARED_MAIL }, body: link },
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: 'GET contacts',
    route: contactsList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'emailId',
      values: [
        null,
        ['carol@fabrikam.test'],
        ['dave@fabrikam.test'],
        ['carol@fabrikam.test', 'dave@fabrikam.test', 'erin@customer.test'],
        ['carol@fabrikam.test', 'dave@fabrikam.test', 'erin@customer.test'],
      ],
    },
  },
  {
    title: 'GET contacts?email= of a contact from bob’s mail',
    route: contactsList,
    request: { query: { email: 'Dave@Fabrikam.test' } },
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'emailId',
      values: [null, [], ['dave@fabrikam.test'], ['dave@fabrikam.test'], ['dave@fabrikam.test']],
    },
  },
  { title: 'GET openapi.json', route: openApi, request: {}, expect: [200, 200, 200, 200, 200] },
  {
    title: "GET alice's mailbox folders",
    route: emailAccountFoldersList,
    request: account(ALICE_ACCOUNT),
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: "GET the shared mailbox's folders",
    route: emailAccountFoldersList,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: "GET a missing account's folders",
    route: emailAccountFoldersList,
    request: account('M365-nobody@contoso.test'),
    expect: [401, 404, 404, 404, 404],
  },
  {
    title: "GET an attachment of alice's communication",
    route: communicationAttachmentGet,
    request: { params: { id: ALICE_MAIL, attachmentId: 'att-0' } },
    expect: [401, 200, 404, 200, 200],
  },
  {
    title: 'GET an attachment of a shared mailbox communication',
    route: communicationAttachmentGet,
    request: { params: { id: SHARED_MAIL, attachmentId: 'att-2' } },
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: "GET a missing attachment of alice's communication",
    route: communicationAttachmentGet,
    request: { params: { id: ALICE_MAIL, attachmentId: 'att-missing' } },
    expect: [401, 404, 404, 404, 404],
  },
  {
    title: 'GET service-principals (others: enabled ones, names only)',
    route: servicePrincipalsList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'servicePrincipalName',
      values: [null, ['Contoso'], ['Contoso'], ['Contoso'], ['Contoso', 'Fabrikam']],
    },
  },
  {
    title: 'POST service-principals',
    route: servicePrincipalCreate,
    request: {
      body: {
        servicePrincipalName: 'Northwind',
        tenantId: '9e7a1d2b-0000-4000-8000-00000000beef',
        clientId: '9e7a1d2b-0000-4000-8000-00000000cafe',
        clientSecret: 'matrix-secret-value',
      },
    },
    expect: [401, 403, 403, 403, 201],
  },
  {
    title: 'GET a service principal',
    route: servicePrincipalGet,
    request: { params: { name: 'Contoso' } },
    expect: [401, 403, 403, 403, 200],
  },
  {
    title: 'GET a missing service principal',
    route: servicePrincipalGet,
    request: { params: { name: 'Nowhere' } },
    expect: [401, 403, 403, 403, 404],
  },
  {
    title: 'PATCH a service principal',
    route: servicePrincipalUpdate,
    request: { params: { name: 'Contoso' }, body: { description: 'Main tenant' } },
    expect: [401, 403, 403, 403, 200],
  },
  {
    title: 'DELETE an unused service principal',
    route: servicePrincipalDelete,
    request: { params: { name: 'Fabrikam' } },
    expect: [401, 403, 403, 403, 204],
  },
  {
    title: 'POST test a service principal',
    route: servicePrincipalTest,
    request: { params: { name: 'Contoso' } },
    expect: [401, 403, 403, 403, 200],
  },
  {
    title: "POST sync alice's account (a sync holds the lease: nothing queued)",
    route: emailAccountSync,
    request: account(ALICE_ACCOUNT),
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: 'POST sync the shared mailbox',
    route: emailAccountSync,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 403, 200],
  },
  {
    title: 'POST sync (your own accounts)',
    route: syncOwnAccounts,
    request: {},
    expect: [401, 202, 202, 202, 202],
  },
  {
    title: "GET alice's sync status",
    route: emailAccountSyncStatus,
    request: account(ALICE_ACCOUNT),
    expect: [401, 200, 404, 404, 200],
  },
  {
    title: "GET the shared mailbox's sync status",
    route: emailAccountSyncStatus,
    request: account(SHARED_ACCOUNT),
    expect: [401, 404, 404, 200, 200],
  },
  {
    title: 'GET sync-status (the accounts you may see)',
    route: syncStatusList,
    request: {},
    expect: [401, 200, 200, 200, 200],
    sees: {
      key: 'accountName',
      values: [null, [ALICE_ACCOUNT], [BOB_ACCOUNT], [SHARED_ACCOUNT], [ALICE_ACCOUNT, BOB_ACCOUNT, SHARED_ACCOUNT]],
    },
  },
];

let world: ApiWorld;
let extras: ApiWorldExtras;
useApiWorld({ extras: true }, (started, withExtras) => {
  world = started;
  extras = withExtras;
  installSyncApiFakes(world);
});
afterAll(() => {
  uninstallSyncApiFakes();
});

describe.each(MATRIX)('$title', (row) => {
  it.each(CALLERS.map((caller, index) => [caller, row.expect[index]!, index] as const))(
    'as %s → %i',
    async (caller, status, index) => {
      await world.reset();
      const before = world.snapshot();
      const token = caller === 'anonymous' ? undefined : world.tokens[caller];
      const res = await invokeRoute(row.route, { ...row.request, ...(token ? { token } : {}) });
      expect(res.status).toBe(status);
      if (status >= 400) {
        expect(res.json.code).toBe(
          ({ 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' } as Record<number, string>)[status],
        );
        // A refused request changes nothing.
        expect(world.snapshot()).toBe(before);
        expect(await extras.sideEffects()).toEqual({ secrets: 0, queued: 0 });
      }
      const expected = row.sees?.values[index];
      if (row.sees && expected) {
        const seen = (res.json.items as Record<string, string>[]).map((item) => item[row.sees!.key]).sort();
        expect(seen).toEqual([...expected].sort());
      }
    },
  );
});

it('covers every route defined by the API function files', () => {
  const covered = new Set(MATRIX.map((row) => row.route.name));
  for (const route of [
    emailAccountsList,
    emailAccountGet,
    emailAccountUpdate,
    emailAccountDelete,
    emailAccountFoldersSet,
    emailAccountSyncLogs,
    emailAccountsEnableSync,
    sharedMailboxCreate,
    sharedMailboxesList,
    communicationsList,
    communicationGet,
    communicationUpdate,
    contactsList,
    openApi,
    emailAccountFoldersList,
    communicationAttachmentGet,
    servicePrincipalsList,
    servicePrincipalCreate,
    servicePrincipalGet,
    servicePrincipalUpdate,
    servicePrincipalDelete,
    servicePrincipalTest,
    emailAccountSync,
    syncOwnAccounts,
    emailAccountSyncStatus,
    syncStatusList,
  ]) {
    expect(covered.has(route.name)).toBe(true);
  }
});
