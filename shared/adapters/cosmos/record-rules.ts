/**
 * Storage rules shared by the Cosmos repositories and the in-memory fakes (`test/support/in-memory-repositories.ts`),
 * so both behave the same: validation, derived ids, paging limits, contact merging.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AppError, fieldErrorsFromIssues, validationFailed, type FieldError } from '../../errors';
import { conflictReason, notFound, staleWrite } from '../../errors';
import {
  MAX_PAGE_LIMIT,
  type CommunicationUpsert,
  type ContactCandidateInput,
  type ContactSighting,
  type Mutator,
  type NewSyncLog,
  type PageRequest,
} from '../../domain/ports/repositories';
import {
  communicationRecord,
  emailAccountRecord,
  emailAddress,
  idForName,
  isoDateTime,
  recordName,
  servicePrincipalRecord,
  syncLogRecord,
  type CommunicationRecord,
  type ContactRecord,
  type EmailAccountRecord,
  type ServicePrincipalRecord,
  type SyncLogRecord,
} from '../../domain/records';

/** How many times `update` re-reads and retries after a stale ETag before giving up with CONFLICT stale. */
export const MAX_WRITE_ATTEMPTS = 10;

/** Before retry `attempt` (0 = first try, no wait): a short random wait, so racing writers spread out. */
export function backoffBeforeRetry(attempt: number): Promise<void> {
  if (attempt === 0) return Promise.resolve();
  const ms = Math.random() * Math.min(200, 5 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Read-modify-write with ETag retry, the `update` of every repository: reads the current record, lets
 * `mutate` change a copy (`undefined`: no write, the current record is returned) and replaces it with the
 * ETag it read; a stale write (someone else wrote first) reads again, up to MAX_WRITE_ATTEMPTS times, then
 * CONFLICT stale. NOT_FOUND when there is nothing to update.
 */
export async function updateWithRetry<T extends { etag?: string }>(options: {
  /** 'The service principal' (in error messages). */
  what: string;
  read: () => Promise<T | undefined>;
  /** Writes `next` (the mutated copy) over `current`, carrying the ETag of `current`. */
  replace: (next: T, current: T) => Promise<T>;
  mutate: Mutator<T>;
  /** Wait a little before each retry (default); false retries at once (the in-memory fakes, whose tests may
   * run on Jest's fake timers). */
  backoff?: boolean;
}): Promise<T> {
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    if (options.backoff !== false) await backoffBeforeRetry(attempt);
    const current = await options.read();
    if (!current) throw notFound(options.what);
    const next = await options.mutate(structuredClone(current));
    if (next === undefined) return current;
    try {
      return await options.replace(next, current);
    } catch (error) {
      if (conflictReason(error) !== 'stale') throw error;
    }
  }
  throw staleWrite(options.what);
}

/** Cosmos system properties we never expose (`_etag` becomes `etag`). */
export const SYSTEM_FIELDS = ['_rid', '_self', '_ts', '_attachments', '_etag', '_lsn'] as const;

/** Parses `candidate` with `schema`; VALIDATION_FAILED listing every bad field (prefixed with `prefix.`). */
export function validateRecord<S extends z.ZodType>(schema: S, candidate: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(candidate);
  if (result.success) return result.data;
  const errors = fieldErrorsFromIssues(result.error.issues);
  throw validationFailed(prefix ? errors.map((e) => ({ ...e, field: `${prefix}.${e.field}` })) : errors);
}

/**
 * A valid ISO date-time in UTC with milliseconds (`toISOString`), so stored instants compare and sort as
 * strings; anything else is returned unchanged for validation to report.
 */
export function normalizeInstant(value: unknown): unknown {
  return typeof value === 'string' && isoDateTime.safeParse(value).success ? new Date(value).toISOString() : value;
}

/** The record's fields without `etag` (never stored as a field). */
export function withoutEtag<T extends { etag?: string }>(record: T): Omit<T, 'etag'> {
  const copy: T = { ...record };
  delete copy.etag;
  return copy;
}

/** Why `id` cannot be a Cosmos id (max 255 characters, none of / \\ ? #), or undefined when it can. */
export function cosmosIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'must not be empty';
  if (id.length > 255) return 'must be at most 255 characters';
  if (/[/\\?#]/.test(id)) return 'must not contain / \\ ? or #';
  return undefined;
}

/** VALIDATION_FAILED (field `field`) unless `id` can be a Cosmos id. */
export function assertCosmosId(id: unknown, field = 'id'): void {
  const problem = cosmosIdProblem(id);
  if (problem) throw validationFailed([{ field, message: problem }]);
}

/** A communication ready to write (validated, stored fields set) and the ETag it must match, if any. */
export interface CommunicationWrite {
  record: Omit<CommunicationRecord, 'etag'>;
  etag: string | undefined;
}

/** Validates every record before anything is written; errors are prefixed `records.<index>.`. */
export function validateCommunicationBatch(records: readonly CommunicationUpsert[], now: string): CommunicationWrite[] {
  const given: unknown = records;
  if (!Array.isArray(given)) throw validationFailed([{ field: 'records', message: 'must be a list' }]);
  const writes: CommunicationWrite[] = [];
  const errors: FieldError[] = [];
  records.forEach((input, index) => {
    try {
      const { etag, ...fields } = input;
      const record = validateRecord(
        communicationRecord,
        prepareCommunication({ ...fields, createdAt: fields.createdAt ?? now, updatedAt: now }),
        `records.${index}`,
      );
      assertCosmosId(record.id, `records.${index}.id`);
      writes.push({ record: withoutEtag(record), etag });
    } catch (error) {
      if (!(error instanceof AppError) || !error.errors) throw error;
      errors.push(...error.errors);
    }
  });
  if (errors.length) throw validationFailed(errors);
  return writes;
}

/** Sets `docType` and normalizes instants of a communication about to be validated. */
export function prepareCommunication(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    ...fields,
    docType: 'communication',
    communicationDate: normalizeInstant(fields['communicationDate']),
  };
}

/** `since` as a stored instant; VALIDATION_FAILED for an invalid date. */
export function sinceInstant(since: Date): string {
  if (!(since instanceof Date) || Number.isNaN(since.getTime())) {
    throw validationFailed([{ field: 'since', message: 'must be a valid date' }]);
  }
  return since.toISOString();
}

/** The limit of a page request; VALIDATION_FAILED unless an integer 1–200. */
export function pageLimit(page: PageRequest): number {
  const limit = page.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw validationFailed([{ field: 'limit', message: `must be an integer from 1 to ${MAX_PAGE_LIMIT}` }]);
  }
  return limit;
}

/** The Cosmos id of a record name, or undefined when `name` cannot be a valid name (so nothing can exist). */
export function idForValidName(name: string): string | undefined {
  return recordName.safeParse(name).success ? idForName(name) : undefined;
}

export function requireEtag(etag: string | undefined, what: string): string {
  if (typeof etag !== 'string' || etag.length === 0) {
    throw validationFailed([{ field: 'etag', message: `is required to replace ${what} (read it first)` }]);
  }
  return etag;
}

/** The name in `record` must give the same id: a rename (other than letter case) is not a replace. */
export function assertSameName(id: string, newName: string, field: string): void {
  if (idForName(newName) !== id) {
    throw validationFailed([{ field, message: 'cannot be changed (only its letter case can)' }]);
  }
}

/**
 * A record kind stored under its name: id = `idForName(name)`, so names are unique case-insensitively and a
 * replace may change only the name's letter case.
 */
export interface NamedRecordKind<R extends { id: string; etag?: string }> {
  schema: z.ZodType<R>;
  docType: string;
  /** The field holding the name, e.g. `servicePrincipalName`. */
  nameField: keyof R & string;
  /** In messages: 'The service principal' and 'a service principal'. */
  what: string;
  article: string;
  /** Normalizes fields before validation (both on create and on replace). */
  normalize?: (fields: Record<string, unknown>) => Record<string, unknown>;
}

const nameOf = <R extends { id: string; etag?: string }>(kind: NamedRecordKind<R>, record: R): string =>
  String(record[kind.nameField]);

export const SERVICE_PRINCIPAL_KIND: NamedRecordKind<ServicePrincipalRecord> = {
  schema: servicePrincipalRecord,
  docType: 'servicePrincipal',
  nameField: 'servicePrincipalName',
  what: 'The service principal',
  article: 'a service principal',
};

/** Account users are stored lowercased (they are compared with the caller's username). */
const normalizeUser = (fields: Record<string, unknown>): Record<string, unknown> => {
  const user = fields['user'];
  return { ...fields, user: typeof user === 'string' ? user.trim().toLowerCase() : user };
};

export const EMAIL_ACCOUNT_KIND: NamedRecordKind<EmailAccountRecord> = {
  schema: emailAccountRecord,
  docType: 'emailAccount',
  nameField: 'accountName',
  what: 'The email account',
  article: 'an email account',
  normalize: normalizeUser,
};

/** A new record of `kind` from the caller's fields: stored fields set, validated, id derived from its name. */
export function newNamedRecord<R extends { id: string; etag?: string }>(
  kind: NamedRecordKind<R>,
  input: object,
  now: string,
): R {
  const fields = { ...input, id: 'pending', docType: kind.docType, createdAt: now, updatedAt: now };
  const record = validateRecord(kind.schema, kind.normalize ? kind.normalize(fields) : fields);
  record.id = idForName(nameOf(kind, record));
  return record;
}

/**
 * `record` ready to replace the stored one: the ETag it must match (VALIDATION_FAILED without one),
 * validated, `updatedAt` set; VALIDATION_FAILED when its name would change the id (a rename is not a replace).
 */
export function namedReplacement<R extends { id: string; etag?: string }>(
  kind: NamedRecordKind<R>,
  record: R,
  now: string,
): { next: R; etag: string } {
  const etag = requireEtag(record.etag, kind.article);
  const fields = { ...withoutEtag(record), updatedAt: now };
  const next = validateRecord(kind.schema, kind.normalize ? kind.normalize(fields) : fields);
  assertSameName(record.id, nameOf(kind, next), kind.nameField);
  return { next, etag };
}

/** A new sync log: instants normalized, stored fields set, validated, id given or a fresh UUID. */
export function newSyncLogRecord(input: NewSyncLog, now: string): SyncLogRecord {
  const record = validateRecord(syncLogRecord, {
    ...input,
    syncStartTime: normalizeInstant(input.syncStartTime),
    ...(input.syncEndTime === undefined ? {} : { syncEndTime: normalizeInstant(input.syncEndTime) }),
    id: input.id ?? randomUUID(),
    docType: 'syncLog',
    createdAt: now,
    updatedAt: now,
  });
  assertCosmosId(record.id);
  return record;
}

/** `record` ready to replace the stored communication: the ETag it must match, validated, `updatedAt` set. */
export function communicationReplacement(
  record: CommunicationRecord,
  now: string,
): { next: CommunicationRecord; etag: string } {
  const etag = requireEtag(record.etag, 'a communication');
  const next = validateRecord(communicationRecord, prepareCommunication({ ...withoutEtag(record), updatedAt: now }));
  assertCosmosId(next.id);
  return { next, etag };
}

/** The id of the document that reserves `email` under service principal `servicePrincipalName`. */
export function emailClaimId(servicePrincipalName: string, email: string): string {
  const digest = createHash('sha256')
    .update(idForName(servicePrincipalName))
    .update('\n')
    .update(email.trim().toLowerCase())
    .digest('hex');
  return `emailClaim:${digest}`;
}

/** The id of the document that reserves the account's address under its service principal. */
export function emailClaimIdOf(account: Pick<EmailAccountRecord, 'servicePrincipal' | 'emailAddress'>): string {
  return emailClaimId(account.servicePrincipal, account.emailAddress);
}

/** Contacts are keyed by the lowercased address; VALIDATION_FAILED (field `email`) for a bad address. */
export function normalizeContactEmail(email: string): string {
  const result = emailAddress.safeParse(email);
  if (!result.success) throw validationFailed([{ field: 'email', message: 'must be a valid email address' }]);
  return result.data;
}

export function contactIdForEmail(normalizedEmail: string): string {
  return `contact:${createHash('sha256').update(normalizedEmail).digest('hex').slice(0, 40)}`;
}

export function validateSighting(sighting: ContactSighting): void {
  const errors: FieldError[] = [];
  if (typeof sighting.emailAccount !== 'string' || sighting.emailAccount.trim() === '') {
    errors.push({ field: 'emailAccount', message: 'must not be empty' });
  }
  if (typeof sighting.owner !== 'string' || sighting.owner.trim() === '') {
    errors.push({ field: 'owner', message: 'must not be empty' });
  }
  if (!(sighting.seenAt instanceof Date) || Number.isNaN(sighting.seenAt.getTime())) {
    errors.push({ field: 'seenAt', message: 'must be a valid date' });
  }
  if (sighting.fullName !== undefined && typeof sighting.fullName !== 'string') {
    errors.push({ field: 'fullName', message: 'must be a string' });
  }
  if (errors.length) throw validationFailed(errors);
}

const MAX_CONTACT_LINKS = 1000;
const MAX_FULL_NAME = 300;

const cleanFullName = (name: string | undefined): string | undefined => {
  const trimmed = name?.trim();
  return trimmed ? trimmed.slice(0, MAX_FULL_NAME) : undefined;
};

/** A new contact for its first sighting (without stored fields other than those given). */
export function newContact(
  id: string,
  email: string,
  sighting: ContactSighting,
  now: string,
): Omit<ContactRecord, 'etag'> {
  const seen = sighting.seenAt.toISOString();
  const fullName = cleanFullName(sighting.fullName);
  return {
    id,
    docType: 'contact',
    emailId: email,
    ...(fullName === undefined ? {} : { fullName }),
    emailAccounts: [sighting.emailAccount],
    owners: [sighting.owner],
    firstSeenAt: seen,
    lastSeenAt: seen,
    createdAt: now,
    updatedAt: now,
  };
}

/** `existing` with the sighting merged in, or undefined when it adds nothing (no write needed). */
export function mergeSighting(
  existing: ContactRecord,
  sighting: ContactSighting,
  now: string,
): Omit<ContactRecord, 'etag'> | undefined {
  const seen = sighting.seenAt.toISOString();
  const addAccount =
    !existing.emailAccounts.includes(sighting.emailAccount) && existing.emailAccounts.length < MAX_CONTACT_LINKS;
  const addOwner = !existing.owners.includes(sighting.owner) && existing.owners.length < MAX_CONTACT_LINKS;
  const fullName = existing.fullName ?? cleanFullName(sighting.fullName);
  const firstSeenAt = Date.parse(seen) < Date.parse(existing.firstSeenAt) ? seen : existing.firstSeenAt;
  const lastSeenAt = Date.parse(seen) > Date.parse(existing.lastSeenAt) ? seen : existing.lastSeenAt;
  const changed =
    addAccount ||
    addOwner ||
    fullName !== existing.fullName ||
    firstSeenAt !== existing.firstSeenAt ||
    lastSeenAt !== existing.lastSeenAt;
  if (!changed) return undefined;
  const merged = withoutEtag(existing);
  return {
    ...merged,
    ...(fullName === undefined ? {} : { fullName }),
    emailAccounts: addAccount ? [...existing.emailAccounts, sighting.emailAccount] : existing.emailAccounts,
    owners: addOwner ? [...existing.owners, sighting.owner] : existing.owners,
    firstSeenAt,
    lastSeenAt,
    updatedAt: now,
  };
}

/** One distinct address of a `recordSightings` call: the contact's id, the normalized address, its sighting. */
export interface ContactSightingPlan {
  id: string;
  email: string;
  sighting: ContactSighting;
}

/**
 * The candidates of `recordSightings` ready to write: the common sighting validated (VALIDATION_FAILED
 * otherwise: a caller bug), each address normalized, duplicates merged case-insensitively (the first non-empty
 * full name wins), and the addresses that are not valid (or not strings) in `refused`, once each, as given.
 */
export function planContactSightings(
  candidates: readonly ContactCandidateInput[],
  common: Omit<ContactSighting, 'fullName'>,
): { plans: ContactSightingPlan[]; refused: string[] } {
  const { emailAccount, owner, seenAt } = common;
  validateSighting({ emailAccount, owner, seenAt });
  const given: unknown = candidates;
  if (!Array.isArray(given)) throw validationFailed([{ field: 'candidates', message: 'must be a list' }]);
  const plans = new Map<string, ContactSightingPlan>();
  const refused = new Set<string>();
  for (const candidate of candidates) {
    const raw: unknown = (candidate as Partial<ContactCandidateInput> | null | undefined)?.email;
    const parsed = emailAddress.safeParse(raw);
    if (!parsed.success) {
      refused.add(typeof raw === 'string' ? raw : String(raw));
      continue;
    }
    const email = parsed.data;
    const name: unknown = candidate.fullName;
    const fullName = typeof name === 'string' ? cleanFullName(name) : undefined;
    const known = plans.get(email);
    if (known === undefined) {
      const sighting: ContactSighting = {
        emailAccount,
        owner,
        seenAt,
        ...(fullName === undefined ? {} : { fullName }),
      };
      plans.set(email, { id: contactIdForEmail(email), email, sighting });
    } else if (known.sighting.fullName === undefined && fullName !== undefined) {
      known.sighting.fullName = fullName;
    }
  }
  return { plans: [...plans.values()], refused: [...refused] };
}
