import type { Container } from '@azure/cosmos';
import { staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  ContactCandidateInput,
  ContactFilter,
  ContactRepository,
  ContactSighting,
  ContactSightingsResult,
  Page,
  PageRequest,
} from '../../domain/ports/repositories';
import { contactRecord, type ContactRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder, type BulkOperation } from './documents';
import {
  MAX_WRITE_ATTEMPTS,
  backoffBeforeRetry,
  contactIdForEmail,
  mergeSighting,
  newContact,
  normalizeContactEmail,
  planContactSightings,
  validateRecord,
  validateSighting,
  type ContactSightingPlan,
} from './record-rules';

/** Bulk requests in flight at once in `recordSightings`. */
const SIGHTING_CONCURRENCY = 4;

/** Container `contacts`, pk /id, id derived from the lowercased address. */
export class CosmosContactRepository implements ContactRepository {
  private readonly docs: CosmosDocuments;

  constructor(
    container: Container,
    private readonly clock: Clock,
  ) {
    this.docs = new CosmosDocuments(container);
  }

  async upsertByEmail(email: string, sighting: ContactSighting): Promise<ContactRecord> {
    const address = normalizeContactEmail(email);
    validateSighting(sighting);
    const id = contactIdForEmail(address);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      await backoffBeforeRetry(attempt);
      const now = this.clock.now().toISOString();
      const existing = await this.docs.read<ContactRecord>(id, id);
      if (!existing) {
        const record = validateRecord(contactRecord, newContact(id, address, sighting, now));
        const created = await this.docs.create<ContactRecord>(record);
        if (created.ok) return created.record;
        continue; // someone created it first: merge into theirs
      }
      const merged = mergeSighting(existing, sighting, now);
      if (!merged) return existing;
      const record = validateRecord(contactRecord, merged);
      const replaced = await this.docs.replace<ContactRecord>(record, id, existing.etag);
      if (replaced.ok) return replaced.record;
    }
    throw staleWrite('The contact');
  }

  /**
   * Rounds of bulk requests until every address is written or found unchanged (MAX_WRITE_ATTEMPTS rounds, then
   * CONFLICT stale like `upsertByEmail`): create the addresses believed new; read the ones that exist (409 on
   * create, or stale / missing in an earlier round), merge the sighting into each and replace it with the ETag
   * read. A 412 (another writer got there first) goes back to be read again next round; a 404 (gone since)
   * goes back to be created.
   */
  async recordSightings(
    candidates: readonly ContactCandidateInput[],
    sighting: Omit<ContactSighting, 'fullName'>,
  ): Promise<ContactSightingsResult> {
    const { plans, refused } = planContactSightings(candidates, sighting);
    const result: ContactSightingsResult = { created: 0, updated: 0, unchanged: 0, refused };
    let toCreate = plans;
    let toMerge: ContactSightingPlan[] = [];
    for (let attempt = 0; toCreate.length + toMerge.length > 0; attempt++) {
      if (attempt === MAX_WRITE_ATTEMPTS) throw staleWrite('The contact');
      await backoffBeforeRetry(attempt);
      const now = this.clock.now().toISOString();
      const createNext: ContactSightingPlan[] = [];
      if (toCreate.length) {
        const creates = toCreate.map((plan): BulkOperation => ({
          kind: 'create',
          partitionKey: plan.id,
          doc: validateRecord(contactRecord, newContact(plan.id, plan.email, plan.sighting, now)),
        }));
        const outcomes = await this.docs.bulk<ContactRecord>(creates, { concurrency: SIGHTING_CONCURRENCY });
        outcomes.forEach((outcome, i) => {
          if (outcome.ok) result.created++;
          else toMerge.push(toCreate[i] as ContactSightingPlan); // exists (409): merge into it this round
        });
      }
      const mergeNext: ContactSightingPlan[] = [];
      if (toMerge.length) {
        const reads = toMerge.map((plan): BulkOperation => ({ kind: 'read', partitionKey: plan.id, id: plan.id }));
        const found = await this.docs.bulk<ContactRecord>(reads, { concurrency: SIGHTING_CONCURRENCY });
        const replacing: ContactSightingPlan[] = [];
        const replaces: BulkOperation[] = [];
        found.forEach((outcome, i) => {
          const plan = toMerge[i] as ContactSightingPlan;
          const merged = outcome.ok ? mergeSighting(outcome.record, plan.sighting, now) : undefined;
          if (!outcome.ok) {
            createNext.push(plan); // gone since: create it again
          } else if (merged === undefined) {
            result.unchanged++;
          } else {
            const doc = validateRecord(contactRecord, merged);
            replacing.push(plan);
            replaces.push({ kind: 'replace', partitionKey: plan.id, doc, etag: outcome.record.etag });
          }
        });
        const written = await this.docs.bulk<ContactRecord>(replaces, { concurrency: SIGHTING_CONCURRENCY });
        written.forEach((outcome, i) => {
          const plan = replacing[i] as ContactSightingPlan;
          if (outcome.ok) result.updated++;
          else if (outcome.status === 404) createNext.push(plan);
          else mergeNext.push(plan); // 412: someone wrote first; read it again
        });
      }
      toCreate = createNext;
      toMerge = mergeNext;
    }
    return result;
  }

  async getByEmail(email: string): Promise<ContactRecord | undefined> {
    let address: string;
    try {
      address = normalizeContactEmail(email);
    } catch {
      return undefined;
    }
    const id = contactIdForEmail(address);
    return this.docs.read<ContactRecord>(id, id);
  }

  async list(page: PageRequest, filter: ContactFilter = {}): Promise<Page<ContactRecord>> {
    const where = new WhereBuilder().add('c.docType = ?', 'contact');
    let partitionKey: string | undefined;
    if (filter.email !== undefined) {
      const address = normalizeContactEmail(filter.email);
      partitionKey = contactIdForEmail(address);
      where.add('c.id = ?', partitionKey).add('c.emailId = ?', address);
    }
    if (filter.owner !== undefined) where.add('ARRAY_CONTAINS(c.owners, ?)', filter.owner);
    return this.docs.queryPage<ContactRecord>(where.query('SELECT * FROM c', 'c.emailId'), page, partitionKey);
  }
}
