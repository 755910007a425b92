import type { Container } from '@azure/cosmos';
import { duplicate, notFound, staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  Mutator,
  NewServicePrincipal,
  Page,
  PageRequest,
  ServicePrincipalFilter,
  ServicePrincipalRepository,
} from '../../domain/ports/repositories';
import type { ServicePrincipalRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder } from './documents';
import {
  SERVICE_PRINCIPAL_KIND as KIND,
  idForValidName,
  namedReplacement,
  newNamedRecord,
  updateWithRetry,
  withoutEtag,
} from './record-rules';

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
    const record = newNamedRecord(KIND, input, this.clock.now().toISOString());
    const outcome = await this.docs.create<ServicePrincipalRecord>(withoutEtag(record));
    if (outcome.ok) return outcome.record;
    if (outcome.status === 409)
      throw duplicate(`A service principal named "${record.servicePrincipalName}"`, 'servicePrincipalName');
    throw staleWrite(KIND.what);
  }

  async get(servicePrincipalName: string): Promise<ServicePrincipalRecord | undefined> {
    const id = idForValidName(servicePrincipalName);
    return id === undefined ? undefined : this.docs.read<ServicePrincipalRecord>(id, id);
  }

  async replace(record: ServicePrincipalRecord): Promise<ServicePrincipalRecord> {
    const { next, etag } = namedReplacement(KIND, record, this.clock.now().toISOString());
    const outcome = await this.docs.replace<ServicePrincipalRecord>(next, next.id, etag);
    if (outcome.ok) return outcome.record;
    if (outcome.status === 404) throw notFound(KIND.what);
    throw staleWrite(KIND.what);
  }

  update(servicePrincipalName: string, mutate: Mutator<ServicePrincipalRecord>): Promise<ServicePrincipalRecord> {
    return updateWithRetry({
      what: KIND.what,
      read: () => this.get(servicePrincipalName),
      replace: (next, current) => this.replace({ ...next, id: current.id, etag: current.etag }),
      mutate,
    });
  }

  async delete(servicePrincipalName: string, etag?: string): Promise<boolean> {
    const id = idForValidName(servicePrincipalName);
    if (id === undefined) return false;
    const outcome = await this.docs.delete(id, id, etag);
    if (outcome.ok) return true;
    if (outcome.status === 404) return false;
    throw staleWrite(KIND.what);
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
