/**
 * Point operations, bulk operations and queries on one container, with Cosmos system fields stripped, `_etag`
 * surfaced as `etag`, expected statuses (404, 409, 412) returned as values and everything else mapped by
 * `mapCosmosError`.
 */
import type {
  Container,
  ItemDefinition,
  JSONValue,
  OperationInput,
  OperationResponse,
  PartitionKey,
  SqlQuerySpec,
} from '@azure/cosmos';
import type { Page, PageRequest } from '../../domain/ports/repositories';
import { dependencyUnavailable, type AppError } from '../../errors';
import { mapWithConcurrency } from '../../domain/sync/concurrency';
import { decodeContinuation, encodeContinuation, queryFingerprint } from './continuation';
import { badContinuationToken, cosmosStatus, mapCosmosError } from './errors';
import { SYSTEM_FIELDS, pageLimit } from './record-rules';

/** A stored document as the SDK returns it. */
type RawDocument = ItemDefinition & Record<string, unknown>;

/** The record in a stored document: system fields removed, `_etag` as `etag`. */
export function fromDocument<T>(doc: RawDocument): T {
  const record: Record<string, unknown> = { ...doc };
  for (const field of SYSTEM_FIELDS) delete record[field];
  if (typeof doc['_etag'] === 'string') record['etag'] = doc['_etag'];
  return record as T;
}

export type WriteOutcome<T> = { ok: true; record: T; created?: boolean } | { ok: false; status: 404 | 409 | 412 };

const EXPECTED = new Set([404, 409, 412]);

function expectedFailure(error: unknown): { ok: false; status: 404 | 409 | 412 } | undefined {
  const status = cosmosStatus(error);
  return status !== undefined && EXPECTED.has(status) ? { ok: false, status: status as 404 | 409 | 412 } : undefined;
}

/** Operations per bulk request: the service's limit per partition key range. */
export const BULK_CHUNK_SIZE = 100;
/** How often a throttled (429) or "retry with" (449) operation of a bulk request is sent again before the call
 * fails with DEPENDENCY_UNAVAILABLE (retryable). Such an operation was not applied, so resending it is safe. */
export const MAX_BULK_RETRIES = 8;
/** Longest wait before resending throttled operations (the service's `retryAfterMilliseconds` is capped to it),
 * and the most a chunk waits in all (the SDK's own budget for throttled point operations is 30 s). */
const MAX_BULK_RETRY_WAIT_MS = 5_000;
const MAX_BULK_TOTAL_WAIT_MS = 30_000;
const RESEND_STATUSES = new Set([429, 449]);

/** One operation of `CosmosDocuments.bulk`. `partitionKey` is always given (never inferred from the body). */
export type BulkOperation =
  | { kind: 'create' | 'upsert'; partitionKey: string; doc: { id: string } }
  /** With `etag`: only if the stored document still has it (412 otherwise). */
  | { kind: 'replace'; partitionKey: string; doc: { id: string }; etag?: string }
  | { kind: 'read'; partitionKey: string; id: string };

/**
 * The outcome of one bulk operation: the stored (or read) record with the operation's status (200, or 201 for a
 * create / an upsert that created), or an expected failure (404 missing, 409 exists, 412 stale ETag).
 */
export type BulkOutcome<T> = { ok: true; status: number; record: T } | { ok: false; status: 404 | 409 | 412 };

export interface BulkOptions {
  /** Bulk requests (chunks of up to 100 operations) in flight at once (default 4). */
  concurrency?: number;
  /** Chunk per partition key (operations grouped by it, first-seen order) instead of in input order: fewer
   * requests when the operations of a partition are interleaved with others. */
  chunkByPartition?: boolean;
}

function bulkInput(op: BulkOperation): OperationInput {
  switch (op.kind) {
    case 'read':
      return { operationType: 'Read', partitionKey: op.partitionKey, id: op.id };
    case 'create':
      return { operationType: 'Create', partitionKey: op.partitionKey, resourceBody: op.doc };
    case 'upsert':
      return { operationType: 'Upsert', partitionKey: op.partitionKey, resourceBody: op.doc };
    case 'replace':
      return {
        operationType: 'Replace',
        partitionKey: op.partitionKey,
        id: op.doc.id,
        resourceBody: op.doc,
        ...(op.etag === undefined ? {} : { ifMatch: op.etag }),
      };
  }
}

/** A per-operation failure as the error `mapCosmosError` maps (it reads `code`). */
function operationError(op: BulkOperation, response: OperationResponse | undefined): Error {
  const status = response?.statusCode;
  const substatus = (response as { subStatusCode?: unknown } | undefined)?.subStatusCode;
  return Object.assign(
    new Error(
      status === undefined
        ? `Cosmos DB bulk ${op.kind} returned no result`
        : `Cosmos DB bulk ${op.kind} failed with status ${status}${typeof substatus === 'number' ? `/${substatus}` : ''}`,
    ),
    status === undefined ? {} : { code: status, substatus },
  );
}

/** The wait the service asked for before resending (per operation), if it said. */
function retryAfterMs(response: OperationResponse | undefined): number | undefined {
  const value = (response as { retryAfterMilliseconds?: unknown } | undefined)?.retryAfterMilliseconds;
  const ms = Number(value);
  return value === undefined || value === null || !Number.isFinite(ms) || ms < 0 ? undefined : ms;
}

/** Before resend `retry` (1, 2, ...): the longest wait the service asked for, or a short exponential backoff. */
function resendDelayMs(retry: number, asked: number | undefined): number {
  const fallback = Math.min(1_000, 25 * 2 ** retry) * (0.5 + Math.random() / 2);
  return Math.min(MAX_BULK_RETRY_WAIT_MS, asked ?? fallback);
}

const ifMatch = (etag: string | undefined) =>
  etag === undefined ? {} : { accessCondition: { type: 'IfMatch' as const, condition: etag } };

export class CosmosDocuments {
  constructor(readonly container: Container) {}

  async read<T>(id: string, partitionKey: string): Promise<T | undefined> {
    try {
      const { resource } = await this.container.item(id, partitionKey).read<RawDocument>();
      return resource === undefined ? undefined : fromDocument<T>(resource);
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw mapCosmosError(error, 'read');
    }
  }

  async create<T>(doc: object): Promise<WriteOutcome<T>> {
    try {
      const { resource } = await this.container.items.create<RawDocument>(doc as RawDocument);
      return { ok: true, record: fromDocument<T>(resource as RawDocument), created: true };
    } catch (error) {
      const failure = expectedFailure(error);
      if (failure) return failure;
      throw mapCosmosError(error, 'create');
    }
  }

  /** Replaces an existing document; with `etag`, only if it is still current (412 otherwise). */
  async replace<T>(doc: { id: string }, partitionKey: string, etag?: string): Promise<WriteOutcome<T>> {
    try {
      const { resource } = await this.container
        .item(doc.id, partitionKey)
        .replace<RawDocument>(doc as RawDocument, ifMatch(etag));
      return { ok: true, record: fromDocument<T>(resource as RawDocument) };
    } catch (error) {
      const failure = expectedFailure(error);
      if (failure) return failure;
      throw mapCosmosError(error, 'replace');
    }
  }

  async upsert<T>(doc: object): Promise<WriteOutcome<T>> {
    try {
      const response = await this.container.items.upsert<RawDocument>(doc as RawDocument);
      return {
        ok: true,
        record: fromDocument<T>(response.resource as RawDocument),
        created: response.statusCode === 201,
      };
    } catch (error) {
      const failure = expectedFailure(error);
      if (failure) return failure;
      throw mapCosmosError(error, 'upsert');
    }
  }

  async delete(
    id: string,
    partitionKey: string,
    etag?: string,
  ): Promise<{ ok: true } | { ok: false; status: 404 | 409 | 412 }> {
    try {
      await this.container.item(id, partitionKey).delete(ifMatch(etag));
      return { ok: true };
    } catch (error) {
      const failure = expectedFailure(error);
      if (failure) return failure;
      throw mapCosmosError(error, 'delete');
    }
  }

  /**
   * Many operations in few requests: chunks of up to 100 operations, each sent as one bulk request per
   * partition key range, `concurrency` chunks at a time. Returns one outcome per operation, in input order.
   * Operations are independent (not a transaction): each succeeds or fails on its own. Throttled (429) and
   * "retry with" (449) operations are resent (after the wait the service asks for, else a short backoff) up to
   * MAX_BULK_RETRIES times, then DEPENDENCY_UNAVAILABLE. Any other failed operation throws its mapped error
   * (`mapCosmosError`: 5xx, 408 → DEPENDENCY_UNAVAILABLE; 400, 413 → INTERNAL) after the chunks in flight finish;
   * no further chunk is started, so some operations may have been applied and others not.
   *
   * Uses the SDK's per-request bulk API (`items.bulk`), not `executeBulkOperations`: in @azure/cosmos 4.9.3
   * every `executeBulkOperations` call waits at least one second (it flushes the last partial batch, then sleeps
   * 1 s before checking whether the operations finished), which would cost a second per page of mail.
   */
  async bulk<T>(operations: readonly BulkOperation[], options: BulkOptions = {}): Promise<BulkOutcome<T>[]> {
    const outcomes: BulkOutcome<T>[] = new Array<BulkOutcome<T>>(operations.length);
    const chunks: number[][] = [];
    const order = options.chunkByPartition ? byPartition(operations) : [...operations.keys()];
    let chunk: number[] = [];
    for (const index of order) {
      const partition = operations[index]?.partitionKey;
      const previous = chunk.length ? operations[chunk[chunk.length - 1] as number]?.partitionKey : partition;
      if (chunk.length === BULK_CHUNK_SIZE || (options.chunkByPartition && partition !== previous)) {
        chunks.push(chunk);
        chunk = [];
      }
      chunk.push(index);
    }
    if (chunk.length) chunks.push(chunk);
    await mapWithConcurrency(chunks, options.concurrency ?? 4, async (indices) => {
      const results = await this.bulkChunk<T>(indices.map((i) => operations[i] as BulkOperation));
      results.forEach((outcome, k) => (outcomes[indices[k] as number] = outcome));
    });
    return outcomes;
  }

  /** Up to 100 operations: sent, their throttled ones resent (see `bulk`). */
  private async bulkChunk<T>(operations: readonly BulkOperation[]): Promise<BulkOutcome<T>[]> {
    const outcomes: BulkOutcome<T>[] = new Array<BulkOutcome<T>>(operations.length);
    let pending = [...operations.keys()];
    let waitedMs = 0;
    for (let retry = 0; ; retry++) {
      let responses: OperationResponse[];
      try {
        // continueOnError: one failed operation must not fail (424) the others of its request.
        responses = await this.container.items.bulk(
          pending.map((i) => bulkInput(operations[i] as BulkOperation)),
          { continueOnError: true },
        );
      } catch (error) {
        throw mapCosmosError(error, 'bulk');
      }
      const resend: number[] = [];
      let asked: number | undefined;
      let failure: AppError | undefined;
      pending.forEach((index, k) => {
        const op = operations[index] as BulkOperation;
        const response = responses[k];
        const status = response?.statusCode;
        if (status !== undefined && status >= 200 && status < 300) {
          const body = (response?.resourceBody ?? {}) as RawDocument;
          outcomes[index] = { ok: true, status, record: fromDocument<T>(body) };
        } else if (status === 404 || status === 409 || status === 412) {
          outcomes[index] = { ok: false, status };
        } else if (status !== undefined && RESEND_STATUSES.has(status)) {
          if (retry >= MAX_BULK_RETRIES) failure ??= dependencyUnavailable('Cosmos DB', operationError(op, response));
          resend.push(index);
          const wait = retryAfterMs(response);
          if (wait !== undefined) asked = Math.max(asked ?? 0, wait);
        } else {
          failure ??= mapCosmosError(operationError(op, response), op.kind);
        }
      });
      if (failure !== undefined) throw failure;
      if (resend.length === 0) return outcomes;
      const delayMs = resendDelayMs(retry + 1, asked);
      waitedMs += delayMs;
      if (waitedMs > MAX_BULK_TOTAL_WAIT_MS) {
        const first = resend[0] as number;
        throw dependencyUnavailable(
          'Cosmos DB',
          operationError(operations[first] as BulkOperation, responses[pending.indexOf(first)]),
        );
      }
      pending = resend;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /** One page of a query. Pass `partitionKey` whenever the WHERE clause pins one (it must: see local-stack.md). */
  async queryPage<T>(query: SqlQuerySpec, page: PageRequest, partitionKey?: string): Promise<Page<T>> {
    const limit = pageLimit(page);
    const fingerprint = queryFingerprint(this.container.id, query.query, query.parameters ?? []);
    let continuation =
      page.continuationToken === undefined || page.continuationToken === null
        ? undefined
        : decodeContinuation(fingerprint, page.continuationToken);
    // A page can come back empty with more to come (cross-partition queries): keep going until items arrive.
    for (;;) {
      const iterator = this.container.items.query<RawDocument>(query, {
        maxItemCount: limit,
        ...(continuation === undefined ? {} : { continuationToken: continuation }),
        ...(partitionKey === undefined ? {} : { partitionKey: partitionKey as PartitionKey }),
      });
      let response;
      try {
        response = await iterator.fetchNext();
      } catch (error) {
        if (continuation !== undefined && cosmosStatus(error) === 400) throw badContinuationToken();
        throw mapCosmosError(error, 'query');
      }
      const next = response.hasMoreResults ? response.continuationToken : undefined;
      if (response.resources.length === 0 && next) {
        continuation = next;
        continue;
      }
      return {
        items: response.resources.map((doc) => fromDocument<T>(doc)),
        continuationToken: next ? encodeContinuation(fingerprint, next) : null,
      };
    }
  }

  /** Every result of a query, page by page (never all in memory at once). */
  async *queryAll<T>(query: SqlQuerySpec, partitionKey?: string, pageSize = 100): AsyncIterable<T> {
    const iterator = this.container.items.query<RawDocument>(query, {
      maxItemCount: pageSize,
      ...(partitionKey === undefined ? {} : { partitionKey: partitionKey as PartitionKey }),
    });
    for (;;) {
      let response;
      try {
        if (!iterator.hasMoreResults()) return;
        response = await iterator.fetchNext();
      } catch (error) {
        throw mapCosmosError(error, 'query');
      }
      for (const doc of response.resources) yield fromDocument<T>(doc);
      if (!response.hasMoreResults) return;
    }
  }

  /** A scalar query (`SELECT VALUE COUNT(1) ...`). */
  async queryValue<T extends JSONValue>(query: SqlQuerySpec, partitionKey?: string): Promise<T | undefined> {
    try {
      const { resources } = await this.container.items
        .query<T>(query, partitionKey === undefined ? {} : { partitionKey: partitionKey as PartitionKey })
        .fetchAll();
      return resources[0];
    } catch (error) {
      throw mapCosmosError(error, 'query');
    }
  }
}

/** Operation indices grouped by partition key (partitions in first-seen order, input order within each). */
function byPartition(operations: readonly BulkOperation[]): number[] {
  const groups = new Map<string, number[]>();
  operations.forEach((op, index) => {
    const group = groups.get(op.partitionKey);
    if (group) group.push(index);
    else groups.set(op.partitionKey, [index]);
  });
  return [...groups.values()].flat();
}

/** Builds a parameterised WHERE clause from conditions (`@p0`, `@p1`, ... for values). */
export class WhereBuilder {
  private readonly conditions: string[] = [];
  readonly parameters: { name: string; value: JSONValue }[] = [];

  /** `template` uses `?` for the parameter, e.g. `c.enabled = ?`. */
  add(template: string, value: JSONValue): this {
    const name = `@p${this.parameters.length}`;
    this.parameters.push({ name, value });
    this.conditions.push(template.replace('?', name));
    return this;
  }

  raw(condition: string): this {
    this.conditions.push(condition);
    return this;
  }

  query(select: string, orderBy?: string): SqlQuerySpec {
    const where = this.conditions.length ? ` WHERE ${this.conditions.join(' AND ')}` : '';
    return {
      query: `${select}${where}${orderBy ? ` ORDER BY ${orderBy}` : ''}`,
      parameters: this.parameters,
    };
  }
}
