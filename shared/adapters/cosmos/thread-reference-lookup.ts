/**
 * The Cosmos implementation of the sync engine's `ThreadReferenceLookup` port: the references (`referenceDoctype`
 * / `referenceName`) of an account's already-linked communications, by conversation id and by internet message
 * id. One query per delta page, inside the account's partition:
 *
 *   SELECT c.conversationId, c.messageId, c.referenceDoctype, c.referenceName, c.communicationDate FROM c
 *   WHERE c.emailAccount = @a AND c.docType = 'communication' AND IS_DEFINED(c.referenceName)
 *     AND (ARRAY_CONTAINS(@conv, c.conversationId) OR ARRAY_CONTAINS(@ids, c.messageId))
 *
 * When several linked messages share a conversation (or, oddly, a message id), the newest one's reference wins,
 * so a thread that was re-linked by a person follows its latest link.
 */
import type { Container } from '@azure/cosmos';
import type { RecordReference, ThreadReferenceLookup, ThreadReferences } from '../../domain/sync/linking';
import { CosmosDocuments, WhereBuilder } from './documents';

/** Keys per query: a page of 50–100 messages needs one query; a larger call is split. */
const MAX_KEYS_PER_QUERY = 500;

interface Row {
  conversationId?: string;
  messageId?: string;
  referenceDoctype?: string;
  referenceName?: string;
  communicationDate?: string;
}

export class CosmosThreadReferenceLookup implements ThreadReferenceLookup {
  private readonly docs: CosmosDocuments;

  /** `container`: the `communications` container (pk `/emailAccount`). */
  constructor(container: Container) {
    this.docs = new CosmosDocuments(container);
  }

  async findReferences(
    emailAccount: string,
    keys: { conversationIds: readonly string[]; messageIds: readonly string[] },
  ): Promise<ThreadReferences> {
    const byConversationId = new Map<string, RecordReference & { at: string }>();
    const byMessageId = new Map<string, RecordReference & { at: string }>();
    const conversationIds = [...new Set(keys.conversationIds.filter((k) => k !== ''))];
    const messageIds = [...new Set(keys.messageIds.filter((k) => k !== ''))];
    if (emailAccount === '' || (conversationIds.length === 0 && messageIds.length === 0)) {
      return { byConversationId: new Map(), byMessageId: new Map() };
    }
    const keep = (map: Map<string, RecordReference & { at: string }>, key: string | undefined, row: Row): void => {
      if (!key || !row.referenceDoctype || !row.referenceName) return;
      const at = row.communicationDate ?? '';
      const existing = map.get(key);
      if (existing && existing.at >= at) return;
      map.set(key, { referenceDoctype: row.referenceDoctype, referenceName: row.referenceName, at });
    };

    const chunks = Math.max(
      Math.ceil(conversationIds.length / MAX_KEYS_PER_QUERY),
      Math.ceil(messageIds.length / MAX_KEYS_PER_QUERY),
    );
    for (let i = 0; i < chunks; i++) {
      const conv = conversationIds.slice(i * MAX_KEYS_PER_QUERY, (i + 1) * MAX_KEYS_PER_QUERY);
      const ids = messageIds.slice(i * MAX_KEYS_PER_QUERY, (i + 1) * MAX_KEYS_PER_QUERY);
      const where = new WhereBuilder()
        .add('c.emailAccount = ?', emailAccount)
        .add('c.docType = ?', 'communication')
        .raw('IS_DEFINED(c.referenceName)');
      const either: string[] = [];
      if (conv.length > 0) {
        where.parameters.push({ name: '@conv', value: conv });
        either.push('ARRAY_CONTAINS(@conv, c.conversationId)');
      }
      if (ids.length > 0) {
        where.parameters.push({ name: '@ids', value: ids });
        either.push('ARRAY_CONTAINS(@ids, c.messageId)');
      }
      where.raw(`(${either.join(' OR ')})`);
      const query = where.query(
        'SELECT c.conversationId, c.messageId, c.referenceDoctype, c.referenceName, c.communicationDate FROM c',
      );
      for await (const row of this.docs.queryAll<Row>(query, emailAccount, 200)) {
        if (row.conversationId && conv.includes(row.conversationId)) keep(byConversationId, row.conversationId, row);
        if (row.messageId && ids.includes(row.messageId)) keep(byMessageId, row.messageId, row);
      }
    }
    const strip = (map: Map<string, RecordReference & { at: string }>): Map<string, RecordReference> =>
      new Map([...map].map(([key, { referenceDoctype, referenceName }]) => [key, { referenceDoctype, referenceName }]));
    return { byConversationId: strip(byConversationId), byMessageId: strip(byMessageId) };
  }
}
