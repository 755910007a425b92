import type { Container } from '@azure/cosmos';
import { conflictReason, duplicate, notFound, staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  Mutator,
  NewServicePrincipal,
  Page,
  PageRequest,
  ServicePrincipalFilter,
  ServicePrincipalRepository,
} from '../../domain/ports/repositories';
import { idForName, servicePrincipalRecord, type ServicePrincipalRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder } from './documents';
import {
  MAX_WRITE_ATTEMPTS,
  backoffBeforeRetry,
  assertSameName,
  idForValidName,
  requireEtag,
  validateRecord,
  withoutEtag,
} from './record-rules';

const WHAT = 'The service principal';

/** Container `servicePrincipals`, pk /id, id = idForName(servicePrincipalName). */
export class CosmosServicePrincipalRepository implements ServicePrincipalRepository {
  private readonly docs: CosmosDocuments;

  constructor(
    container: Container,
    private readonly clock: Clock,
  ) {
    this.docs = new CosmosDocuments(container);
  }

  async create(input: NewServicePrincipal): Promise<ServicePrincipalRecord> {
    const now = this.clock.now().toISOString();
    const record = validateRecord(servicePrincipalRecord, {
      ...input,
      id: 'pending',
      docType: 'servicePrincipal',
      createdAt: now,
      updatedAt: now,
    });
    record.id = idForName(record.servicePrincipalName);
    const outcome = await this.docs.create<ServicePrincipalRecord>(withoutEtag(record));
    if (outcome.ok) return outcome.record;
    if (outcome.status === 409)
      throw duplicate(`A service principal named "${record.servicePrincipalName}"`, 'servicePrincipalName');
    throw staleWrite(WHAT);
  }

  async get(servicePrincipalName: string): Promise<ServicePrincipalRecord | undefined> {
    const id = idForValidName(servicePrincipalName);
    return id === undefined ? undefined : this.docs.read<ServicePrincipalRecord>(id, id);
  }

  async replace(record: ServicePrincipalRecord): Promise<ServicePrincipalRecord> {
    const etag = requireEtag(record.etag, 'a service principal');
    const next = validateRecord(servicePrincipalRecord, {
      ...withoutEtag(record),
      updatedAt: this.clock.now().toISOString(),
    });
    assertSameName(record.id, next.servicePrincipalName, 'servicePrincipalName');
    const outcome = await this.docs.replace<ServicePrincipalRecord>(next, next.id, etag);
    if (outcome.ok) return outcome.record;
    if (outcome.status === 404) throw notFound(WHAT);
    throw staleWrite(WHAT);
  }

  async update(servicePrincipalName: string, mutate: Mutator<ServicePrincipalRecord>): Promise<ServicePrincipalRecord> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      await backoffBeforeRetry(attempt);
      const current = await this.get(servicePrincipalName);
      if (!current) throw notFound(WHAT);
      const next = await mutate(structuredClone(current));
      if (next === undefined) return current;
      try {
        return await this.replace({ ...next, id: current.id, etag: current.etag });
      } catch (error) {
        if (conflictReason(error) !== 'stale') throw error;
      }
    }
    throw staleWrite(WHAT);
  }

  async delete(servicePrincipalName: string, etag?: string): Promise<boolean> {
    const id = idForValidName(servicePrincipalName);
    if (id === undefined) return false;
    const outcome = await this.docs.delete(id, id, etag);
    if (outcome.ok) return true;
    if (outcome.status === 404) return false;
    throw staleWrite(WHAT);
  }

  async list(page: PageRequest, filter: ServicePrincipalFilter = {}): Promise<Page<ServicePrincipalRecord>> {
    return this.docs.queryPage<ServicePrincipalRecord>(query(filter), page);
  }

  listAll(filter: ServicePrincipalFilter = {}): AsyncIterable<ServicePrincipalRecord> {
    return this.docs.queryAll<ServicePrincipalRecord>(query(filter));
  }
}

function query(filter: ServicePrincipalFilter) {
  const where = new WhereBuilder().add('c.docType = ?', 'servicePrincipal');
  if (filter.enabled !== undefined) where.add('c.enabled = ?', filter.enabled);
  return where.query('SELECT * FROM c', 'c.id');
}
