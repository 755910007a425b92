/**
 * The Cosmos thread-reference lookup (the sync engine's `ThreadReferenceLookup` port) against the Cosmos
 * stand-in: finds linked communications of one account by conversation id and by internet message id, ignores
 * unlinked ones and other accounts, and lets the newest link of a thread win.
 */
import type { CosmosClient, Database } from '@azure/cosmos';
import { createCosmosClient, createCosmosRepositories, ensureDatabase } from '../../../../shared/adapters/cosmos';
import { CosmosThreadReferenceLookup } from '../../../../shared/adapters/cosmos/thread-reference-lookup';
import type { Repositories } from '../../../../shared/domain/ports/repositories';
import { testStack, uniqueName } from '../../../support/stack';
import { TestClock, newCommunication } from './fixtures';

let client: CosmosClient;
let database: Database;
let repos: Repositories;
let lookup: CosmosThreadReferenceLookup;

const ticket = (name: string) => ({ referenceDoctype: 'Support Ticket', referenceName: name });

beforeAll(async () => {
  const { cosmosEndpoint, cosmosKey } = testStack();
  client = createCosmosClient({ endpoint: cosmosEndpoint, key: cosmosKey });
  database = await ensureDatabase(client, uniqueName('threads'));
  repos = createCosmosRepositories(database, { clock: new TestClock() });
  lookup = new CosmosThreadReferenceLookup(database.container('communications'));
  await repos.communications.upsertMany([
    newCommunication('alice', 'a1', '2026-01-01T10:00:00.000Z', {
      conversationId: 'conv-1',
      messageId: '<m1@contoso.com>',
      ...ticket('TICKET-1'),
    }),
    // A newer message of the same conversation linked elsewhere: the newest link wins.
    newCommunication('alice', 'a2', '2026-01-02T10:00:00.000Z', {
      conversationId: 'conv-1',
      messageId: '<m2@contoso.com>',
      ...ticket('TICKET-2'),
    }),
    // Unlinked: never returned.
    newCommunication('alice', 'a3', '2026-01-03T10:00:00.000Z', {
      conversationId: 'conv-3',
      messageId: '<m3@contoso.com>',
    }),
    newCommunication('alice', 'a4', '2026-01-04T10:00:00.000Z', {
      conversationId: 'conv-4',
      messageId: '<m4@contoso.com>',
      ...ticket('TICKET-4'),
    }),
    // Another account (partition) with the same keys: never returned for alice.
    newCommunication('bob', 'b1', '2026-01-05T10:00:00.000Z', {
      conversationId: 'conv-3',
      messageId: '<m3@contoso.com>',
      ...ticket('TICKET-BOB'),
    }),
  ]);
});

afterAll(async () => {
  await database?.delete().catch(() => undefined);
  client?.dispose();
});

it('finds linked communications by conversation id and by message id, newest link first', async () => {
  const found = await lookup.findReferences('alice', {
    conversationIds: ['conv-1', 'conv-3', 'conv-missing'],
    messageIds: ['<m4@contoso.com>', '<m3@contoso.com>', '<m1@contoso.com>'],
  });
  expect(Object.fromEntries(found.byConversationId)).toEqual({ 'conv-1': ticket('TICKET-2') });
  expect(Object.fromEntries(found.byMessageId)).toEqual({
    '<m1@contoso.com>': ticket('TICKET-1'),
    '<m4@contoso.com>': ticket('TICKET-4'),
  });
});

it('keeps accounts apart', async () => {
  const found = await lookup.findReferences('bob', { conversationIds: ['conv-1', 'conv-3'], messageIds: [] });
  expect(Object.fromEntries(found.byConversationId)).toEqual({ 'conv-3': ticket('TICKET-BOB') });
  expect(found.byMessageId.size).toBe(0);
});

it('answers empty maps without querying when there is nothing to look up', async () => {
  const found = await lookup.findReferences('alice', { conversationIds: [], messageIds: [''] });
  expect(found.byConversationId.size).toBe(0);
  expect(found.byMessageId.size).toBe(0);
});

it('handles more keys than one query takes', async () => {
  const many = Array.from({ length: 1200 }, (_, i) => `conv-x-${i}`);
  const found = await lookup.findReferences('alice', { conversationIds: [...many, 'conv-4'], messageIds: [] });
  expect(Object.fromEntries(found.byConversationId)).toEqual({ 'conv-4': ticket('TICKET-4') });
});
