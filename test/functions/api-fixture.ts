/**
 * A seeded API world for function tests: a local identity provider (tokens for alice, bob, an Inbox User
 * and a System Manager), in-memory repositories wired into the API, and a fixed set of records:
 *
 * - service principals `Contoso` (enabled) and `Fabrikam` (disabled);
 * - `M365-alice@contoso.test` (alice's user mailbox), `M365-bob@contoso.test` (bob's), `Support` (a shared
 *   mailbox configured by the System Manager);
 * - one communication in each account (owned by the account's user), contacts seen in them, sync logs.
 *
 *   const world = await startApiWorld();   // beforeAll
 *   await world.reset();                   // beforeEach: fresh records
 *   await world.close();                   // afterAll
 *
 * or, with those hooks registered for the test file: `useApiWorld({ resetBeforeEach: true }, (w) => (world = w))`.
 */
import type { Clock } from '../../shared/domain/ports/clock';
import { setApiDependenciesForTests } from '../../shared/api/dependencies';
import { setHttpRuntimeForTests } from '../../shared/http/runtime';
import { communicationId } from '../../shared/domain/sync/ids';
import { createInMemoryRepositories, type InMemoryRepositories } from '../support/in-memory-repositories';
import { withServicePrincipalsAndSyncQueue, type ApiWorldExtras } from './api-world-extras';
import {
  startTestIdentityProvider,
  TEST_CALLERS,
  type TestCallerName,
  type TestIdentityProvider,
} from '../support/api-tokens';

export const ALICE_ACCOUNT = 'M365-alice@contoso.test';
export const BOB_ACCOUNT = 'M365-bob@contoso.test';
export const SHARED_ACCOUNT = 'Support';
export const ALICE_MAIL = communicationId('m365-alice@contoso.test', 'AAMkAlice1');
export const BOB_MAIL = communicationId('m365-bob@contoso.test', 'AAMkBob1');
export const SHARED_MAIL = communicationId('support', 'AAMkSupport1');

const TENANT = '9e7a1d2b-0000-4000-8000-00000000c0de';

export interface ApiWorld {
  idp: TestIdentityProvider;
  repos: InMemoryRepositories;
  /** Tokens by caller; `anonymous` is undefined (no Authorization header). */
  tokens: Record<TestCallerName, string> & { anonymous?: undefined };
  clock: Clock & { set(iso: string): void };
  /** Fresh repositories with the standard records. */
  reset(): Promise<void>;
  /** Every stored record (including uniqueness claims), to assert that nothing changed. */
  snapshot(): string;
  close(): Promise<void>;
}

export async function startApiWorld(): Promise<ApiWorld> {
  const idp = await startTestIdentityProvider();
  setHttpRuntimeForTests({ tokenVerifier: idp.verifier });
  let now = new Date('2025-03-01T12:00:00.000Z');
  const clock = { now: () => new Date(now), set: (iso: string) => (now = new Date(iso)) };
  const tokens = {
    alice: await idp.tokenFor('alice'),
    bob: await idp.tokenFor('bob'),
    inbox: await idp.tokenFor('inbox'),
    admin: await idp.tokenFor('admin'),
  };
  const world: ApiWorld = {
    idp,
    repos: createInMemoryRepositories({ clock }),
    tokens,
    clock,
    async reset() {
      world.repos = createInMemoryRepositories({ clock });
      setApiDependenciesForTests({ repositories: world.repos, clock });
      await seed(world.repos);
    },
    snapshot() {
      const r = world.repos;
      return JSON.stringify({
        servicePrincipals: r.servicePrincipals.table.all(),
        emailAccounts: r.emailAccounts.table.all(),
        claims: [...r.emailAccounts.claims.entries()],
        syncLogs: r.syncLogs.table.all(),
        communications: r.communications.table.all(),
        contacts: r.contacts.table.all(),
      });
    },
    async close() {
      setApiDependenciesForTests(undefined);
      setHttpRuntimeForTests(undefined);
      await idp.close();
    },
  };
  await world.reset();
  return world;
}

export interface UseApiWorldOptions {
  /** Fresh records before every test (default: the test resets when it needs to). */
  resetBeforeEach?: boolean;
}

/**
 * Runs an `ApiWorld` for the calling test file: started in `beforeAll` (wired with the service principal and
 * sync-queue extras of `api-world-extras.ts` when `extras` is set), reset before each test with
 * `resetBeforeEach`, closed in `afterAll`. `onStart` receives what was started.
 *
 *   let world: ApiWorld;
 *   useApiWorld({ resetBeforeEach: true }, (started) => (world = started));
 */
export function useApiWorld(options: UseApiWorldOptions, onStart: (world: ApiWorld) => void): void;
export function useApiWorld(
  options: UseApiWorldOptions & { extras: true },
  onStart: (world: ApiWorld, extras: ApiWorldExtras) => void,
): void;
export function useApiWorld(
  options: UseApiWorldOptions & { extras?: boolean },
  onStart: (world: ApiWorld, extras: ApiWorldExtras) => void,
): void {
  let world: ApiWorld | undefined;
  let extras: ApiWorldExtras | undefined;
  beforeAll(async () => {
    world = await startApiWorld();
    if (options.extras) extras = await withServicePrincipalsAndSyncQueue(world);
    onStart(world, extras as ApiWorldExtras);
  });
  afterAll(async () => {
    await extras?.close();
    await world?.close();
  });
  if (options.resetBeforeEach) {
    beforeEach(async () => {
      await world?.reset();
    });
  }
}

async function seed(repos: InMemoryRepositories): Promise<void> {
  for (const [name, enabled] of [
    ['Contoso', true],
    ['Fabrikam', false],
  ] as const) {
    await repos.servicePrincipals.create({
      servicePrincipalName: name,
      tenantId: TENANT,
      tenantName: `${name} Corp`,
      clientId: '9e7a1d2b-0000-4000-8000-00000000abcd',
      cloud: 'global',
      authorityUrl: `https://login.microsoftonline.com/${TENANT}`,
      graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
      enabled,
      credential: { kind: 'clientSecret', secretRef: { name: `sp-${name.toLowerCase()}` } },
      scopes: 'https://graph.microsoft.com/.default',
    });
  }
  const accounts = [
    {
      accountName: ALICE_ACCOUNT,
      accountType: 'User Mailbox',
      emailAddress: TEST_CALLERS.alice.username,
      user: TEST_CALLERS.alice.username,
    },
    {
      accountName: BOB_ACCOUNT,
      accountType: 'User Mailbox',
      emailAddress: TEST_CALLERS.bob.username,
      user: TEST_CALLERS.bob.username,
    },
    {
      accountName: SHARED_ACCOUNT,
      accountType: 'Shared Mailbox',
      emailAddress: 'support@contoso.test',
      user: TEST_CALLERS.admin.username,
    },
  ] as const;
  for (const account of accounts) {
    await repos.emailAccounts.create({
      ...account,
      enabled: true,
      servicePrincipal: 'Contoso',
      syncFromDate: '2025-01-01',
      folderFilter: [
        {
          folderName: 'Inbox',
          syncEnabled: true,
          lastSyncTime: '2025-02-28T10:00:00.000Z',
          state: { deltaLink: 'https://graph.microsoft.com/v1.0/delta?$deltatoken=SECRET-DELTA', processed: 3 },
        },
        { folderName: 'Sent Items', syncEnabled: true },
      ],
      autoCreateContact: true,
      syncAttachments: true,
      maxAttachmentSize: 10,
      linkingRules: [],
      lease: { holder: 'worker-1', expiresAt: '2025-03-01T12:05:00.000Z' },
    });
    await repos.syncLogs.create({
      emailAccount: account.accountName,
      folderName: 'Inbox',
      syncType: 'Scheduled',
      syncStartTime: '2025-02-28T10:00:00.000Z',
      syncEndTime: '2025-02-28T10:00:05.000Z',
      status: 'Success',
      emailsFetched: 3,
      emailsCreated: 3,
      emailsUpdated: 0,
      emailsSkipped: 0,
      emailsRemoved: 0,
    });
  }
  const mails = [
    { id: ALICE_MAIL, account: accounts[0], graphId: 'AAMkAlice1', sender: 'carol@fabrikam.test' },
    { id: BOB_MAIL, account: accounts[1], graphId: 'AAMkBob1', sender: 'dave@fabrikam.test' },
    { id: SHARED_MAIL, account: accounts[2], graphId: 'AAMkSupport1', sender: 'erin@customer.test' },
  ];
  await repos.communications.upsertMany(
    mails.map((mail, index) => ({
      id: mail.id,
      emailAccount: mail.account.accountName,
      accountType: mail.account.accountType,
      owner: mail.account.user,
      subject: `Hello ${index}`,
      sender: mail.sender,
      recipients: mail.account.emailAddress,
      cc: '',
      bcc: '',
      sentOrReceived: 'Received' as const,
      communicationDate: `2025-02-2${index}T09:00:00.000Z`,
      content: `<p>Body ${index}</p>`,
      seen: false,
      folder: 'Inbox',
      graphMessageId: mail.graphId,
      categories: [],
      attachments: [
        {
          id: `att-${index}`,
          fileName: 'invoice.pdf',
          contentType: 'application/pdf',
          size: 1234,
          isInline: false,
          kind: 'file' as const,
          status: 'stored' as const,
          blobName: `internal/blob/path-${index}`,
        },
      ],
      removedInM365: false,
    })),
  );
  for (const mail of mails) {
    await repos.contacts.upsertByEmail(mail.sender, {
      emailAccount: mail.account.accountName,
      owner: mail.account.user,
      seenAt: new Date('2025-02-25T09:00:00.000Z'),
      fullName: mail.sender.split('@')[0],
    });
  }
}
