/**
 * In-memory implementations of the repository ports (`shared/domain/ports/repositories.ts`) for unit tests of
 * domain logic. Same semantics as the Cosmos adapters, checked by the shared contract suite
 * (`test/shared/adapters/cosmos/repository-contract.ts`): validation, ETags and stale writes, uniqueness
 * (account name; email per service principal), derived ids, ordering and opaque continuation tokens.
 *
 *   const repos = createInMemoryRepositories({ clock });
 *   await repos.emailAccounts.create(...);
 */
import { randomUUID } from 'node:crypto';
import { duplicate, notFound, staleWrite } from '../../shared/errors';
import type { Clock } from '../../shared/domain/ports/clock';
import { systemClock } from '../../shared/domain/ports/clock';
import type {
  CommunicationFilter,
  CommunicationRepository,
  CommunicationUpsert,
  ContactCandidateInput,
  ContactFilter,
  ContactRepository,
  ContactSighting,
  ContactSightingsResult,
  EmailAccountFilter,
  EmailAccountRepository,
  Mutator,
  NewEmailAccount,
  NewServicePrincipal,
  NewSyncLog,
  Page,
  PageRequest,
  Repositories,
  ServicePrincipalFilter,
  ServicePrincipalRepository,
  SyncLogRepository,
  UpsertManyResult,
} from '../../shared/domain/ports/repositories';
import {
  contactRecord,
  idForName,
  type CommunicationRecord,
  type ContactRecord,
  type EmailAccountRecord,
  type ServicePrincipalRecord,
  type SyncLogRecord,
} from '../../shared/domain/records';
import { decodeContinuation, encodeContinuation, queryFingerprint } from '../../shared/adapters/cosmos/continuation';
import { badContinuationToken } from '../../shared/adapters/cosmos/errors';
import {
  EMAIL_ACCOUNT_KIND,
  MAX_WRITE_ATTEMPTS,
  SERVICE_PRINCIPAL_KIND,
  communicationReplacement,
  contactIdForEmail,
  cosmosIdProblem,
  emailClaimIdOf as claimIdOf,
  idForValidName,
  mergeSighting,
  namedReplacement,
  newContact,
  newNamedRecord,
  newSyncLogRecord,
  normalizeContactEmail,
  pageLimit,
  planContactSightings,
  sinceInstant,
  updateWithRetry,
  validateCommunicationBatch,
  validateRecord,
  validateSighting,
  withoutEtag,
} from '../../shared/adapters/cosmos/record-rules';

/**
 * Lets other pending operations run between a read and a write, as a real store does. A microtask, not a
 * timer, so tests that use Jest's fake timers never hang on it.
 */
const tick = (): Promise<void> => Promise.resolve();

/** One "container": documents by key, each with its current ETag. */
class MemoryTable<T extends { etag?: string }> {
  private readonly rows = new Map<string, { doc: Omit<T, 'etag'>; etag: string }>();
  private version = 0;

  get size(): number {
    return this.rows.size;
  }

  read(key: string): T | undefined {
    const row = this.rows.get(key);
    return row ? ({ ...structuredClone(row.doc), etag: row.etag } as T) : undefined;
  }

  /** false when the key exists. */
  create(key: string, doc: Omit<T, 'etag'>): T | undefined {
    if (this.rows.has(key)) return undefined;
    return this.write(key, doc);
  }

  /** 'missing' / 'stale' instead of throwing, like the Cosmos helper. */
  replace(key: string, doc: Omit<T, 'etag'>, etag: string | undefined): T | 'missing' | 'stale' {
    const row = this.rows.get(key);
    if (!row) return 'missing';
    if (etag !== undefined && row.etag !== etag) return 'stale';
    return this.write(key, doc);
  }

  upsert(key: string, doc: Omit<T, 'etag'>): { record: T; created: boolean } {
    const created = !this.rows.has(key);
    return { record: this.write(key, doc), created };
  }

  delete(key: string, etag?: string): 'deleted' | 'missing' | 'stale' {
    const row = this.rows.get(key);
    if (!row) return 'missing';
    if (etag !== undefined && row.etag !== etag) return 'stale';
    this.rows.delete(key);
    return 'deleted';
  }

  all(): T[] {
    return [...this.rows.values()].map((row) => ({ ...structuredClone(row.doc), etag: row.etag }) as T);
  }

  private write(key: string, doc: Omit<T, 'etag'>): T {
    const stored = structuredClone(withoutEtag(doc as T));
    const etag = `"mem-${++this.version}-${randomUUID().slice(0, 8)}"`;
    this.rows.set(key, { doc: stored, etag });
    return { ...structuredClone(stored), etag } as T;
  }
}

type SortKey = string[];
const isSortKey = (value: unknown): value is SortKey =>
  Array.isArray(value) && value.every((part) => typeof part === 'string');

/**
 * Keyset paging over a sorted snapshot: the token holds the sort key of the last item handed out, so items
 * written between pages never cause repeats or gaps among the others.
 */
function paginate<T>(
  items: T[],
  keyOf: (item: T) => SortKey,
  descending: boolean[],
  page: PageRequest,
  fingerprint: string,
): Page<T> {
  const limit = pageLimit(page);
  const compare = (a: SortKey, b: SortKey): number => {
    for (let i = 0; i < a.length; i++) {
      const x = a[i] ?? '';
      const y = b[i] ?? '';
      if (x !== y) return (x < y ? -1 : 1) * (descending[i] ? -1 : 1);
    }
    return 0;
  };
  const sorted = [...items].sort((a, b) => compare(keyOf(a), keyOf(b)));
  let start = 0;
  if (page.continuationToken !== undefined && page.continuationToken !== null) {
    const inner = decodeContinuation(fingerprint, page.continuationToken);
    let after: unknown;
    try {
      after = JSON.parse(inner);
    } catch {
      throw badContinuationToken();
    }
    if (!isSortKey(after)) throw badContinuationToken();
    start = sorted.findIndex((item) => compare(keyOf(item), after) > 0);
    if (start === -1) start = sorted.length;
  }
  const slice = sorted.slice(start, start + limit);
  const last = slice[slice.length - 1];
  const more = start + limit < sorted.length;
  return {
    items: slice,
    continuationToken: more && last !== undefined ? encodeContinuation(fingerprint, JSON.stringify(keyOf(last))) : null,
  };
}

async function* iterate<T>(items: T[]): AsyncIterable<T> {
  for (const item of items) yield item;
  await Promise.resolve();
}

export class InMemoryServicePrincipalRepository implements ServicePrincipalRepository {
  readonly table = new MemoryTable<ServicePrincipalRecord>();

  constructor(private readonly clock: Clock = systemClock) {}

  async create(input: NewServicePrincipal): Promise<ServicePrincipalRecord> {
    const record = newNamedRecord(SERVICE_PRINCIPAL_KIND, input, this.clock.now().toISOString());
    await tick();
    const created = this.table.create(record.id, withoutEtag(record));
    if (!created) throw duplicate(`A service principal named "${record.servicePrincipalName}"`, 'servicePrincipalName');
    return created;
  }

  async get(servicePrincipalName: string): Promise<ServicePrincipalRecord | undefined> {
    await tick();
    const id = idForValidName(servicePrincipalName);
    return id === undefined ? undefined : this.table.read(id);
  }

  async replace(record: ServicePrincipalRecord): Promise<ServicePrincipalRecord> {
    const { next, etag } = namedReplacement(SERVICE_PRINCIPAL_KIND, record, this.clock.now().toISOString());
    await tick();
    const outcome = this.table.replace(next.id, next, etag);
    if (outcome === 'missing') throw notFound('The service principal');
    if (outcome === 'stale') throw staleWrite('The service principal');
    return outcome;
  }

  update(servicePrincipalName: string, mutate: Mutator<ServicePrincipalRecord>): Promise<ServicePrincipalRecord> {
    return updateWithRetry({
      what: 'The service principal',
      read: () => this.get(servicePrincipalName),
      replace: (next, current) => this.replace({ ...next, id: current.id, etag: current.etag }),
      mutate,
      backoff: false,
    });
  }

  async delete(servicePrincipalName: string, etag?: string): Promise<boolean> {
    await tick();
    const id = idForValidName(servicePrincipalName);
    if (id === undefined) return false;
    const outcome = this.table.delete(id, etag);
    if (outcome === 'stale') throw staleWrite('The service principal');
    return outcome === 'deleted';
  }

  async list(page: PageRequest, filter: ServicePrincipalFilter = {}): Promise<Page<ServicePrincipalRecord>> {
    await tick();
    return paginate(this.matching(filter), (r) => [r.id], [false], page, queryFingerprint('sp', filter));
  }

  listAll(filter: ServicePrincipalFilter = {}): AsyncIterable<ServicePrincipalRecord> {
    return iterate(this.matching(filter).sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  private matching(filter: ServicePrincipalFilter): ServicePrincipalRecord[] {
    return this.table.all().filter((r) => filter.enabled === undefined || r.enabled === filter.enabled);
  }
}

export class InMemoryEmailAccountRepository implements EmailAccountRepository {
  readonly table = new MemoryTable<EmailAccountRecord>();
  /** Email claim id → account id (the uniqueness index). */
  readonly claims = new Map<string, string>();

  constructor(private readonly clock: Clock = systemClock) {}

  async create(input: NewEmailAccount): Promise<EmailAccountRecord> {
    const record = newNamedRecord(EMAIL_ACCOUNT_KIND, input, this.clock.now().toISOString());
    await tick();
    const claimId = claimIdOf(record);
    const holder = this.claims.get(claimId);
    if (holder === record.id || this.table.read(record.id)) {
      throw duplicate(`An email account named "${record.accountName}"`, 'accountName');
    }
    if (holder !== undefined) {
      throw duplicate('An email account with this email address for this service principal', 'emailAddress');
    }
    const created = this.table.create(record.id, withoutEtag(record));
    if (!created) throw duplicate(`An email account named "${record.accountName}"`, 'accountName');
    this.claims.set(claimId, record.id);
    return created;
  }

  async get(accountName: string): Promise<EmailAccountRecord | undefined> {
    await tick();
    const id = idForValidName(accountName);
    return id === undefined ? undefined : this.table.read(id);
  }

  async replace(record: EmailAccountRecord): Promise<EmailAccountRecord> {
    const { next, etag } = namedReplacement(EMAIL_ACCOUNT_KIND, record, this.clock.now().toISOString());
    await tick();
    const current = this.table.read(next.id);
    if (!current) throw notFound('The email account');
    if (current.etag !== etag) throw staleWrite('The email account');
    const oldClaim = claimIdOf(current);
    const newClaim = claimIdOf(next);
    if (oldClaim !== newClaim && this.claims.has(newClaim)) {
      throw duplicate('An email account with this email address for this service principal', 'emailAddress');
    }
    const outcome = this.table.replace(next.id, next, etag);
    if (outcome === 'missing') throw notFound('The email account');
    if (outcome === 'stale') throw staleWrite('The email account');
    if (oldClaim !== newClaim) {
      this.claims.delete(oldClaim);
      this.claims.set(newClaim, next.id);
    }
    return outcome;
  }

  update(accountName: string, mutate: Mutator<EmailAccountRecord>): Promise<EmailAccountRecord> {
    return updateWithRetry({
      what: 'The email account',
      read: () => this.get(accountName),
      replace: (next, current) => this.replace({ ...next, id: current.id, etag: current.etag }),
      mutate,
      backoff: false,
    });
  }

  async delete(accountName: string, etag?: string): Promise<boolean> {
    await tick();
    const id = idForValidName(accountName);
    const current = id === undefined ? undefined : this.table.read(id);
    if (!current) return false;
    const outcome = this.table.delete(current.id, etag);
    if (outcome === 'stale') throw staleWrite('The email account');
    if (outcome === 'missing') return false;
    const claimId = claimIdOf(current);
    if (this.claims.get(claimId) === current.id) this.claims.delete(claimId);
    return true;
  }

  async list(page: PageRequest, filter: EmailAccountFilter = {}): Promise<Page<EmailAccountRecord>> {
    await tick();
    return paginate(this.matching(filter), (r) => [r.id], [false], page, queryFingerprint('ea', normalize(filter)));
  }

  listAll(filter: EmailAccountFilter = {}): AsyncIterable<EmailAccountRecord> {
    return iterate(this.matching(filter).sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  async countByServicePrincipal(servicePrincipalName: string): Promise<number> {
    await tick();
    return this.matching({ servicePrincipal: servicePrincipalName }).length;
  }

  private matching(filter: EmailAccountFilter): EmailAccountRecord[] {
    const f = normalize(filter);
    return this.table
      .all()
      .filter(
        (r) =>
          (f.user === undefined || r.user === f.user) &&
          (f.servicePrincipal === undefined || idForName(r.servicePrincipal) === f.servicePrincipal) &&
          (f.accountType === undefined || r.accountType === f.accountType) &&
          (f.enabled === undefined || r.enabled === f.enabled),
      );
  }
}

function normalize(filter: EmailAccountFilter): EmailAccountFilter {
  return {
    ...filter,
    ...(filter.user === undefined ? {} : { user: filter.user.trim().toLowerCase() }),
    ...(filter.servicePrincipal === undefined ? {} : { servicePrincipal: idForName(filter.servicePrincipal) }),
  };
}

const partitioned = (partition: string, id: string): string => JSON.stringify([partition, id]);

export class InMemorySyncLogRepository implements SyncLogRepository {
  readonly table = new MemoryTable<SyncLogRecord>();

  constructor(private readonly clock: Clock = systemClock) {}

  async create(input: NewSyncLog): Promise<SyncLogRecord> {
    const record = newSyncLogRecord(input, this.clock.now().toISOString());
    await tick();
    const created = this.table.create(partitioned(record.emailAccount, record.id), withoutEtag(record));
    if (!created) throw duplicate('A sync log with this id', 'id');
    return created;
  }

  async listForAccount(emailAccount: string, page: PageRequest): Promise<Page<SyncLogRecord>> {
    await tick();
    return paginate(
      this.table.all().filter((r) => r.emailAccount === emailAccount),
      (r) => [r.syncStartTime, r.id],
      [true, false],
      page,
      queryFingerprint('syncLogs', emailAccount),
    );
  }

  async deleteOlderThan(emailAccount: string | undefined, before: Date): Promise<number> {
    await tick();
    const cutoff = before.toISOString();
    let deleted = 0;
    for (const r of this.table.all()) {
      if ((emailAccount === undefined || r.emailAccount === emailAccount) && r.syncStartTime < cutoff) {
        if (this.table.delete(partitioned(r.emailAccount, r.id)) === 'deleted') deleted++;
      }
    }
    return deleted;
  }
}

export class InMemoryCommunicationRepository implements CommunicationRepository {
  readonly table = new MemoryTable<CommunicationRecord>();

  constructor(private readonly clock: Clock = systemClock) {}

  async get(emailAccount: string, id: string): Promise<CommunicationRecord | undefined> {
    await tick();
    if (!emailAccount || cosmosIdProblem(id) !== undefined) return undefined;
    return this.table.read(partitioned(emailAccount, id));
  }

  async getMany(emailAccount: string, ids: readonly string[]): Promise<Map<string, CommunicationRecord>> {
    await tick();
    const found = new Map<string, CommunicationRecord>();
    for (const id of ids) {
      const record = this.table.read(partitioned(emailAccount, id));
      if (record) found.set(id, record);
    }
    return found;
  }

  async upsertMany(records: readonly CommunicationUpsert[]): Promise<UpsertManyResult> {
    const batch = validateCommunicationBatch(records, this.clock.now().toISOString());
    const result: UpsertManyResult = { created: 0, updated: 0, stale: [] };
    for (const { record, etag } of batch) {
      await tick();
      const key = partitioned(record.emailAccount, record.id);
      if (etag === undefined) {
        const { created } = this.table.upsert(key, record);
        if (created) result.created++;
        else result.updated++;
      } else if (typeof this.table.replace(key, record, etag) === 'string') {
        result.stale.push(record.id);
      } else {
        result.updated++;
      }
    }
    return result;
  }

  async replace(record: CommunicationRecord): Promise<CommunicationRecord> {
    const { next, etag } = communicationReplacement(record, this.clock.now().toISOString());
    await tick();
    const outcome = this.table.replace(partitioned(next.emailAccount, next.id), next, etag);
    if (outcome === 'missing') throw notFound('The communication');
    if (outcome === 'stale') throw staleWrite('The communication');
    return outcome;
  }

  update(emailAccount: string, id: string, mutate: Mutator<CommunicationRecord>): Promise<CommunicationRecord> {
    return updateWithRetry({
      what: 'The communication',
      read: () => this.get(emailAccount, id),
      replace: (next, current) => this.replace({ ...next, id, emailAccount: current.emailAccount, etag: current.etag }),
      mutate,
      backoff: false,
    });
  }

  async list(page: PageRequest, filter: CommunicationFilter = {}): Promise<Page<CommunicationRecord>> {
    await tick();
    const since = filter.since === undefined ? undefined : sinceInstant(filter.since);
    const matching = this.table
      .all()
      .filter(
        (r) =>
          (filter.emailAccount === undefined || r.emailAccount === filter.emailAccount) &&
          (filter.emailAccounts === undefined || filter.emailAccounts.includes(r.emailAccount)) &&
          (filter.owner === undefined || r.owner === filter.owner) &&
          (filter.folder === undefined || r.folder === filter.folder) &&
          (filter.referenceDoctype === undefined || r.referenceDoctype === filter.referenceDoctype) &&
          (filter.referenceName === undefined || r.referenceName === filter.referenceName) &&
          (since === undefined || r.communicationDate >= since),
      );
    return paginate(
      matching,
      (r) => [r.communicationDate, r.emailAccount, r.id],
      [true, false, false],
      page,
      queryFingerprint('communications', { ...filter, since }),
    );
  }

  async findById(id: string): Promise<CommunicationRecord | undefined> {
    await tick();
    return this.table.all().find((r) => r.id === id);
  }
}

export class InMemoryContactRepository implements ContactRepository {
  readonly table = new MemoryTable<ContactRecord>();

  constructor(private readonly clock: Clock = systemClock) {}

  async upsertByEmail(email: string, sighting: ContactSighting): Promise<ContactRecord> {
    const address = normalizeContactEmail(email);
    validateSighting(sighting);
    return (await this.sight(contactIdForEmail(address), address, sighting)).record;
  }

  /** One address after another, each with `upsertByEmail`'s merge and ETag retry (same semantics as the
   * Cosmos bulk rounds; concurrent calls interleave at every read and write). */
  async recordSightings(
    candidates: readonly ContactCandidateInput[],
    sighting: Omit<ContactSighting, 'fullName'>,
  ): Promise<ContactSightingsResult> {
    const { plans, refused } = planContactSightings(candidates, sighting);
    const result: ContactSightingsResult = { created: 0, updated: 0, unchanged: 0, refused };
    for (const plan of plans) result[(await this.sight(plan.id, plan.email, plan.sighting)).outcome]++;
    return result;
  }

  private async sight(
    id: string,
    address: string,
    sighting: ContactSighting,
  ): Promise<{ record: ContactRecord; outcome: 'created' | 'updated' | 'unchanged' }> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const now = this.clock.now().toISOString();
      await tick();
      const existing = this.table.read(id);
      if (!existing) {
        const record = validateRecord(contactRecord, newContact(id, address, sighting, now));
        await tick();
        const created = this.table.create(id, record);
        if (created) return { record: created, outcome: 'created' };
        continue;
      }
      const merged = mergeSighting(existing, sighting, now);
      if (!merged) return { record: existing, outcome: 'unchanged' };
      const record = validateRecord(contactRecord, merged);
      await tick();
      const outcome = this.table.replace(id, record, existing.etag);
      if (typeof outcome !== 'string') return { record: outcome, outcome: 'updated' };
    }
    throw staleWrite('The contact');
  }

  async getByEmail(email: string): Promise<ContactRecord | undefined> {
    await tick();
    let address: string;
    try {
      address = normalizeContactEmail(email);
    } catch {
      return undefined;
    }
    return this.table.read(contactIdForEmail(address));
  }

  async list(page: PageRequest, filter: ContactFilter = {}): Promise<Page<ContactRecord>> {
    await tick();
    const email = filter.email === undefined ? undefined : normalizeContactEmail(filter.email);
    const matching = this.table
      .all()
      .filter(
        (r) =>
          (email === undefined || r.emailId === email) &&
          (filter.owner === undefined || r.owners.includes(filter.owner)),
      );
    return paginate(
      matching,
      (r) => [r.emailId, r.id],
      [false, false],
      page,
      queryFingerprint('contacts', { email, owner: filter.owner }),
    );
  }
}

export interface InMemoryRepositories extends Repositories {
  servicePrincipals: InMemoryServicePrincipalRepository;
  emailAccounts: InMemoryEmailAccountRepository;
  syncLogs: InMemorySyncLogRepository;
  communications: InMemoryCommunicationRepository;
  contacts: InMemoryContactRepository;
}

/** A fresh, empty set of in-memory repositories. */
export function createInMemoryRepositories(options: { clock?: Clock } = {}): InMemoryRepositories {
  const clock = options.clock ?? systemClock;
  return {
    servicePrincipals: new InMemoryServicePrincipalRepository(clock),
    emailAccounts: new InMemoryEmailAccountRepository(clock),
    syncLogs: new InMemorySyncLogRepository(clock),
    communications: new InMemoryCommunicationRepository(clock),
    contacts: new InMemoryContactRepository(clock),
  };
}
