/**
 * Point operations and queries on one container, with Cosmos system fields stripped, `_etag` surfaced as
 * `etag`, expected statuses (404, 409, 412) returned as values and everything else mapped by `mapCosmosError`.
 */
import type { Container, ItemDefinition, JSONValue, PartitionKey, SqlQuerySpec } from '@azure/cosmos';
import type { Page, PageRequest } from '../../domain/ports/repositories';
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
