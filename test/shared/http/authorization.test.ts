/**
 * The access rules as a table: each caller against each kind of record.
 */
import {
  canCreateSharedMailbox,
  canEditEmailAccount,
  canLinkCommunication,
  canManageServicePrincipals,
  canReadCommunication,
  canReadContact,
  canReadEmailAccount,
  communicationOwnerScope,
  emailAccountScope,
  servicePrincipalView,
} from '../../../shared/http/authorization';
import type { ServicePrincipalRecord } from '../../../shared/domain/records';
import { principalOf, TEST_CALLERS, type TestCallerName } from '../../support/api-tokens';

const alice = TEST_CALLERS.alice.username;
const admin = TEST_CALLERS.admin.username;
const aliceMailbox = { accountType: 'User Mailbox' as const, user: alice };
const sharedMailbox = { accountType: 'Shared Mailbox' as const, user: admin };
const sharedMailboxOfAlice = { accountType: 'Shared Mailbox' as const, user: alice };

type Row = [TestCallerName, boolean, boolean];

describe('email accounts', () => {
  it.each<Row>([
    ['alice', true, true],
    ['bob', false, false],
    ['inbox', false, false],
    ['admin', true, true],
  ])("%s on alice's user mailbox: read %s, edit %s", (caller, read, edit) => {
    expect(canReadEmailAccount(principalOf(caller), aliceMailbox)).toBe(read);
    expect(canEditEmailAccount(principalOf(caller), aliceMailbox)).toBe(edit);
  });

  it.each<Row>([
    ['alice', false, false],
    ['bob', false, false],
    ['inbox', true, false],
    ['admin', true, true],
  ])('%s on a shared mailbox: read %s, edit %s', (caller, read, edit) => {
    expect(canReadEmailAccount(principalOf(caller), sharedMailbox)).toBe(read);
    expect(canEditEmailAccount(principalOf(caller), sharedMailbox)).toBe(edit);
  });

  it('a shared mailbox recorded under a user who is not a System Manager is not theirs to see or edit', () => {
    expect(canReadEmailAccount(principalOf('alice'), sharedMailboxOfAlice)).toBe(false);
    expect(canEditEmailAccount(principalOf('alice'), sharedMailboxOfAlice)).toBe(false);
  });

  it('matches the owner case-insensitively', () => {
    expect(canReadEmailAccount(principalOf('alice'), { accountType: 'User Mailbox', user: alice.toUpperCase() })).toBe(
      true,
    );
  });

  it.each<[TestCallerName, boolean]>([
    ['alice', false],
    ['bob', false],
    ['inbox', false],
    ['admin', true],
  ])('%s may create shared mailboxes: %s', (caller, allowed) => {
    expect(canCreateSharedMailbox(principalOf(caller))).toBe(allowed);
  });

  it('lists: all for System Managers; own user mailboxes (+ shared ones for Inbox Users) for others', () => {
    expect(emailAccountScope(principalOf('admin'))).toEqual({ kind: 'all' });
    expect(emailAccountScope(principalOf('alice'))).toEqual({
      kind: 'restricted',
      ownUser: alice,
      includeSharedMailboxes: false,
    });
    expect(emailAccountScope(principalOf('inbox'))).toEqual({
      kind: 'restricted',
      ownUser: TEST_CALLERS.inbox.username,
      includeSharedMailboxes: true,
    });
  });
});

describe('communications and contacts', () => {
  it.each<[TestCallerName, boolean]>([
    ['alice', true],
    ['bob', false],
    ['inbox', true],
    ['admin', true],
  ])("%s on alice's communication: read and link %s", (caller, allowed) => {
    expect(canReadCommunication(principalOf(caller), { owner: alice })).toBe(allowed);
    expect(canLinkCommunication(principalOf(caller), { owner: alice })).toBe(allowed);
  });

  it.each<[TestCallerName, boolean]>([
    ['alice', true],
    ['bob', false],
    ['inbox', true],
    ['admin', true],
  ])('%s on a contact seen in alice’s mail: %s', (caller, allowed) => {
    expect(canReadContact(principalOf(caller), { owners: ['someone@x.test', alice] })).toBe(allowed);
  });

  it('restricts lists to the caller’s own communications unless Inbox User or System Manager', () => {
    expect(communicationOwnerScope(principalOf('alice'))).toBe(alice);
    expect(communicationOwnerScope(principalOf('inbox'))).toBeUndefined();
    expect(communicationOwnerScope(principalOf('admin'))).toBeUndefined();
  });
});

describe('service principals', () => {
  const record: ServicePrincipalRecord = {
    id: 'contoso',
    docType: 'servicePrincipal',
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
    servicePrincipalName: 'Contoso',
    tenantId: '9e7a1d2b-0000-4000-8000-00000000c0de',
    tenantName: 'Contoso Corp',
    clientId: '9e7a1d2b-0000-4000-8000-00000000abcd',
    cloud: 'global',
    authorityUrl: 'https://login.microsoftonline.com/9e7a1d2b-0000-4000-8000-00000000c0de',
    graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
    enabled: true,
    credential: {
      kind: 'clientSecret',
      secretRef: { name: 'sp-contoso-secret', version: 'v1' },
      expiresAt: '2026-01-01T00:00:00Z',
    },
    tokenCache: { keyId: 'k', iv: 'iv', tag: 'tag', ciphertext: 'SECRET-CACHE' },
    scopes: 'https://graph.microsoft.com/.default',
  };

  it('System Managers see every field except secrets and secret pointers', () => {
    const result = servicePrincipalView(principalOf('admin'), record);
    expect(result?.kind).toBe('admin');
    const text = JSON.stringify(result?.view);
    expect(text).not.toContain('SECRET-CACHE');
    expect(text).not.toContain('sp-contoso-secret');
    expect(result?.view).toMatchObject({
      servicePrincipalName: 'Contoso',
      clientId: record.clientId,
      credential: { kind: 'clientSecret', expiresAt: '2026-01-01T00:00:00Z' },
    });
  });

  it.each<TestCallerName>(['alice', 'bob', 'inbox'])(
    '%s sees only the name and tenant name of an enabled one',
    (caller) => {
      expect(servicePrincipalView(principalOf(caller), record)).toEqual({
        kind: 'name',
        view: { servicePrincipalName: 'Contoso', tenantName: 'Contoso Corp' },
      });
    },
  );

  it.each<TestCallerName>(['alice', 'inbox'])('%s does not see a disabled one at all', (caller) => {
    expect(servicePrincipalView(principalOf(caller), { ...record, enabled: false })).toBeUndefined();
    expect(servicePrincipalView(principalOf('admin'), { ...record, enabled: false })?.kind).toBe('admin');
  });

  it('only System Managers manage them', () => {
    expect(
      (['alice', 'bob', 'inbox', 'admin'] as const).map((c) => canManageServicePrincipals(principalOf(c))),
    ).toEqual([false, false, false, true]);
  });
});
