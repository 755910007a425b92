/**
 * The behaviour every implementation of the repository ports must have. Run against the Cosmos adapters
 * (real stand-in) and the in-memory fakes, so unit tests that use the fakes test against the real semantics.
 */
import type { Repositories } from '../../../../shared/domain/ports/repositories';
import { conflictReason } from '../../../../shared/errors';
import {
  TestClock,
  allPages,
  newCommunication,
  newEmailAccount,
  newServicePrincipal,
  newSyncLog,
  rejectionOf,
  settle,
} from './fixtures';

export type MakeRepositories = (clock: TestClock) => Promise<Repositories>;

const SYSTEM_FIELDS = ['_rid', '_self', '_ts', '_attachments', '_etag', '_lsn'];

function expectCleanRecord(record: object): void {
  for (const field of SYSTEM_FIELDS) expect(record).not.toHaveProperty(field);
  expect(typeof (record as { etag?: unknown }).etag).toBe('string');
}

export function repositoryContract(label: string, make: MakeRepositories): void {
  let clock: TestClock;
  let repos: Repositories;

  beforeEach(async () => {
    clock = new TestClock();
    repos = await make(clock);
  });

  describe(`${label}: service principals`, () => {
    it('creates with a derived id and clock timestamps, and reads it back by name in any case', async () => {
      const created = await repos.servicePrincipals.create(newServicePrincipal('Contoso Prod'));
      expect(created).toMatchObject({
        id: 'contoso prod',
        docType: 'servicePrincipal',
        servicePrincipalName: 'Contoso Prod',
        createdAt: '2026-03-01T09:00:00.000Z',
        updatedAt: '2026-03-01T09:00:00.000Z',
      });
      expectCleanRecord(created);
      const read = await repos.servicePrincipals.get('CONTOSO PROD');
      expect(read).toEqual(created);
      expect(await repos.servicePrincipals.get('nobody')).toBeUndefined();
      expect(await repos.servicePrincipals.get('../etc/passwd')).toBeUndefined();
    });

    it('rejects a second principal with the same name in another case', async () => {
      await repos.servicePrincipals.create(newServicePrincipal('Contoso'));
      const error = await rejectionOf(repos.servicePrincipals.create(newServicePrincipal('CONTOSO')));
      expect(error.code).toBe('CONFLICT');
      expect(error.details).toEqual({ reason: 'duplicate', field: 'servicePrincipalName' });
    });

    it('lists every bad field and writes nothing', async () => {
      const error = await rejectionOf(
        repos.servicePrincipals.create(
          newServicePrincipal('Bad One', { tenantId: 'not-a-guid', authorityUrl: 'nope', cloud: 'mars' as never }),
        ),
      );
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.errors?.map((e) => e.field).sort()).toEqual(['authorityUrl', 'cloud', 'tenantId']);
      expect(await repos.servicePrincipals.get('Bad One')).toBeUndefined();
      expect((await repos.servicePrincipals.list({ limit: 10 })).items).toEqual([]);
    });

    it('rejects a stale replace and keeps the stored record', async () => {
      const original = await repos.servicePrincipals.create(newServicePrincipal('Fabrikam'));
      clock.advance(1000);
      const first = await repos.servicePrincipals.replace({ ...original, description: 'first' });
      expect(first.updatedAt).toBe('2026-03-01T09:00:01.000Z');
      expect(first.createdAt).toBe(original.createdAt);
      expect(first.etag).not.toBe(original.etag);

      const error = await rejectionOf(repos.servicePrincipals.replace({ ...original, description: 'second' }));
      expect(error.code).toBe('CONFLICT');
      expect(conflictReason(error)).toBe('stale');
      expect(await repos.servicePrincipals.get('Fabrikam')).toEqual(first);
    });

    it('requires an etag to replace, refuses renames and reports a missing record', async () => {
      const original = await repos.servicePrincipals.create(newServicePrincipal('Tailspin'));
      const noEtag = await rejectionOf(repos.servicePrincipals.replace({ ...original, etag: undefined }));
      expect(noEtag.code).toBe('VALIDATION_FAILED');
      expect(noEtag.errors?.[0]?.field).toBe('etag');

      const renamed = await rejectionOf(
        repos.servicePrincipals.replace({ ...original, servicePrincipalName: 'Tailspin Two' }),
      );
      expect(renamed.code).toBe('VALIDATION_FAILED');
      expect(renamed.errors?.[0]?.field).toBe('servicePrincipalName');
      const recased = await repos.servicePrincipals.replace({ ...original, servicePrincipalName: 'TAILSPIN' });
      expect(recased.servicePrincipalName).toBe('TAILSPIN');

      expect(await repos.servicePrincipals.delete('Tailspin')).toBe(true);
      const missing = await rejectionOf(repos.servicePrincipals.replace(recased));
      expect(missing.code).toBe('NOT_FOUND');
    });

    it('applies concurrent updates one after another (no lost update)', async () => {
      await repos.servicePrincipals.create(newServicePrincipal('Woodgrove', { description: '' }));
      await Promise.all(
        ['a', 'b', 'c', 'd', 'e'].map((letter) =>
          repos.servicePrincipals.update('woodgrove', (sp) => ({
            ...sp,
            description: `${sp.description ?? ''}${letter}`,
          })),
        ),
      );
      const final = await repos.servicePrincipals.get('Woodgrove');
      expect([...(final?.description ?? '')].sort().join('')).toBe('abcde');
    });

    it('skips the write when the mutation returns undefined, and reports a missing record', async () => {
      const original = await repos.servicePrincipals.create(newServicePrincipal('Northwind'));
      const same = await repos.servicePrincipals.update('Northwind', () => undefined);
      expect(same.etag).toBe(original.etag);
      const error = await rejectionOf(repos.servicePrincipals.update('Nobody', (sp) => sp));
      expect(error.code).toBe('NOT_FOUND');
    });

    it('deletes with an optional etag check', async () => {
      const original = await repos.servicePrincipals.create(newServicePrincipal('Litware'));
      const changed = await repos.servicePrincipals.replace({ ...original, enabled: false });
      const stale = await rejectionOf(repos.servicePrincipals.delete('Litware', original.etag));
      expect(conflictReason(stale)).toBe('stale');
      expect(await repos.servicePrincipals.get('Litware')).toBeDefined();
      expect(await repos.servicePrincipals.delete('LITWARE', changed.etag)).toBe(true);
      expect(await repos.servicePrincipals.delete('Litware')).toBe(false);
    });

    it('pages through a filtered list without losing or repeating items', async () => {
      for (let i = 0; i < 7; i++) {
        await repos.servicePrincipals.create(newServicePrincipal(`Tenant ${i}`, { enabled: i % 3 !== 0 }));
      }
      const { items, pages } = await allPages((token) =>
        repos.servicePrincipals.list({ limit: 2, continuationToken: token }, { enabled: true }),
      );
      expect(items.map((sp) => sp.id)).toEqual(['tenant 1', 'tenant 2', 'tenant 4', 'tenant 5']);
      expect(pages).toBeGreaterThan(1);
      const all: string[] = [];
      for await (const sp of repos.servicePrincipals.listAll({ enabled: false })) all.push(sp.id);
      expect(all).toEqual(['tenant 0', 'tenant 3', 'tenant 6']);
    });

    it('rejects bad limits, tampered tokens and tokens of another query', async () => {
      for (let i = 0; i < 3; i++) await repos.servicePrincipals.create(newServicePrincipal(`P${i}`));
      for (const limit of [0, 201, 1.5]) {
        const error = await rejectionOf(repos.servicePrincipals.list({ limit }));
        expect(error.code).toBe('VALIDATION_FAILED');
        expect(error.errors?.[0]?.field).toBe('limit');
      }
      const first = await repos.servicePrincipals.list({ limit: 1 });
      const token = first.continuationToken ?? '';
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      const decoded = Buffer.from(token, 'base64url').toString('utf8');
      const tampered = [
        'garbage!',
        `${token.slice(0, -2)}xy`,
        Buffer.from(decoded.replace(/"t":"/, '"t":"x')).toString('base64url'),
        Buffer.from('{"t":"[\\"p9\\"]"}').toString('base64url'),
      ];
      for (const continuationToken of tampered) {
        const error = await rejectionOf(repos.servicePrincipals.list({ limit: 1, continuationToken }));
        expect(error.code).toBe('VALIDATION_FAILED');
        expect(error.errors?.[0]?.field).toBe('continuationToken');
      }
      const foreign = await rejectionOf(
        repos.servicePrincipals.list({ limit: 1, continuationToken: token }, { enabled: true }),
      );
      expect(foreign.code).toBe('VALIDATION_FAILED');
    });
  });

  describe(`${label}: email accounts`, () => {
    beforeEach(async () => {
      await repos.servicePrincipals.create(newServicePrincipal('Contoso'));
      await repos.servicePrincipals.create(newServicePrincipal('Fabrikam'));
    });

    it('creates with a derived id, lowercased address and user, and defaults', async () => {
      const created = await repos.emailAccounts.create(
        newEmailAccount('M365-Alice', 'Contoso', 'Alice@Contoso.com', { user: ' Alice@Contoso.COM ' }),
      );
      expect(created).toMatchObject({
        id: 'm365-alice',
        docType: 'emailAccount',
        accountName: 'M365-Alice',
        emailAddress: 'alice@contoso.com',
        user: 'alice@contoso.com',
        linkingRules: [],
      });
      expect(created.folderFilter[0]).toEqual({ folderName: 'Inbox', syncEnabled: true });
      expectCleanRecord(created);
      expect(await repos.emailAccounts.get('m365-ALICE')).toEqual(created);
    });

    it('keeps account names unique case-insensitively', async () => {
      await repos.emailAccounts.create(newEmailAccount('Shared Sales', 'Contoso', 'sales@contoso.com'));
      const error = await rejectionOf(
        repos.emailAccounts.create(newEmailAccount('shared sales', 'Fabrikam', 'other@fabrikam.com')),
      );
      expect(error.details).toEqual({ reason: 'duplicate', field: 'accountName' });
    });

    it('keeps email addresses unique per service principal, not across them', async () => {
      await repos.emailAccounts.create(newEmailAccount('A1', 'Contoso', 'info@contoso.com'));
      const error = await rejectionOf(repos.emailAccounts.create(newEmailAccount('A2', 'contoso', 'INFO@contoso.com')));
      expect(error.code).toBe('CONFLICT');
      expect(error.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });
      await repos.emailAccounts.create(newEmailAccount('A3', 'Fabrikam', 'info@contoso.com'));
      const names = (await repos.emailAccounts.list({ limit: 10 })).items.map((a) => a.accountName);
      expect(names).toEqual(['A1', 'A3']);
    });

    it('lets exactly one of 10 concurrent creates of the same name succeed', async () => {
      const { ok, failed } = await settle(
        Array.from({ length: 10 }, (_, i) =>
          repos.emailAccounts.create(newEmailAccount('Race', 'Contoso', `race${i}@contoso.com`)),
        ),
      );
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(9);
      for (const error of failed) expect(error.details).toEqual({ reason: 'duplicate', field: 'accountName' });
      // The losers released their addresses: another account can use them.
      const winner = ok[0]!.emailAddress;
      const loser = [...Array(10).keys()].map((i) => `race${i}@contoso.com`).find((e) => e !== winner)!;
      await repos.emailAccounts.create(newEmailAccount('Race Two', 'Contoso', loser));
    });

    it('lets exactly one of 10 concurrent creates of the same address under one principal succeed', async () => {
      const { ok, failed } = await settle(
        Array.from({ length: 10 }, (_, i) =>
          repos.emailAccounts.create(newEmailAccount(`Dup ${i}`, 'Contoso', 'dup@contoso.com')),
        ),
      );
      expect(ok).toHaveLength(1);
      for (const error of failed) expect(error.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });
      const listed = (await repos.emailAccounts.list({ limit: 50 })).items;
      expect(listed.map((a) => a.accountName)).toEqual([ok[0]!.accountName]);
    });

    it('lets concurrent creates of one address under two principals both succeed', async () => {
      const { ok } = await settle([
        repos.emailAccounts.create(newEmailAccount('Both C', 'Contoso', 'both@contoso.com')),
        repos.emailAccounts.create(newEmailAccount('Both F', 'Fabrikam', 'both@contoso.com')),
      ]);
      expect(ok).toHaveLength(2);
      expect(await repos.emailAccounts.countByServicePrincipal('CONTOSO')).toBe(1);
      expect(await repos.emailAccounts.countByServicePrincipal('fabrikam')).toBe(1);
    });

    it('moves the address reservation when the address changes, and refuses a taken one', async () => {
      await repos.emailAccounts.create(newEmailAccount('Mover', 'Contoso', 'old@contoso.com'));
      await repos.emailAccounts.create(newEmailAccount('Holder', 'Contoso', 'taken@contoso.com'));
      const before = await repos.emailAccounts.get('Mover');

      const taken = await rejectionOf(
        repos.emailAccounts.update('Mover', (a) => ({ ...a, emailAddress: 'Taken@contoso.com' })),
      );
      expect(taken.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });
      expect(await repos.emailAccounts.get('Mover')).toEqual(before);

      const moved = await repos.emailAccounts.update('Mover', (a) => ({ ...a, emailAddress: 'new@contoso.com' }));
      expect(moved.emailAddress).toBe('new@contoso.com');
      // The old address is free, the new one is reserved.
      await repos.emailAccounts.create(newEmailAccount('Old Taker', 'Contoso', 'old@contoso.com'));
      const reserved = await rejectionOf(
        repos.emailAccounts.create(newEmailAccount('New Taker', 'Contoso', 'new@contoso.com')),
      );
      expect(reserved.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });

      // Moving to another principal frees the address under the first one.
      await repos.emailAccounts.update('Mover', (a) => ({ ...a, servicePrincipal: 'Fabrikam' }));
      await repos.emailAccounts.create(newEmailAccount('New Taker', 'Contoso', 'new@contoso.com'));
    });

    it('rejects a stale replace, keeps the record and its address', async () => {
      const original = await repos.emailAccounts.create(newEmailAccount('Stale', 'Contoso', 'stale@contoso.com'));
      const current = await repos.emailAccounts.replace({ ...original, enabled: false });
      const error = await rejectionOf(
        repos.emailAccounts.replace({ ...original, emailAddress: 'elsewhere@contoso.com' }),
      );
      expect(conflictReason(error)).toBe('stale');
      expect(await repos.emailAccounts.get('Stale')).toEqual(current);
      // The failed move left no reservation behind.
      await repos.emailAccounts.create(newEmailAccount('Elsewhere', 'Contoso', 'elsewhere@contoso.com'));
      const renamed = await rejectionOf(repos.emailAccounts.replace({ ...current, accountName: 'Other' }));
      expect(renamed.errors?.[0]?.field).toBe('accountName');
    });

    it('frees the name and the address on delete', async () => {
      const created = await repos.emailAccounts.create(newEmailAccount('Gone', 'Contoso', 'gone@contoso.com'));
      const stale = await rejectionOf(repos.emailAccounts.delete('Gone', '"not-the-etag"'));
      expect(conflictReason(stale)).toBe('stale');
      expect(await repos.emailAccounts.delete('GONE', created.etag)).toBe(true);
      expect(await repos.emailAccounts.get('Gone')).toBeUndefined();
      expect(await repos.emailAccounts.delete('Gone')).toBe(false);
      await repos.emailAccounts.create(newEmailAccount('Gone', 'Contoso', 'gone@contoso.com'));
    });

    it('lists every bad field, writes nothing and reserves nothing', async () => {
      const error = await rejectionOf(
        repos.emailAccounts.create(
          newEmailAccount('Bad/Name', 'Contoso', 'bad@contoso.com', {
            accountType: 'Group Mailbox' as never,
            maxAttachmentSize: 500,
            folderFilter: [{ folderName: '' }],
          }),
        ),
      );
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.errors?.map((e) => e.field).sort()).toEqual([
        'accountName',
        'accountType',
        'folderFilter.0.folderName',
        'maxAttachmentSize',
      ]);
      const badEmail = await rejectionOf(repos.emailAccounts.create(newEmailAccount('Ok', 'Contoso', 'not-an-email')));
      expect(badEmail.errors?.map((e) => e.field)).toEqual(['emailAddress']);
      expect((await repos.emailAccounts.list({ limit: 10 })).items).toEqual([]);
      await repos.emailAccounts.create(newEmailAccount('Good', 'Contoso', 'bad@contoso.com'));
    });

    it('filters and pages the list; claims never appear as accounts', async () => {
      for (let i = 0; i < 9; i++) {
        await repos.emailAccounts.create(
          newEmailAccount(`Acct ${i}`, i % 2 ? 'Contoso' : 'Fabrikam', `a${i}@contoso.com`, {
            user: i < 4 ? 'Alice@contoso.com' : 'bob@contoso.com',
            accountType: i === 8 ? 'Shared Mailbox' : 'User Mailbox',
            enabled: i !== 5,
          }),
        );
      }
      const names = async (filter: Parameters<Repositories['emailAccounts']['list']>[1]) =>
        (await allPages((token) => repos.emailAccounts.list({ limit: 2, continuationToken: token }, filter))).items.map(
          (a) => a.accountName,
        );
      expect(await names({})).toEqual([...Array(9).keys()].map((i) => `Acct ${i}`));
      expect(await names({ user: 'ALICE@contoso.com' })).toEqual(['Acct 0', 'Acct 1', 'Acct 2', 'Acct 3']);
      expect(await names({ servicePrincipal: 'contoso', enabled: true })).toEqual(['Acct 1', 'Acct 3', 'Acct 7']);
      expect(await names({ accountType: 'Shared Mailbox' })).toEqual(['Acct 8']);
      const all: string[] = [];
      for await (const a of repos.emailAccounts.listAll({ user: 'bob@contoso.com' })) all.push(a.accountName);
      expect(all).toEqual(['Acct 4', 'Acct 5', 'Acct 6', 'Acct 7', 'Acct 8']);
      expect(await repos.emailAccounts.countByServicePrincipal('Contoso')).toBe(4);
      expect(await repos.emailAccounts.countByServicePrincipal('Nobody')).toBe(0);
    });
  });

  describe(`${label}: sync logs`, () => {
    const at = (minutes: number) => new Date(Date.parse('2026-03-01T00:00:00Z') + minutes * 60_000);

    it('lists an account’s logs newest first, page by page', async () => {
      for (let i = 0; i < 5; i++) await repos.syncLogs.create(newSyncLog('Acct A', at(i)));
      await repos.syncLogs.create(newSyncLog('Acct B', at(10)));
      const { items, pages } = await allPages((token) =>
        repos.syncLogs.listForAccount('Acct A', { limit: 2, continuationToken: token }),
      );
      expect(pages).toBeGreaterThan(1);
      expect(items.map((l) => l.syncStartTime)).toEqual([4, 3, 2, 1, 0].map((i) => at(i).toISOString()));
      expect(new Set(items.map((l) => l.id)).size).toBe(5);
      expectCleanRecord(items[0]!);
    });

    it('normalizes instants to UTC and validates every field', async () => {
      const log = await repos.syncLogs.create(
        newSyncLog('Acct A', at(0), { syncStartTime: '2026-03-01T02:00:00+02:00', id: 'fixed-id' }),
      );
      expect(log).toMatchObject({ id: 'fixed-id', syncStartTime: '2026-03-01T00:00:00.000Z', docType: 'syncLog' });
      const dup = await rejectionOf(repos.syncLogs.create(newSyncLog('Acct A', at(1), { id: 'fixed-id' })));
      expect(dup.details).toEqual({ reason: 'duplicate', field: 'id' });
      const error = await rejectionOf(
        repos.syncLogs.create(newSyncLog('Acct A', at(0), { status: 'Meh' as never, emailsFetched: -1 })),
      );
      expect(error.errors?.map((e) => e.field).sort()).toEqual(['emailsFetched', 'status']);
      const badId = await rejectionOf(repos.syncLogs.create(newSyncLog('Acct A', at(0), { id: 'x?y' })));
      expect(badId.errors?.map((e) => e.field)).toEqual(['id']);
    });

    it('deletes logs older than a date, for one account or all', async () => {
      for (const account of ['Acct A', 'Acct B']) {
        for (let i = 0; i < 4; i++) await repos.syncLogs.create(newSyncLog(account, at(i * 60)));
      }
      expect(await repos.syncLogs.deleteOlderThan('Acct A', at(120))).toBe(2);
      expect(await repos.syncLogs.deleteOlderThan(undefined, at(180))).toBe(4);
      const left = async (account: string) =>
        (await repos.syncLogs.listForAccount(account, { limit: 10 })).items.map((l) => l.syncStartTime);
      expect(await left('Acct A')).toEqual([at(180).toISOString()]);
      expect(await left('Acct B')).toEqual([at(180).toISOString()]);
      expect(await repos.syncLogs.deleteOlderThan(undefined, at(0))).toBe(0);
    });
  });

  describe(`${label}: communications`, () => {
    const day = (d: number) => `2026-02-${String(d).padStart(2, '0')}T10:00:00.000Z`;

    it('upserts a batch, counting created and updated, and reads by partition', async () => {
      const first = await repos.communications.upsertMany([
        newCommunication('Acct A', 'm1', day(1)),
        newCommunication('Acct A', 'm2', day(2)),
        newCommunication('Acct B', 'm1', day(3), { owner: 'bob@contoso.com' }),
      ]);
      expect(first).toEqual({ created: 3, updated: 0, stale: [] });
      const stored = await repos.communications.get('Acct A', 'm1');
      expect(stored).toMatchObject({ id: 'm1', emailAccount: 'Acct A', docType: 'communication' });
      expectCleanRecord(stored!);

      clock.advance(60_000);
      const second = await repos.communications.upsertMany([
        newCommunication('Acct A', 'm1', day(1), { seen: true, createdAt: stored!.createdAt }),
      ]);
      expect(second).toEqual({ created: 0, updated: 1, stale: [] });
      const updated = await repos.communications.get('Acct A', 'm1');
      expect(updated).toMatchObject({
        seen: true,
        createdAt: stored!.createdAt,
        updatedAt: '2026-03-01T09:01:00.000Z',
      });

      const many = await repos.communications.getMany('Acct A', ['m1', 'm2', 'm3', 'm1']);
      expect([...many.keys()].sort()).toEqual(['m1', 'm2']);
      expect(many.get('m1')?.seen).toBe(true);
      const other = await repos.communications.getMany('Acct B', ['m1', 'm2']);
      expect([...other.values()].map((c) => c.owner)).toEqual(['bob@contoso.com']);
      expect(await repos.communications.get('Acct C', 'm1')).toBeUndefined();
    });

    it('validates the whole batch first and writes nothing when any record is bad', async () => {
      const error = await rejectionOf(
        repos.communications.upsertMany([
          newCommunication('Acct A', 'ok', day(1)),
          newCommunication('Acct A', 'bad', 'yesterday', { sentOrReceived: 'Lost' as never }),
        ]),
      );
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.errors?.map((e) => e.field).sort()).toEqual([
        'records.1.communicationDate',
        'records.1.sentOrReceived',
      ]);
      expect(await repos.communications.get('Acct A', 'ok')).toBeUndefined();
      const badId = await rejectionOf(
        repos.communications.upsertMany([
          newCommunication('Acct A', 'ok', day(1)),
          newCommunication('Acct A', 'a/b', day(1)),
        ]),
      );
      expect(badId.errors?.map((e) => e.field)).toEqual(['records.1.id']);
      expect(await repos.communications.get('Acct A', 'ok')).toBeUndefined();
      expect(await repos.communications.get('Acct A', 'a/b')).toBeUndefined();
    });

    it('skips and reports records whose etag is stale', async () => {
      await repos.communications.upsertMany([newCommunication('Acct A', 'm1', day(1))]);
      const current = await repos.communications.get('Acct A', 'm1');
      await repos.communications.update('Acct A', 'm1', (c) => ({ ...c, referenceDoctype: 'Issue' }));
      const result = await repos.communications.upsertMany([
        newCommunication('Acct A', 'm1', day(1), { etag: current!.etag, subject: 'overwrite' }),
      ]);
      expect(result).toEqual({ created: 0, updated: 0, stale: ['m1'] });
      expect((await repos.communications.get('Acct A', 'm1'))?.referenceDoctype).toBe('Issue');
    });

    it('rejects a stale replace and applies concurrent updates without losing any', async () => {
      await repos.communications.upsertMany([newCommunication('Acct A', 'm1', day(1), { categories: [] })]);
      const original = (await repos.communications.get('Acct A', 'm1'))!;
      await Promise.all(
        ['red', 'green', 'blue'].map((colour) =>
          repos.communications.update('Acct A', 'm1', (c) => ({ ...c, categories: [...c.categories, colour] })),
        ),
      );
      const current = (await repos.communications.get('Acct A', 'm1'))!;
      expect([...current.categories].sort()).toEqual(['blue', 'green', 'red']);
      const error = await rejectionOf(repos.communications.replace({ ...original, subject: 'late' }));
      expect(conflictReason(error)).toBe('stale');
      expect(await repos.communications.get('Acct A', 'm1')).toEqual(current);
      const missing = await rejectionOf(repos.communications.update('Acct A', 'nope', (c) => c));
      expect(missing.code).toBe('NOT_FOUND');
    });

    it('lists newest first with filters and visibility, page by page', async () => {
      await repos.communications.upsertMany([
        newCommunication('Acct A', 'a1', day(1)),
        newCommunication('Acct A', 'a2', day(4), { folder: 'Sent Items', sentOrReceived: 'Sent' }),
        newCommunication('Acct A', 'a3', day(7), { referenceDoctype: 'Issue', referenceName: 'ISS-1' }),
        newCommunication('Acct B', 'b1', day(2), { owner: 'bob@contoso.com' }),
        newCommunication('Acct B', 'b2', day(5), { owner: 'bob@contoso.com' }),
        newCommunication('Acct C', 'c1', day(6), { owner: 'carol@contoso.com' }),
      ]);
      const ids = async (filter: Parameters<Repositories['communications']['list']>[1]) =>
        (
          await allPages((token) => repos.communications.list({ limit: 2, continuationToken: token }, filter))
        ).items.map((c) => c.id);
      expect(await ids({})).toEqual(['a3', 'c1', 'b2', 'a2', 'b1', 'a1']);
      expect(await ids({ emailAccount: 'Acct A' })).toEqual(['a3', 'a2', 'a1']);
      expect(await ids({ emailAccounts: ['Acct B', 'Acct C'] })).toEqual(['c1', 'b2', 'b1']);
      expect(await ids({ emailAccounts: [] })).toEqual([]);
      expect(await ids({ owner: 'bob@contoso.com' })).toEqual(['b2', 'b1']);
      expect(await ids({ emailAccount: 'Acct A', folder: 'Sent Items' })).toEqual(['a2']);
      expect(await ids({ referenceDoctype: 'Issue', referenceName: 'ISS-1' })).toEqual(['a3']);
      expect(await ids({ since: new Date(day(5)) })).toEqual(['a3', 'c1', 'b2']);
      const error = await rejectionOf(repos.communications.list({ limit: 2 }, { since: new Date('nope') }));
      expect(error.errors?.[0]?.field).toBe('since');
    });

    it('writes a batch of more than 100 mixing creates, current and stale etags, across partitions', async () => {
      await repos.communications.upsertMany(
        Array.from({ length: 150 }, (_, i) => newCommunication('Acct A', `old${i}`, day(1 + (i % 20)))),
      );
      const stored = await repos.communications.getMany(
        'Acct A',
        Array.from({ length: 150 }, (_, i) => `old${i}`),
      );
      // Someone else changes old100..old119 after we read them: our etags for those are stale.
      for (let i = 100; i < 120; i++) {
        await repos.communications.update('Acct A', `old${i}`, (c) => ({ ...c, referenceDoctype: 'Issue' }));
      }
      clock.advance(60_000);
      const etagOf = (id: string) => stored.get(id)!.etag;
      const batch = [
        ...Array.from({ length: 100 }, (_, i) => newCommunication('Acct A', `new${i}`, day(2))),
        ...Array.from({ length: 120 }, (_, i) =>
          newCommunication('Acct A', `old${i}`, day(3), { subject: 'edited', etag: etagOf(`old${i}`) }),
        ),
        ...Array.from({ length: 30 }, (_, i) => newCommunication('Acct A', `old${120 + i}`, day(3), { seen: true })),
        newCommunication('Acct A', 'never-stored', day(3), { etag: etagOf('old0') }),
      ];
      // Another partition, interleaved with the first.
      for (let i = 0; i < 30; i++) batch.splice(i * 7, 0, newCommunication('Acct B', `b${i}`, day(4)));
      const result = await repos.communications.upsertMany(batch);
      expect(result.created).toBe(130);
      expect(result.updated).toBe(100 + 30);
      expect(result.stale).toEqual([...Array.from({ length: 20 }, (_, i) => `old${100 + i}`), 'never-stored']);

      const after = await repos.communications.getMany(
        'Acct A',
        [...Array(150).keys()].map((i) => `old${i}`),
      );
      expect(after.get('old5')).toMatchObject({ subject: 'edited', updatedAt: '2026-03-01T09:01:00.000Z' });
      expect(after.get('old110')).toMatchObject({ subject: 'Subject old110', referenceDoctype: 'Issue' });
      expect(after.get('old140')).toMatchObject({ seen: true, subject: 'Subject old140' });
      expect(await repos.communications.get('Acct A', 'never-stored')).toBeUndefined();
      expect((await repos.communications.getMany('Acct B', ['b0', 'b29'])).size).toBe(2);
      expect((await repos.communications.getMany('Acct A', ['new0', 'new99'])).size).toBe(2);
    });

    it('finds a communication by id alone', async () => {
      await repos.communications.upsertMany([
        newCommunication('Acct A', 'x1', day(1)),
        newCommunication('Acct B', 'x2', day(1)),
      ]);
      expect((await repos.communications.findById('x2'))?.emailAccount).toBe('Acct B');
      expect(await repos.communications.findById('x3')).toBeUndefined();
    });
  });

  describe(`${label}: contacts`, () => {
    const seen = (iso: string) => new Date(iso);

    it('creates on first sighting and merges later ones, case-insensitively', async () => {
      const first = await repos.contacts.upsertByEmail('Bob@Fabrikam.com', {
        emailAccount: 'Acct A',
        owner: 'alice@contoso.com',
        seenAt: seen('2026-02-10T00:00:00Z'),
      });
      expect(first).toMatchObject({
        docType: 'contact',
        emailId: 'bob@fabrikam.com',
        emailAccounts: ['Acct A'],
        owners: ['alice@contoso.com'],
        firstSeenAt: '2026-02-10T00:00:00.000Z',
        lastSeenAt: '2026-02-10T00:00:00.000Z',
      });
      expect(first).not.toHaveProperty('fullName');
      expectCleanRecord(first);

      const merged = await repos.contacts.upsertByEmail('bob@FABRIKAM.com', {
        fullName: ' Bob Jones ',
        emailAccount: 'Acct B',
        owner: 'carol@contoso.com',
        seenAt: seen('2026-02-01T00:00:00Z'),
      });
      expect(merged).toMatchObject({
        id: first.id,
        fullName: 'Bob Jones',
        emailAccounts: ['Acct A', 'Acct B'],
        owners: ['alice@contoso.com', 'carol@contoso.com'],
        firstSeenAt: '2026-02-01T00:00:00.000Z',
        lastSeenAt: '2026-02-10T00:00:00.000Z',
      });
      const again = await repos.contacts.upsertByEmail('bob@fabrikam.com', {
        fullName: 'Robert',
        emailAccount: 'Acct A',
        owner: 'alice@contoso.com',
        seenAt: seen('2026-02-05T00:00:00Z'),
      });
      expect(again).toEqual(merged);
      expect(await repos.contacts.getByEmail('BOB@fabrikam.com')).toEqual(merged);
      expect(await repos.contacts.getByEmail('nobody@fabrikam.com')).toBeUndefined();
      expect(await repos.contacts.getByEmail('not an address')).toBeUndefined();
    });

    it('merges concurrent sightings without losing any', async () => {
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          repos.contacts.upsertByEmail('dana@fabrikam.com', {
            emailAccount: `Acct ${i}`,
            owner: `user${i % 4}@contoso.com`,
            seenAt: seen(`2026-02-0${i + 1}T00:00:00Z`),
          }),
        ),
      );
      const contact = (await repos.contacts.getByEmail('dana@fabrikam.com'))!;
      expect([...contact.emailAccounts].sort()).toEqual([...Array(8).keys()].map((i) => `Acct ${i}`));
      expect([...contact.owners].sort()).toEqual([0, 1, 2, 3].map((i) => `user${i}@contoso.com`));
      expect(contact.firstSeenAt).toBe('2026-02-01T00:00:00.000Z');
      expect(contact.lastSeenAt).toBe('2026-02-08T00:00:00.000Z');
    });

    it('rejects a bad address or sighting', async () => {
      const error = await rejectionOf(
        repos.contacts.upsertByEmail('nope', { emailAccount: 'A', owner: 'o', seenAt: new Date() }),
      );
      expect(error.errors?.[0]?.field).toBe('email');
      const sighting = await rejectionOf(
        repos.contacts.upsertByEmail('ok@fabrikam.com', { emailAccount: '', owner: '', seenAt: new Date('x') }),
      );
      expect(sighting.errors?.map((e) => e.field)).toEqual(['emailAccount', 'owner', 'seenAt']);
      expect((await repos.contacts.list({ limit: 10 })).items).toEqual([]);
    });

    describe('recordSightings', () => {
      const sightingOf = (emailAccount: string, owner: string, iso = '2026-02-01T00:00:00Z') => ({
        emailAccount,
        owner,
        seenAt: seen(iso),
      });

      it('creates new contacts and merges into existing ones, with exact counts', async () => {
        const bob = await repos.contacts.upsertByEmail('bob@fabrikam.com', {
          emailAccount: 'Acct A',
          owner: 'alice@contoso.com',
          seenAt: seen('2026-02-10T00:00:00Z'),
        });
        await repos.contacts.upsertByEmail('carol@fabrikam.com', {
          fullName: 'Carol Old',
          emailAccount: 'Acct B',
          owner: 'carol@contoso.com',
          seenAt: seen('2026-01-01T00:00:00Z'),
        });
        clock.advance(60_000);
        const result = await repos.contacts.recordSightings(
          [
            { email: 'BOB@fabrikam.com', fullName: ' Bob Jones ' },
            { email: 'carol@fabrikam.com', fullName: 'Caroline' },
            { email: 'Dave@Fabrikam.com', fullName: 'Dave' },
            { email: 'erin@fabrikam.com' },
          ],
          sightingOf('Acct B', 'carol@contoso.com', '2026-02-01T00:00:00Z'),
        );
        expect(result).toEqual({ created: 2, updated: 2, unchanged: 0, refused: [] });

        const merged = await repos.contacts.getByEmail('bob@fabrikam.com');
        expect(merged).toMatchObject({
          id: bob.id,
          fullName: 'Bob Jones',
          emailAccounts: ['Acct A', 'Acct B'],
          owners: ['alice@contoso.com', 'carol@contoso.com'],
          firstSeenAt: '2026-02-01T00:00:00.000Z',
          lastSeenAt: '2026-02-10T00:00:00.000Z',
          createdAt: bob.createdAt,
          updatedAt: '2026-03-01T09:01:00.000Z',
        });
        expect(merged!.etag).not.toBe(bob.etag);
        // An existing name is kept; the range widens to the later sighting.
        expect(await repos.contacts.getByEmail('carol@fabrikam.com')).toMatchObject({
          fullName: 'Carol Old',
          emailAccounts: ['Acct B'],
          owners: ['carol@contoso.com'],
          firstSeenAt: '2026-01-01T00:00:00.000Z',
          lastSeenAt: '2026-02-01T00:00:00.000Z',
        });
        const dave = await repos.contacts.getByEmail('dave@fabrikam.com');
        expect(dave).toMatchObject({
          docType: 'contact',
          emailId: 'dave@fabrikam.com',
          fullName: 'Dave',
          emailAccounts: ['Acct B'],
          owners: ['carol@contoso.com'],
          firstSeenAt: '2026-02-01T00:00:00.000Z',
          lastSeenAt: '2026-02-01T00:00:00.000Z',
          createdAt: '2026-03-01T09:01:00.000Z',
        });
        expectCleanRecord(dave!);
        expect(await repos.contacts.getByEmail('erin@fabrikam.com')).not.toHaveProperty('fullName');
        expect((await repos.contacts.list({ limit: 10 })).items).toHaveLength(4);
      });

      it('writes nothing when a sighting adds nothing', async () => {
        const candidates = [{ email: 'bob@fabrikam.com', fullName: 'Bob' }, { email: 'carl@fabrikam.com' }];
        const sighting = sightingOf('Acct A', 'alice@contoso.com', '2026-02-05T00:00:00Z');
        expect(await repos.contacts.recordSightings(candidates, sighting)).toEqual({
          created: 2,
          updated: 0,
          unchanged: 0,
          refused: [],
        });
        await repos.contacts.upsertByEmail('carl@fabrikam.com', { ...sighting, seenAt: seen('2026-02-07T00:00:00Z') });
        const before = (await repos.contacts.list({ limit: 10 })).items;
        clock.advance(60_000);
        // Same account and owner, a time within each seen range, a name where there is one already: no change.
        const again = await repos.contacts.recordSightings(
          [{ email: 'BOB@fabrikam.com', fullName: 'Robert' }, { email: 'carl@fabrikam.com' }],
          sighting,
        );
        expect(again).toEqual({ created: 0, updated: 0, unchanged: 2, refused: [] });
        expect((await repos.contacts.list({ limit: 10 })).items).toEqual(before);
      });

      it('merges case-insensitive duplicates of one call; the first non-empty name wins', async () => {
        await repos.contacts.upsertByEmail('yan@fabrikam.com', sightingOf('Acct A', 'alice@contoso.com'));
        const result = await repos.contacts.recordSightings(
          [
            { email: 'Zed@Fabrikam.com' },
            { email: 'zed@fabrikam.com', fullName: '   ' },
            { email: ' ZED@fabrikam.COM ', fullName: 'Zed Zulu' },
            { email: 'zed@FABRIKAM.com', fullName: 'Other Name' },
            { email: 'YAN@fabrikam.com', fullName: 'Yan' },
            { email: 'yan@fabrikam.com', fullName: 'Yan Two' },
          ],
          sightingOf('Acct B', 'bob@contoso.com'),
        );
        expect(result).toEqual({ created: 1, updated: 1, unchanged: 0, refused: [] });
        expect(await repos.contacts.getByEmail('zed@fabrikam.com')).toMatchObject({
          emailId: 'zed@fabrikam.com',
          fullName: 'Zed Zulu',
          emailAccounts: ['Acct B'],
        });
        expect(await repos.contacts.getByEmail('yan@fabrikam.com')).toMatchObject({
          fullName: 'Yan',
          emailAccounts: ['Acct A', 'Acct B'],
          owners: ['alice@contoso.com', 'bob@contoso.com'],
        });
        expect((await repos.contacts.list({ limit: 10 })).items).toHaveLength(2);
      });

      it('refuses invalid addresses without failing the others', async () => {
        const result = await repos.contacts.recordSightings(
          [
            { email: 'not an address' },
            { email: 'ok@fabrikam.com', fullName: 'Ok' },
            { email: '' },
            { email: 'not an address', fullName: 'Again' },
            { email: `${'x'.repeat(320)}@fabrikam.com` },
            { email: 'also-ok@fabrikam.com' },
          ],
          sightingOf('Acct A', 'alice@contoso.com'),
        );
        expect(result).toEqual({
          created: 2,
          updated: 0,
          unchanged: 0,
          refused: ['not an address', '', `${'x'.repeat(320)}@fabrikam.com`],
        });
        const emails = (await repos.contacts.list({ limit: 10 })).items.map((c) => c.emailId);
        expect(emails).toEqual(['also-ok@fabrikam.com', 'ok@fabrikam.com']);
        expect(await repos.contacts.recordSightings([], sightingOf('Acct A', 'alice@contoso.com'))).toEqual({
          created: 0,
          updated: 0,
          unchanged: 0,
          refused: [],
        });
      });

      it('rejects a bad sighting and writes nothing', async () => {
        const error = await rejectionOf(
          repos.contacts.recordSightings([{ email: 'ok@fabrikam.com' }], {
            emailAccount: '',
            owner: ' ',
            seenAt: new Date('x'),
          }),
        );
        expect(error.code).toBe('VALIDATION_FAILED');
        expect(error.errors?.map((e) => e.field)).toEqual(['emailAccount', 'owner', 'seenAt']);
        expect((await repos.contacts.list({ limit: 10 })).items).toEqual([]);
      });

      it('handles more addresses than one bulk request holds', async () => {
        const address = (i: number) => ({ email: `person${String(i).padStart(3, '0')}@fabrikam.com` });
        const first = await repos.contacts.recordSightings(
          Array.from({ length: 120 }, (_, i) => address(i)),
          sightingOf('Acct A', 'alice@contoso.com'),
        );
        expect(first).toEqual({ created: 120, updated: 0, unchanged: 0, refused: [] });
        const second = await repos.contacts.recordSightings(
          Array.from({ length: 250 }, (_, i) => address(i)),
          sightingOf('Acct B', 'alice@contoso.com'),
        );
        expect(second).toEqual({ created: 130, updated: 120, unchanged: 0, refused: [] });
        const { items } = await allPages((token) => repos.contacts.list({ limit: 200, continuationToken: token }));
        expect(items).toHaveLength(250);
        expect(items.filter((c) => c.emailAccounts.length === 2)).toHaveLength(120);
      });

      it('loses no account or owner when workers record overlapping addresses concurrently', async () => {
        const address = (i: number) => ({ email: `shared${i}@fabrikam.com`, fullName: `Person ${i}` });
        const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => address(from + k));
        // Three workers: 0–59, 20–79 and 40–99 (each address seen by one, two or three of them).
        const results = await Promise.all(
          [0, 1, 2].map((w) =>
            repos.contacts.recordSightings(
              range(w * 20, w * 20 + 60),
              sightingOf(`Acct ${w}`, `user${w}@contoso.com`, `2026-02-0${w + 1}T00:00:00Z`),
            ),
          ),
        );
        const total = results.reduce(
          (sum, r) => ({
            created: sum.created + r.created,
            updated: sum.updated + r.updated,
            unchanged: sum.unchanged + r.unchanged,
          }),
          { created: 0, updated: 0, unchanged: 0 },
        );
        // Every address is created once; every other sighting adds an account, so it is an update.
        expect(total).toEqual({ created: 100, updated: 80, unchanged: 0 });
        for (const r of results) expect(r.created + r.updated + r.unchanged).toBe(60);

        const { items } = await allPages((token) => repos.contacts.list({ limit: 200, continuationToken: token }));
        expect(items).toHaveLength(100);
        for (const contact of items) {
          const i = Number(/^shared(\d+)@/.exec(contact.emailId)?.[1]);
          const workers = [0, 1, 2].filter((w) => i >= w * 20 && i < w * 20 + 60);
          expect([...contact.emailAccounts].sort()).toEqual(workers.map((w) => `Acct ${w}`));
          expect([...contact.owners].sort()).toEqual(workers.map((w) => `user${w}@contoso.com`));
          expect(contact.firstSeenAt).toBe(`2026-02-0${workers[0]! + 1}T00:00:00.000Z`);
          expect(contact.lastSeenAt).toBe(`2026-02-0${workers[workers.length - 1]! + 1}T00:00:00.000Z`);
          expect(contact.fullName).toBe(`Person ${i}`);
        }
      });
    });

    it('lists by address order, filtered by owner or address, page by page', async () => {
      const people = ['erin', 'bob', 'dave', 'carl', 'amy'];
      for (const [i, name] of people.entries()) {
        await repos.contacts.upsertByEmail(`${name}@fabrikam.com`, {
          emailAccount: 'Acct A',
          owner: i % 2 ? 'alice@contoso.com' : 'bob@contoso.com',
          seenAt: seen('2026-02-01T00:00:00Z'),
        });
      }
      const emails = async (filter: Parameters<Repositories['contacts']['list']>[1]) =>
        (await allPages((token) => repos.contacts.list({ limit: 2, continuationToken: token }, filter))).items.map(
          (c) => c.emailId,
        );
      expect(await emails({})).toEqual(['amy', 'bob', 'carl', 'dave', 'erin'].map((n) => `${n}@fabrikam.com`));
      expect(await emails({ owner: 'alice@contoso.com' })).toEqual(['bob@fabrikam.com', 'carl@fabrikam.com']);
      expect(await emails({ email: 'DAVE@fabrikam.com' })).toEqual(['dave@fabrikam.com']);
    });
  });
}
