/**
 * The bulk writes (`upsertMany`, `recordSightings`) when the store throttles, fails single operations or
 * changes a document between our read and our write: the real SDK against the stand-in, through a proxy that
 * answers chosen operations itself (the stand-in never throttles).
 */
import { CosmosClient, type Database } from '@azure/cosmos';
import {
  CosmosCommunicationRepository,
  CosmosContactRepository,
  createCosmosClient,
  ensureDatabase,
} from '../../../../shared/adapters/cosmos';
import { testStack, uniqueName } from '../../../support/stack';
import { startFaultProxy, type BulkRequestOperation, type FaultProxy } from './fault-proxy';
import { TestClock, newCommunication, rejectionOf } from './fixtures';

const idOf = (op: BulkRequestOperation): string => op.id ?? op.resourceBody?.id ?? '';

describe('bulk writes under faults (stand-in behind a fault proxy)', () => {
  let direct: CosmosClient;
  let proxied: CosmosClient;
  let proxy: FaultProxy;
  const databases: Database[] = [];

  beforeAll(async () => {
    const { cosmosEndpoint, cosmosKey } = testStack();
    direct = createCosmosClient({ endpoint: cosmosEndpoint, key: cosmosKey });
    proxy = await startFaultProxy(cosmosEndpoint);
    proxied = new CosmosClient({
      endpoint: proxy.endpoint,
      key: cosmosKey,
      // The stand-in advertises its own address: stay on the proxy.
      connectionPolicy: { enableEndpointDiscovery: false },
    });
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.delete()));
    proxied.dispose();
    direct.dispose();
    await proxy.close();
  });
  afterEach(() => {
    proxy.intercept = undefined;
  });

  /** A fresh database, and the repositories on it as seen through the proxy and directly. */
  async function setup() {
    const name = uniqueName('bulkfaults');
    const database = await ensureDatabase(direct, name);
    databases.push(database);
    const clock = new TestClock();
    const through = proxied.database(name);
    return {
      communications: new CosmosCommunicationRepository(through.container('communications'), clock),
      contacts: new CosmosContactRepository(through.container('contacts'), clock),
      directCommunications: new CosmosCommunicationRepository(database.container('communications'), clock),
      directContacts: new CosmosContactRepository(database.container('contacts'), clock),
    };
  }

  /** Throttles every operation the first `times` times its document is sent. */
  function throttleEach(times: number, retryAfterMilliseconds?: number): Map<string, number> {
    const sends = new Map<string, number>();
    proxy.intercept = (operations) =>
      operations.map((op) => {
        const key = `${op.operationType}:${idOf(op)}`;
        const count = (sends.get(key) ?? 0) + 1;
        sends.set(key, count);
        if (count > times) return undefined;
        return retryAfterMilliseconds === undefined ? { statusCode: 429 } : { statusCode: 429, retryAfterMilliseconds };
      });
    return sends;
  }

  const day = (d: number) => `2026-02-${String(d).padStart(2, '0')}T10:00:00.000Z`;

  it('resends throttled records until written, counting each once', async () => {
    const { communications, directCommunications } = await setup();
    const sends = throttleEach(2, 5);
    const before = proxy.bulkRequests;
    const records = Array.from({ length: 150 }, (_, i) => newCommunication('Acct A', `m${i}`, day(1)));
    expect(await communications.upsertMany(records)).toEqual({ created: 150, updated: 0, stale: [] });
    // Two chunks (100 + 50), each sent three times.
    expect(proxy.bulkRequests - before).toBe(6);
    expect([...sends.values()].every((count) => count === 3)).toBe(true);
    const stored = await directCommunications.getMany(
      'Acct A',
      records.map((r) => r.id),
    );
    expect(stored.size).toBe(150);
  });

  it('backs off when the store gives no wait, and keeps stale detection', async () => {
    const { communications, directCommunications } = await setup();
    await directCommunications.upsertMany([newCommunication('Acct A', 'x', day(1))]);
    const current = (await directCommunications.get('Acct A', 'x'))!;
    await directCommunications.update('Acct A', 'x', (c) => ({ ...c, seen: true }));
    throttleEach(1);
    const result = await communications.upsertMany([
      newCommunication('Acct A', 'x', day(1), { etag: current.etag, subject: 'late' }),
      newCommunication('Acct A', 'y', day(1)),
    ]);
    expect(result).toEqual({ created: 1, updated: 0, stale: ['x'] });
    expect((await directCommunications.get('Acct A', 'x'))?.subject).toBe('Subject x');
  });

  it('reports DEPENDENCY_UNAVAILABLE (retryable) when throttling does not stop', async () => {
    const { communications } = await setup();
    proxy.intercept = (operations) =>
      operations.map((op) => (idOf(op) === 'hot' ? { statusCode: 429, retryAfterMilliseconds: 1 } : undefined));
    const error = await rejectionOf(
      communications.upsertMany([
        newCommunication('Acct A', 'cold', day(1)),
        newCommunication('Acct A', 'hot', day(1)),
      ]),
    );
    expect(error.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(error.retryable).toBe(true);
  });

  it('maps any other failed operation like a failed point write', async () => {
    const { communications, contacts } = await setup();
    proxy.intercept = (operations) => operations.map(() => ({ statusCode: 503 }));
    const unavailable = await rejectionOf(communications.upsertMany([newCommunication('Acct A', 'a', day(1))]));
    expect(unavailable.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(unavailable.retryable).toBe(true);
    const sightingFailure = await rejectionOf(
      contacts.recordSightings([{ email: 'a@fabrikam.com' }], {
        emailAccount: 'Acct A',
        owner: 'alice@contoso.com',
        seenAt: new Date(day(1)),
      }),
    );
    expect(sightingFailure.code).toBe('DEPENDENCY_UNAVAILABLE');

    proxy.intercept = (operations) => operations.map(() => ({ statusCode: 400 }));
    const refused = await rejectionOf(communications.upsertMany([newCommunication('Acct A', 'a', day(1))]));
    expect(refused.code).toBe('INTERNAL');
    expect(refused.retryable).toBe(false);
    expect(refused.message).toContain('(400)');
  });

  it('records sightings exactly while creates, reads and replaces are throttled', async () => {
    const { contacts, directContacts } = await setup();
    const sighting = { emailAccount: 'Acct A', owner: 'alice@contoso.com', seenAt: new Date(day(2)) };
    for (let i = 0; i < 60; i++) await directContacts.upsertByEmail(`p${i}@fabrikam.com`, sighting);
    throttleEach(1, 2);
    const result = await contacts.recordSightings(
      Array.from({ length: 120 }, (_, i) => ({ email: `p${i}@fabrikam.com` })),
      { ...sighting, emailAccount: 'Acct B' },
    );
    expect(result).toEqual({ created: 60, updated: 60, unchanged: 0, refused: [] });
    for (const i of [0, 59, 60, 119]) {
      const contact = await directContacts.getByEmail(`p${i}@fabrikam.com`);
      expect(contact?.emailAccounts).toEqual(i < 60 ? ['Acct A', 'Acct B'] : ['Acct B']);
    }
  });

  it('re-reads and merges again when another writer changes a contact between read and replace', async () => {
    const { contacts, directContacts } = await setup();
    const at = new Date(day(3));
    await directContacts.upsertByEmail('race@fabrikam.com', { emailAccount: 'Acct 0', owner: 'o0', seenAt: at });
    await directContacts.upsertByEmail('calm@fabrikam.com', { emailAccount: 'Acct 0', owner: 'o0', seenAt: at });
    let replaces = 0;
    let interfered = false;
    proxy.intercept = async (operations) => {
      replaces += operations.filter((op) => op.operationType === 'Replace').length;
      if (!interfered && operations.some((op) => op.operationType === 'Replace')) {
        interfered = true;
        // Another worker's write lands after our read, before our replace: ours must come back 412.
        await directContacts.upsertByEmail('race@fabrikam.com', { emailAccount: 'Acct 2', owner: 'o2', seenAt: at });
      }
      return operations.map(() => undefined);
    };
    const result = await contacts.recordSightings(
      [{ email: 'race@fabrikam.com', fullName: 'Race' }, { email: 'calm@fabrikam.com' }],
      { emailAccount: 'Acct 1', owner: 'o1', seenAt: at },
    );
    expect(result).toEqual({ created: 0, updated: 2, unchanged: 0, refused: [] });
    expect(replaces).toBe(3); // race twice (412, then the re-merged write), calm once
    expect(await directContacts.getByEmail('race@fabrikam.com')).toMatchObject({
      fullName: 'Race',
      emailAccounts: ['Acct 0', 'Acct 2', 'Acct 1'],
      owners: ['o0', 'o2', 'o1'],
    });
  });
});
