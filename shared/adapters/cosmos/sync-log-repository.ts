import type { Container } from '@azure/cosmos';
import { duplicate, staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type { NewSyncLog, Page, PageRequest, SyncLogRepository } from '../../domain/ports/repositories';
import type { SyncLogRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder } from './documents';
import { newSyncLogRecord, withoutEtag } from './record-rules';

/** Container `syncLogs`, pk /emailAccount, default TTL 30 days (Cosmos expires them; `deleteOlderThan` backs it up). */
export class CosmosSyncLogRepository implements SyncLogRepository {
  private readonly docs: CosmosDocuments;

  constructor(
    container: Container,
    private readonly clock: Clock,
  ) {
    this.docs = new CosmosDocuments(container);
  }

  async create(input: NewSyncLog): Promise<SyncLogRecord> {
    const record = newSyncLogRecord(input, this.clock.now().toISOString());
    const outcome = await this.docs.create<SyncLogRecord>(withoutEtag(record));
    if (outcome.ok) return outcome.record;
    if (outcome.status === 409) throw duplicate('A sync log with this id', 'id');
    throw staleWrite('The sync log');
  }

  async listForAccount(emailAccount: string, page: PageRequest): Promise<Page<SyncLogRecord>> {
    const query = new WhereBuilder()
      .add('c.emailAccount = ?', emailAccount)
      .add('c.docType = ?', 'syncLog')
      .query('SELECT * FROM c', 'c.syncStartTime DESC');
    return this.docs.queryPage<SyncLogRecord>(query, page, emailAccount);
  }

  async deleteOlderThan(emailAccount: string | undefined, before: Date): Promise<number> {
    const where = new WhereBuilder();
    if (emailAccount !== undefined) where.add('c.emailAccount = ?', emailAccount);
    where.add('c.docType = ?', 'syncLog').add('c.syncStartTime < ?', before.toISOString());
    const query = where.query('SELECT c.id, c.emailAccount FROM c');
    // Collect first, then delete: deleting while paging a query can skip items.
    const victims: { id: string; emailAccount: string }[] = [];
    for await (const doc of this.docs.queryAll<{ id: string; emailAccount: string }>(query, emailAccount, 500)) {
      victims.push(doc);
    }
    let deleted = 0;
    for (let i = 0; i < victims.length; i += DELETE_CONCURRENCY) {
      const outcomes = await Promise.all(
        victims.slice(i, i + DELETE_CONCURRENCY).map((v) => this.docs.delete(v.id, v.emailAccount)),
      );
      deleted += outcomes.filter((o) => o.ok).length;
    }
    return deleted;
  }
}

const DELETE_CONCURRENCY = 16;
