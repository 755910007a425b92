import type { Container } from '@azure/cosmos';
import { staleWrite } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  ContactFilter,
  ContactRepository,
  ContactSighting,
  Page,
  PageRequest,
} from '../../domain/ports/repositories';
import { contactRecord, type ContactRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder } from './documents';
import {
  MAX_WRITE_ATTEMPTS,
  backoffBeforeRetry,
  contactIdForEmail,
  mergeSighting,
  newContact,
  normalizeContactEmail,
  validateRecord,
  validateSighting,
} from './record-rules';

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
