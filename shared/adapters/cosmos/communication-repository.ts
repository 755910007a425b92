import type { Container } from '@azure/cosmos';
import { notFound, staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  CommunicationFilter,
  CommunicationRepository,
  CommunicationUpsert,
  Mutator,
  Page,
  PageRequest,
  UpsertManyResult,
} from '../../domain/ports/repositories';
import type { CommunicationRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder, type BulkOperation } from './documents';
import {
  communicationReplacement,
  cosmosIdProblem,
  sinceInstant,
  updateWithRetry,
  validateCommunicationBatch,
} from './record-rules';

const WHAT = 'The communication';
/** Ids per `ARRAY_CONTAINS` query in getMany. */
const GET_MANY_CHUNK = 100;

/** `writeConcurrency` by default: a 5,000-record upsertMany ran at ~7,500/s with 1, ~10,000/s with 2–8 (stand-in). */
export const DEFAULT_WRITE_CONCURRENCY = 4;

export interface CommunicationRepositoryOptions {
  /** Bulk requests (of up to 100 records of one partition each) in flight at once in upsertMany
   * (default DEFAULT_WRITE_CONCURRENCY). A page of up to 100 records of one account is a single request. */
  writeConcurrency?: number;
}

/** Container `communications`, pk /emailAccount. */
export class CosmosCommunicationRepository implements CommunicationRepository {
  private readonly docs: CosmosDocuments;
  private readonly writeConcurrency: number;

  constructor(
    container: Container,
    private readonly clock: Clock,
    options: CommunicationRepositoryOptions = {},
  ) {
    this.docs = new CosmosDocuments(container);
    this.writeConcurrency = Math.max(1, options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY);
  }

  async get(emailAccount: string, id: string): Promise<CommunicationRecord | undefined> {
    if (!emailAccount || cosmosIdProblem(id) !== undefined) return undefined;
    const found = await this.docs.read<CommunicationRecord>(id, emailAccount);
    return found?.docType === 'communication' ? found : undefined;
  }

  async getMany(emailAccount: string, ids: readonly string[]): Promise<Map<string, CommunicationRecord>> {
    const found = new Map<string, CommunicationRecord>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += GET_MANY_CHUNK) {
      const query = new WhereBuilder()
        .add('c.emailAccount = ?', emailAccount)
        .add('ARRAY_CONTAINS(?, c.id)', unique.slice(i, i + GET_MANY_CHUNK))
        .add('c.docType = ?', 'communication')
        .query('SELECT * FROM c');
      for await (const record of this.docs.queryAll<CommunicationRecord>(query, emailAccount, GET_MANY_CHUNK)) {
        found.set(record.id, record);
      }
    }
    return found;
  }

  /**
   * Bulk requests of up to 100 records of one partition (`writeConcurrency` at a time): a record without `etag`
   * is upserted (201 created, 200 updated); one with `etag` replaces the stored one only if it still has that
   * ETag, else (412, or 404: gone) its id is reported in `stale` (in input order). Throttled records are resent
   * (see `CosmosDocuments.bulk`); any other failure throws the mapped error once the requests in flight finish
   * (records of other requests may have been written: the caller retries the page, which is idempotent).
   */
  async upsertMany(records: readonly CommunicationUpsert[]): Promise<UpsertManyResult> {
    const now = this.clock.now().toISOString();
    const batch = validateCommunicationBatch(records, now);
    const result: UpsertManyResult = { created: 0, updated: 0, stale: [] };
    if (batch.length === 0) return result;
    const operations = batch.map(({ record, etag }): BulkOperation =>
      etag === undefined
        ? { kind: 'upsert', partitionKey: record.emailAccount, doc: record }
        : { kind: 'replace', partitionKey: record.emailAccount, doc: record, etag },
    );
    const outcomes = await this.docs.bulk<CommunicationRecord>(operations, {
      concurrency: this.writeConcurrency,
      chunkByPartition: true,
    });
    let unexpected = false;
    outcomes.forEach((outcome, i) => {
      const conditional = batch[i]?.etag !== undefined;
      if (outcome.ok && outcome.status === 201 && !conditional) result.created++;
      else if (outcome.ok) result.updated++;
      else if (conditional) result.stale.push(batch[i]?.record.id as string);
      else unexpected = true; // an unconditional upsert refused with 404/409/412: CONFLICT stale, as ever
    });
    if (unexpected) throw staleWrite(WHAT);
    return result;
  }

  async replace(record: CommunicationRecord): Promise<CommunicationRecord> {
    const { next, etag } = communicationReplacement(record, this.clock.now().toISOString());
    const outcome = await this.docs.replace<CommunicationRecord>(next, next.emailAccount, etag);
    if (outcome.ok) return outcome.record;
    if (outcome.status === 404) throw notFound(WHAT);
    throw staleWrite(WHAT);
  }

  update(emailAccount: string, id: string, mutate: Mutator<CommunicationRecord>): Promise<CommunicationRecord> {
    return updateWithRetry({
      what: WHAT,
      read: () => this.get(emailAccount, id),
      // The partition and id are the record's identity: a mutation cannot move it.
      replace: (next, current) => this.replace({ ...next, id, emailAccount: current.emailAccount, etag: current.etag }),
      mutate,
    });
  }

  async list(page: PageRequest, filter: CommunicationFilter = {}): Promise<Page<CommunicationRecord>> {
    if (filter.emailAccounts !== undefined && filter.emailAccounts.length === 0) {
      return { items: [], continuationToken: null };
    }
    const where = new WhereBuilder();
    if (filter.emailAccount !== undefined) where.add('c.emailAccount = ?', filter.emailAccount);
    if (filter.emailAccounts !== undefined) where.add('ARRAY_CONTAINS(?, c.emailAccount)', [...filter.emailAccounts]);
    where.add('c.docType = ?', 'communication');
    if (filter.owner !== undefined) where.add('c.owner = ?', filter.owner);
    if (filter.folder !== undefined) where.add('c.folder = ?', filter.folder);
    if (filter.referenceDoctype !== undefined) where.add('c.referenceDoctype = ?', filter.referenceDoctype);
    if (filter.referenceName !== undefined) where.add('c.referenceName = ?', filter.referenceName);
    if (filter.since !== undefined) where.add('c.communicationDate >= ?', sinceInstant(filter.since));
    return this.docs.queryPage<CommunicationRecord>(
      where.query('SELECT * FROM c', 'c.communicationDate DESC'),
      page,
      filter.emailAccount,
    );
  }

  async findById(id: string): Promise<CommunicationRecord | undefined> {
    if (!id) return undefined;
    const query = new WhereBuilder().add('c.id = ?', id).add('c.docType = ?', 'communication').query('SELECT * FROM c');
    for await (const record of this.docs.queryAll<CommunicationRecord>(query, undefined, 1)) return record;
    return undefined;
  }
}
