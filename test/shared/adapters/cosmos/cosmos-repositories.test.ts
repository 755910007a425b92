import type { CosmosClient, Database } from '@azure/cosmos';
import {
  CosmosEmailAccountRepository,
  createCosmosClient,
  createCosmosRepositories,
  ensureDatabase,
} from '../../../../shared/adapters/cosmos';
import { CONTAINERS } from '../../../../shared/domain/records';
import { testStack, uniqueName } from '../../../support/stack';
import { TestClock, newEmailAccount, newServicePrincipal, rejectionOf } from './fixtures';
import { repositoryContract } from './repository-contract';

describe('Cosmos repositories (stand-in)', () => {
  let client: CosmosClient;
  const databases: Database[] = [];

  beforeAll(() => {
    const { cosmosEndpoint, cosmosKey } = testStack();
    client = createCosmosClient({ endpoint: cosmosEndpoint, key: cosmosKey });
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.delete()));
    client.dispose();
  });

  /** Each test gets a database of its own, so tests never see each other's records. */
  async function freshDatabase(): Promise<Database> {
    const database = await ensureDatabase(client, uniqueName('repos'));
    databases.push(database);
    return database;
  }

  repositoryContract('cosmos', async (clock) => createCosmosRepositories(await freshDatabase(), { clock }));

  describe('ensureDatabase', () => {
    it('creates every container with its partition key and TTL, and is idempotent', async () => {
      const name = uniqueName('ensure');
      const first = await ensureDatabase(client, name);
      databases.push(first);
      const second = await ensureDatabase(client, name);
      expect(second.id).toBe(first.id);
      const { resources } = await first.containers.readAll().fetchAll();
      expect(resources.map((c) => c.id).sort()).toEqual(Object.keys(CONTAINERS).sort());
      for (const container of resources) {
        const spec: { partitionKey: string; defaultTtlSeconds?: number } =
          CONTAINERS[container.id as keyof typeof CONTAINERS];
        expect(container.partitionKey?.paths).toEqual([spec.partitionKey]);
        expect(container.defaultTtl).toBe(spec.defaultTtlSeconds);
      }
      expect(resources.find((c) => c.id === 'communications')?.indexingPolicy?.excludedPaths).toEqual(
        expect.arrayContaining([{ path: '/content/?' }, { path: '/attachments/*' }]),
      );
    });
  });

  describe('stored documents', () => {
    it('never stores etag as a field; keeps email claims out of account queries', async () => {
      const database = await freshDatabase();
      const repos = createCosmosRepositories(database, { clock: new TestClock() });
      await repos.servicePrincipals.create(newServicePrincipal('Contoso'));
      await repos.emailAccounts.create(newEmailAccount('Alice', 'Contoso', 'alice@contoso.com'));
      const { resources } = await database.container('emailAccounts').items.readAll().fetchAll();
      expect(resources.map((d) => d['docType'] as string).sort()).toEqual(['emailAccount', 'emailClaim']);
      for (const doc of resources) expect(doc).not.toHaveProperty('etag');
      expect((await repos.emailAccounts.list({ limit: 10 })).items.map((a) => a.accountName)).toEqual(['Alice']);
      expect(await repos.emailAccounts.countByServicePrincipal('Contoso')).toBe(1);
      await repos.emailAccounts.delete('Alice');
      const after = await database.container('emailAccounts').items.readAll().fetchAll();
      expect(after.resources).toEqual([]);
    });

    it('takes over an abandoned email claim only after the grace period', async () => {
      const database = await freshDatabase();
      const clock = new TestClock();
      const repos = createCosmosRepositories(database, { clock });
      await repos.servicePrincipals.create(newServicePrincipal('Contoso'));
      await repos.emailAccounts.create(newEmailAccount('Crashed', 'Contoso', 'orphan@contoso.com'));
      // Simulate a crash after the claim was written: the account document disappears, the claim stays.
      await database.container('emailAccounts').item('crashed', 'crashed').delete();

      const early = await rejectionOf(
        repos.emailAccounts.create(newEmailAccount('Retry', 'Contoso', 'orphan@contoso.com')),
      );
      expect(early.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });

      clock.advance(10 * 60_000);
      const taken = await repos.emailAccounts.create(newEmailAccount('Retry', 'Contoso', 'orphan@contoso.com'));
      expect(taken.accountName).toBe('Retry');
      const again = await rejectionOf(
        repos.emailAccounts.create(newEmailAccount('Third', 'Contoso', 'orphan@contoso.com')),
      );
      expect(again.details).toEqual({ reason: 'duplicate', field: 'emailAddress' });
    });

    it('honours a custom grace period', async () => {
      const database = await freshDatabase();
      const clock = new TestClock();
      const accounts = new CosmosEmailAccountRepository(database.container('emailAccounts'), clock, {
        claimGraceMs: 0,
      });
      await accounts.create(newEmailAccount('Crashed', 'Contoso', 'orphan@contoso.com'));
      await database.container('emailAccounts').item('crashed', 'crashed').delete();
      // No grace: the orphaned claim is taken over at once (the default 5 minutes would refuse it).
      const taken = await accounts.create(newEmailAccount('Retry', 'Contoso', 'orphan@contoso.com'));
      expect(taken.accountName).toBe('Retry');
    });

    it('rejects a hand-made token that wraps a Cosmos token of another query', async () => {
      const repos = createCosmosRepositories(await freshDatabase(), { clock: new TestClock() });
      for (let i = 0; i < 3; i++) await repos.servicePrincipals.create(newServicePrincipal(`P${i}`));
      const page = await repos.servicePrincipals.list({ limit: 1 });
      const inner = JSON.parse(Buffer.from(page.continuationToken!, 'base64url').toString('utf8')) as {
        t: string;
        c: string;
      };
      const forged = Buffer.from(JSON.stringify({ t: inner.t, c: 'A'.repeat(22) })).toString('base64url');
      const error = await rejectionOf(repos.servicePrincipals.list({ limit: 1, continuationToken: forged }));
      expect(error.errors?.[0]?.field).toBe('continuationToken');
    });
  });

  describe('an unreachable store', () => {
    it('reports DEPENDENCY_UNAVAILABLE (retryable), not a crash', async () => {
      const dead = createCosmosClient(
        { endpoint: 'https://127.0.0.1:9', key: testStack().cosmosKey },
        { requestTimeoutMs: 2000 },
      );
      const repos = createCosmosRepositories(dead.database('nowhere'), { clock: new TestClock() });
      const error = await rejectionOf(repos.servicePrincipals.get('Contoso'));
      expect(error.code).toBe('DEPENDENCY_UNAVAILABLE');
      expect(error.retryable).toBe(true);
      const setup = await rejectionOf(ensureDatabase(dead, 'nowhere'));
      expect(setup.code).toBe('DEPENDENCY_UNAVAILABLE');
      dead.dispose();
    });
  });
});
