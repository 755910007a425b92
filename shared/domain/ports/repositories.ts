/**
 * Storage ports: one repository per record type. Domain code talks only to these interfaces; the Cosmos
 * adapters (`shared/adapters/cosmos/`) and the in-memory fakes (`test/support/in-memory-repositories.ts`)
 * implement them with the same semantics.
 *
 * Common rules (every implementation):
 * - Every write validates with the record's zod schema first; bad input throws VALIDATION_FAILED listing each
 *   bad field, and nothing is written.
 * - Repositories set `id` (where derived), `docType`, `createdAt` and `updatedAt` (from the `Clock` port).
 * - Records returned carry `etag` (Cosmos' `_etag`). `replace` requires it; a stale ETag throws CONFLICT
 *   with `details.reason: 'stale'` and changes nothing (never a silent overwrite).
 * - `update(key, mutate)` is read-modify-write with optimistic concurrency: it reads, calls `mutate` with a
 *   copy of the current record, writes with the ETag and retries on a stale ETag (a few times, then CONFLICT
 *   stale). `mutate` may be called more than once, so it must be free of side effects. Return `undefined`
 *   from `mutate` to skip the write (the current record is returned). A missing record throws NOT_FOUND.
 * - Uniqueness rules throw CONFLICT with `details.reason: 'duplicate'` and `details.field`.
 * - An unreachable / throttled / failing store throws DEPENDENCY_UNAVAILABLE (retryable).
 * - Paging uses opaque continuation tokens only. A tampered or foreign token throws VALIDATION_FAILED
 *   (field `continuationToken`). `limit` must be an integer 1–200.
 */
import type { z } from 'zod';
import type {
  AccountType,
  CommunicationRecord,
  ContactRecord,
  EmailAccountRecord,
  ServicePrincipalRecord,
  SyncLogRecord,
  communicationRecord,
  emailAccountRecord,
  servicePrincipalRecord,
  syncLogRecord,
} from '../records';

export const MAX_PAGE_LIMIT = 200;

export interface PageRequest {
  /** 1–200. */
  limit: number;
  /** The token from the previous page; absent or null for the first page. */
  continuationToken?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Null when there are no more items. */
  continuationToken: string | null;
}

/**
 * Returns the new version of the record, or `undefined` to leave it as it is. May be called several times
 * (once per attempt), always with a fresh copy of the stored record.
 */
export type Mutator<T> = (current: T) => T | undefined | Promise<T | undefined>;

/** Fields a repository fills in itself; callers never supply them on create. */
type RepositoryManagedFields = 'id' | 'docType' | 'createdAt' | 'updatedAt' | 'etag';

// ---------------------------------------------------------------------------------------------------------
// Service principals (container servicePrincipals, pk /id, id = idForName(servicePrincipalName))

export type NewServicePrincipal = Omit<z.input<typeof servicePrincipalRecord>, RepositoryManagedFields>;

export interface ServicePrincipalFilter {
  enabled?: boolean;
}

export interface ServicePrincipalRepository {
  /** CONFLICT duplicate (field `servicePrincipalName`) when the name exists (case-insensitively). */
  create(input: NewServicePrincipal): Promise<ServicePrincipalRecord>;
  /** `undefined` when missing (or the name cannot be a valid name). */
  get(servicePrincipalName: string): Promise<ServicePrincipalRecord | undefined>;
  /** Writes the whole record; `record.etag` is required. NOT_FOUND when missing; CONFLICT stale when changed.
   * The name can change only in letter case (VALIDATION_FAILED otherwise). */
  replace(record: ServicePrincipalRecord): Promise<ServicePrincipalRecord>;
  update(servicePrincipalName: string, mutate: Mutator<ServicePrincipalRecord>): Promise<ServicePrincipalRecord>;
  /** `false` when there was nothing to delete. With `etag`: CONFLICT stale when the record changed. */
  delete(servicePrincipalName: string, etag?: string): Promise<boolean>;
  /** Ordered by id (the lowercased name). */
  list(page: PageRequest, filter?: ServicePrincipalFilter): Promise<Page<ServicePrincipalRecord>>;
  /** Every matching record, fetched page by page (for timers). */
  listAll(filter?: ServicePrincipalFilter): AsyncIterable<ServicePrincipalRecord>;
}

// ---------------------------------------------------------------------------------------------------------
// Email accounts (container emailAccounts, pk /id, id = idForName(accountName))

export type NewEmailAccount = Omit<z.input<typeof emailAccountRecord>, RepositoryManagedFields>;

export interface EmailAccountFilter {
  /** Matched case-insensitively (stored lowercased). */
  user?: string;
  /** Service principal name, matched case-insensitively. */
  servicePrincipal?: string;
  accountType?: AccountType;
  enabled?: boolean;
}

/**
 * Uniqueness, enforced by the store (safe under concurrent writers):
 * - account name, case-insensitively → CONFLICT duplicate, field `accountName`;
 * - email address per service principal → CONFLICT duplicate, field `emailAddress`.
 * `user` is stored lowercased. The account name can change only in letter case.
 */
export interface EmailAccountRepository {
  create(input: NewEmailAccount): Promise<EmailAccountRecord>;
  get(accountName: string): Promise<EmailAccountRecord | undefined>;
  replace(record: EmailAccountRecord): Promise<EmailAccountRecord>;
  update(accountName: string, mutate: Mutator<EmailAccountRecord>): Promise<EmailAccountRecord>;
  delete(accountName: string, etag?: string): Promise<boolean>;
  /** Ordered by id (the lowercased account name). */
  list(page: PageRequest, filter?: EmailAccountFilter): Promise<Page<EmailAccountRecord>>;
  listAll(filter?: EmailAccountFilter): AsyncIterable<EmailAccountRecord>;
  /** How many accounts use the service principal (blocks deleting it). */
  countByServicePrincipal(servicePrincipalName: string): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------------
// Sync logs (container syncLogs, pk /emailAccount, default TTL 30 days)

/** `id` is generated when absent. */
export type NewSyncLog = Omit<z.input<typeof syncLogRecord>, RepositoryManagedFields> & { id?: string };

export interface SyncLogRepository {
  create(input: NewSyncLog): Promise<SyncLogRecord>;
  /** Newest first (by `syncStartTime`). */
  listForAccount(emailAccount: string, page: PageRequest): Promise<Page<SyncLogRecord>>;
  /**
   * Deletes logs whose `syncStartTime` is before `before`, for one account or (undefined) all accounts.
   * Returns how many were deleted. The cleanup job's backstop for TTL.
   */
  deleteOlderThan(emailAccount: string | undefined, before: Date): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------------
// Communications (container communications, pk /emailAccount)

/**
 * A communication to upsert. The caller computes `id` (stable per account + Graph id). Pass the stored
 * record's `createdAt` to keep it (otherwise now); pass `etag` to make the write conditional.
 */
export type CommunicationUpsert = Omit<z.input<typeof communicationRecord>, 'docType' | 'createdAt' | 'updatedAt'> & {
  createdAt?: string;
};

export interface UpsertManyResult {
  created: number;
  updated: number;
  /** Ids whose `etag` was stale (not written). */
  stale: string[];
}

export interface CommunicationFilter {
  /** One account (partition). */
  emailAccount?: string;
  /** Visibility: only these accounts (an empty list matches nothing). */
  emailAccounts?: readonly string[];
  owner?: string;
  folder?: string;
  referenceDoctype?: string;
  referenceName?: string;
  /** `communicationDate >= since`. */
  since?: Date;
}

export interface CommunicationRepository {
  get(emailAccount: string, id: string): Promise<CommunicationRecord | undefined>;
  /** The stored records among `ids`, keyed by id (missing ids are absent). */
  getMany(emailAccount: string, ids: readonly string[]): Promise<Map<string, CommunicationRecord>>;
  /** Validates every record first (fields prefixed `records.<index>.`), then writes with bounded concurrency. */
  upsertMany(records: readonly CommunicationUpsert[]): Promise<UpsertManyResult>;
  replace(record: CommunicationRecord): Promise<CommunicationRecord>;
  update(emailAccount: string, id: string, mutate: Mutator<CommunicationRecord>): Promise<CommunicationRecord>;
  /** Newest first (by `communicationDate`). */
  list(page: PageRequest, filter?: CommunicationFilter): Promise<Page<CommunicationRecord>>;
  /** Cross-partition lookup by id (for the API, which gets only the id). */
  findById(id: string): Promise<CommunicationRecord | undefined>;
}

// ---------------------------------------------------------------------------------------------------------
// Contacts (container contacts, pk /id, id derived from the lowercased address)

export interface ContactSighting {
  fullName?: string;
  emailAccount: string;
  owner: string;
  seenAt: Date;
}

export interface ContactFilter {
  /** Exact address, case-insensitively. */
  email?: string;
  /** Contacts seen in mail of this owner. */
  owner?: string;
}

/** One address seen in a page of mail (`recordSightings`). */
export interface ContactCandidateInput {
  email: string;
  fullName?: string;
}

export interface ContactSightingsResult {
  created: number;
  updated: number;
  /** Already known with this account, owner, name and seen range: nothing written. */
  unchanged: number;
  /** Addresses the store refused (invalid), skipped without failing the others. */
  refused: string[];
}

export interface ContactRepository {
  /**
   * Creates the contact or merges the sighting into it (adds the account and owner, widens first/last seen,
   * fills a missing full name). Safe under concurrent callers (ETag retry). VALIDATION_FAILED for a bad address.
   */
  upsertByEmail(email: string, sighting: ContactSighting): Promise<ContactRecord>;
  /**
   * `upsertByEmail` for many addresses at once, with the same account, owner and time (`sighting.fullName` is
   * ignored: each candidate carries its own). Same merge rules and concurrency safety, but in few store round
   * trips (Cosmos: bulk create; the addresses that exist are read and replaced in bulk, ETag-checked, stale ones
   * retried). Duplicates (case-insensitive) are merged first. Invalid addresses are returned in `refused`, not
   * thrown; a store failure throws (retryable).
   */
  recordSightings(
    candidates: readonly ContactCandidateInput[],
    sighting: Omit<ContactSighting, 'fullName'>,
  ): Promise<ContactSightingsResult>;
  getByEmail(email: string): Promise<ContactRecord | undefined>;
  /** Ordered by `emailId`. */
  list(page: PageRequest, filter?: ContactFilter): Promise<Page<ContactRecord>>;
}

/** Every repository, as the composition root hands them out. */
export interface Repositories {
  servicePrincipals: ServicePrincipalRepository;
  emailAccounts: EmailAccountRepository;
  syncLogs: SyncLogRepository;
  communications: CommunicationRepository;
  contacts: ContactRepository;
}
