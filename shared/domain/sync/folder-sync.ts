/**
 * Delta sync of one folder (`syncFolder`).
 *
 * Rounds and checkpoints. A round is a chain of delta pages ending with a deltaLink. The first round of a folder
 * (no deltaLink yet) is "initial"; later rounds start from the stored deltaLink. After **each page's writes**
 * the folder state is checkpointed (nextLink + counters) through `checkpoint`, which writes the account with its
 * ETag while checking the lease; the deltaLink is saved when the round ends. A run that stops anywhere — time
 * budget, throttling, a crash between pages — resumes exactly at the last checkpoint; a page processed twice
 * writes nothing the second time (stable ids + changeKey).
 *
 * Time budget. Before each further page the deadline is checked; when it has passed, the function returns
 * `{ outcome: 'continue' }` (the caller enqueues a continuation message naming the folders still to do, so a
 * chain of continuations always ends). The next page is prefetched while the current one is written (one
 * request in flight ahead), so sync speed ≈ max(Graph, store) rather than the sum.
 *
 * The 5,000 cap of filtered delta. Graph returns at most 5,000 messages from a delta round that uses
 * `$filter=receivedDateTime ge X`, and does not document which ones it omits or whether the resulting deltaLink
 * ever delivers them. The approach here is correct whatever Graph omits and cheap in the common case:
 * 1. With `syncFromDate`, the initial round uses the filter (fewer messages and requests than the whole folder).
 * 2. If a filtered round ends having delivered ≥ 5,000 messages, its result cannot be trusted to be complete:
 *    its deltaLink is dropped and the folder restarts with an **unfiltered** round (state `unfiltered: true`,
 *    kept for all later rounds), dropping messages older than `syncFromDate` client-side. Messages already
 *    stored are unchanged, so the restart writes nothing for them.
 * Cost: folders with < 5,000 messages since `syncFromDate` (the common case) pay nothing extra; bigger ones pay
 * the 5,000 / pageSize wasted requests once. Window chaining (a second filtered round from the newest date
 * seen) was rejected: it is only correct if Graph returns the oldest messages first, and the last window's
 * deltaLink would not report changes to messages of earlier windows.
 *
 * Delta expiry. 410 / `syncStateNotFound` / `resyncRequired` (any case) drop both links and restart the folder
 * with a fresh round (at most twice per run). Ids are derived from (account, immutable id), so the resync
 * upserts the same documents: no duplicates, and nothing in between is lost.
 *
 * Resync sweep. A round started from scratch reports what exists, never what was deleted before it — so after
 * an expiry (or a cap restart, or a re-created folder) deletions made while the token was dead would be missed
 * (found by the convergence property test). Such rounds are flagged `sweepAtEnd`; every message they deliver
 * is stamped `syncRound = {folderId}@{roundStartedAt}` (an unchanged message costs one small write, only in
 * these rare rounds), and when the round ends, the folder's communications without that stamp (within the
 * `$filter` window, if any) are marked `removedInM365`. If the round ends with no time left, the flag stays and
 * the next run sweeps before its incremental round. The folder's very first round needs no sweep.
 *
 * Moves between folders versus `@removed` (immutable ids make a moved message keep its id):
 * - A message delivered by folder F's delta is upserted with `folder/folderId = F` and `removedInM365: false`
 *   (whatever it was before): a message reappearing in another synced folder is un-removed there.
 * - An `@removed` entry (reason `deleted` or `changed`) from folder F marks the stored communication
 *   `removedInM365: true` **only if its stored `folderId` is still F**. If another synced folder already
 *   claimed it (the move was seen there first), the removal is ignored.
 * - A message page older than what is stored (`lastModifiedDateTime` earlier than the stored one) is stale —
 *   e.g. a resumed round delivering a message that has since moved on — and is skipped, so a stale page can
 *   never pull a message back into its old folder (which that folder's next `@removed` would then flag).
 * Whichever folder is synced first, the end state is the same: moved messages end in their new folder with
 *   `removedInM365: false`; deleted messages (or moved to a folder that is not synced) end `removedInM365: true`.
 *   A move seen first as a removal is only "removed" until the destination folder's delta is processed
 *   (normally later in the same run). Stored mail is never deleted.
 *
 * Store writes per page: one `getMany` of the page's ids, then one `upsertMany` of only the new or changed
 * communications (≈ 1 write per new message, 0 per unchanged one).
 */
import type { AttachmentMeta, EmailAccountRecord, FolderSyncState, LinkingRule } from '../records';
import { communicationRecord } from '../records';
import type { BlobStore } from '../ports/blob-store';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { DeltaPage, GraphMessageLike, MailSource } from '../ports/mail-source';
import { FILTERED_DELTA_CAP, isDeltaExpired } from '../ports/mail-source';
import type { CommunicationRecord } from '../records';
import type {
  CommunicationRepository,
  CommunicationUpsert,
  ContactRepository,
  UpsertManyResult,
} from '../ports/repositories';
import { AppError, isAppError } from '../../errors';
import type { GovernedCall } from './attachments';
import { syncMessageAttachments } from './attachments';
import { mapWithConcurrency } from './concurrency';
import { extractContacts } from './contacts';
import { bodyBlobName, communicationId } from './ids';
import type { RecordReference, ThreadReferenceLookup, ThreadReferences } from './linking';
import { applyLinkingRules, parentMessageIds, usesThreadInheritance } from './linking';
import type { MappedCommunication } from './message-mapping';
import { mapMessage, mayHaveInlineAttachments } from './message-mapping';

/** Cosmos items may hold 2 MB; bodies (HTML + text) above this go to Blob storage. */
export const DEFAULT_MAX_INLINE_BODY_BYTES = 1_000_000;
/** `textContent` kept on the item when the HTML body is in Blob storage. */
export const MAX_TEXT_BYTES_WITH_BLOB_BODY = 256 * 1024;
/** Delta expiries recovered per folder per run before giving up (transient). */
const MAX_RESYNCS_PER_RUN = 2;

export interface FolderCounters {
  /** Message entries Graph delivered (repeats included). */
  fetched: number;
  created: number;
  updated: number;
  /** Unchanged, stale, or older than `syncFromDate` (not stored). */
  skipped: number;
  /** Communications marked `removedInM365`. */
  removed: number;
}

export const emptyCounters = (): FolderCounters => ({ fetched: 0, created: 0, updated: 0, skipped: 0, removed: 0 });

export interface FolderSyncDeps {
  communications: CommunicationRepository;
  contacts: ContactRepository;
  blobs: BlobStore;
  clock: Clock;
  logger: Logger;
  threadLookup?: ThreadReferenceLookup;
}

export interface FolderSyncSettings {
  /** `Prefer: odata.maxpagesize`. */
  pageSize: number;
  select: readonly string[];
  /** Stop (with a checkpoint) once this has passed. */
  deadline: Date;
  attachmentsContainer: string;
  maxInlineBodyBytes: number;
  /** Attachment downloads of one page at once (the governor caps the mailbox anyway). */
  attachmentConcurrency: number;
}

/** References assigned during this run (a reply later in the run inherits from a message earlier in it). */
export class ThreadCache implements ThreadReferences {
  readonly byConversationId = new Map<string, RecordReference>();
  readonly byMessageId = new Map<string, RecordReference>();

  remember(
    record: Pick<CommunicationUpsert, 'conversationId' | 'messageId' | 'referenceDoctype' | 'referenceName'>,
  ): void {
    if (!record.referenceDoctype || !record.referenceName) return;
    const ref = { referenceDoctype: record.referenceDoctype, referenceName: record.referenceName };
    if (record.conversationId && !this.byConversationId.has(record.conversationId)) {
      this.byConversationId.set(record.conversationId, ref);
    }
    if (record.messageId) this.byMessageId.set(record.messageId, ref);
  }
}

export interface FolderToSync {
  /** The configured name or path. */
  name: string;
  id: string;
  totalItemCount?: number;
}

export interface FolderSyncInput {
  deps: FolderSyncDeps;
  settings: FolderSyncSettings;
  account: EmailAccountRecord;
  folder: FolderToSync;
  /** The stored state (undefined for a folder never synced). */
  state: FolderSyncState | undefined;
  source: MailSource;
  /** Every Graph call goes through this (the governor). */
  call: GovernedCall;
  linkingRules: readonly LinkingRule[];
  threadCache: ThreadCache;
  /** Mutated as pages are written, so the caller still has the figures when syncFolder throws. */
  counters: FolderCounters;
  /** Persists the folder state (after a page's writes; `roundCompleted` when it carries a new deltaLink). */
  checkpoint(state: FolderSyncState, roundCompleted: boolean): Promise<void>;
}

export interface FolderSyncResult {
  outcome: 'complete' | 'continue';
  /** This run worked on an initial round (no deltaLink at the start, or a resync). */
  initial: boolean;
  state: FolderSyncState;
  counters: FolderCounters;
  /** Delta expiries recovered. */
  resyncs: number;
  /** Filtered rounds that hit the 5,000 cap and restarted unfiltered. */
  capRestarts: number;
}

// -----------------------------------------------------------------------------------------------------------

/** `YYYY-MM-DD` (or a date-time) → the instant; undefined when absent or unreadable. */
export function syncFromInstant(syncFromDate: string | undefined): Date | undefined {
  if (!syncFromDate) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(syncFromDate) ? `${syncFromDate}T00:00:00Z` : syncFromDate);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * A fresh round's state (links dropped). Keeps the folder id, the estimate and the `unfiltered` decision.
 * `sweep`: the round is a resync, so at its end the messages it did not deliver are marked removed.
 */
function freshRound(
  previous: FolderSyncState | undefined,
  folder: FolderToSync,
  syncFrom: Date | undefined,
  now: Date,
  sweep: boolean,
): FolderSyncState {
  const state: FolderSyncState = { folderId: folder.id, processed: 0, roundStartedAt: now.toISOString() };
  const estimate = folder.totalItemCount ?? previous?.estimatedTotal;
  if (estimate !== undefined) state.estimatedTotal = estimate;
  if (previous?.unfiltered) state.unfiltered = true;
  else if (syncFrom) state.filterFrom = syncFrom.toISOString();
  if (sweep) state.sweepAtEnd = true;
  return state;
}

/** The marker written on communications delivered by a fresh round (undefined during incremental rounds). */
const roundMarker = (state: FolderSyncState): string | undefined =>
  state.deltaLink || !state.roundStartedAt ? undefined : `${state.folderId ?? ''}@${state.roundStartedAt}`;

const utf8Bytes = (text: string | undefined): number => (text ? Buffer.byteLength(text, 'utf8') : 0);

function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  // Drop a partial character at the cut (decoded as U+FFFD).
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut;
}

export type UpsertDecision = 'create' | 'update' | 'unchanged' | 'stale';

/**
 * What to do with a delivered message given what is stored: `stale` when the delivery is older than the stored
 * version, `unchanged` when it is the same version in the same folder and not flagged removed.
 */
export function decideUpsert(prior: CommunicationRecord | undefined, mapped: MappedCommunication): UpsertDecision {
  if (!prior) return 'create';
  const priorMs = prior.lastModifiedDateTime ? Date.parse(prior.lastModifiedDateTime) : NaN;
  const mappedMs = mapped.lastModifiedDateTime ? Date.parse(mapped.lastModifiedDateTime) : NaN;
  if (!Number.isNaN(priorMs) && !Number.isNaN(mappedMs) && mappedMs < priorMs) return 'stale';
  const sameVersion =
    mapped.changeKey !== undefined
      ? mapped.changeKey === prior.changeKey
      : mapped.lastModifiedDateTime !== undefined && mapped.lastModifiedDateTime === prior.lastModifiedDateTime;
  if (sameVersion && prior.folderId === mapped.folderId && prior.folder === mapped.folder && !prior.removedInM365) {
    return 'unchanged';
  }
  return 'update';
}

/** The stored record as an upsert (keeps `createdAt`; `etag` makes the write conditional). */
function asUpsert(record: CommunicationRecord): CommunicationUpsert {
  const { docType: _docType, updatedAt: _updatedAt, ...rest } = record;
  return rest;
}

interface WritePlan {
  /** `touch`: unchanged content, only the resync marker (`syncRound`) is written. */
  kind: 'create' | 'update' | 'remove' | 'touch';
  record: CommunicationUpsert;
}

export async function syncFolder(input: FolderSyncInput): Promise<FolderSyncResult> {
  const { deps, settings, account, folder, source, call, counters } = input;
  const log = deps.logger.child({ folder: folder.name });
  const syncFrom = syncFromInstant(account.syncFromDate);
  const now = (): Date => deps.clock.now();

  const stored = input.state;
  let state: FolderSyncState;
  if (!stored?.folderId) {
    state = freshRound(undefined, folder, syncFrom, now(), false); // the folder's first round
  } else if (stored.folderId !== folder.id) {
    // The folder was re-created (or renamed and replaced): resync, and sweep what the old folder held.
    state = freshRound(undefined, folder, syncFrom, now(), true);
  } else if (!stored.nextLink && stored.deltaLink) {
    state = { ...stored };
    if (state.sweepAtEnd) {
      // A resync round ended without time for its sweep: do it before anything else changes the folder.
      counters.removed += await sweepUnseen(input, roundMarker({ ...state, deltaLink: undefined })!, state.filterFrom);
      delete state.sweepAtEnd;
      await input.checkpoint(state, true);
    }
    // A new incremental round from the stored deltaLink.
    state = { ...state, processed: 0, roundStartedAt: now().toISOString() };
  } else if (!stored.nextLink) {
    state = freshRound(stored, folder, syncFrom, now(), stored.sweepAtEnd === true);
  } else {
    state = { ...stored };
  }
  let initial = !state.deltaLink;
  let resyncs = 0;
  let capRestarts = 0;

  const fetchPage = (link: string | undefined): Promise<DeltaPage> => {
    const request = {
      mailbox: account.emailAddress,
      folderId: folder.id,
      pageSize: settings.pageSize,
      select: settings.select,
      ...(link ? { link } : {}),
      ...(!link && state.filterFrom ? { syncFrom: new Date(state.filterFrom) } : {}),
    };
    const promise = call(() => source.deltaPage(request));
    // Marked handled now: a prefetched page may be abandoned (budget, error) and must not crash the process.
    promise.catch(() => undefined);
    return promise;
  };
  const pastDeadline = (): boolean => now().getTime() >= settings.deadline.getTime();

  if (pastDeadline()) return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };

  let pending: Promise<DeltaPage> | undefined = fetchPage(state.nextLink ?? state.deltaLink);
  for (;;) {
    let page: DeltaPage;
    try {
      page = await pending;
    } catch (error) {
      if (isDeltaExpired(error) && resyncs < MAX_RESYNCS_PER_RUN) {
        resyncs++;
        log.warn('Delta token expired; resyncing the folder from the start', {
          code: (error as { code?: string }).code,
        });
        state = freshRound(state, folder, syncFrom, now(), true);
        initial = true;
        await input.checkpoint(state, false);
        pending = fetchPage(undefined);
        continue;
      }
      throw error;
    }

    // Prefetch the next page while this one is written.
    pending = page.nextLink && !pastDeadline() ? fetchPage(page.nextLink) : undefined;
    try {
      await processPage(input, page, syncFrom, log, roundMarker(state), state.sweepAtEnd === true);
    } catch (error) {
      await pending?.catch(() => undefined);
      throw error;
    }
    state.processed += page.messages.length;

    if (page.nextLink) {
      state.nextLink = page.nextLink;
      await input.checkpoint(state, false);
      if (!pending || pastDeadline()) {
        await pending?.catch(() => undefined);
        return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };
      }
      continue;
    }

    // End of the round.
    if (state.filterFrom && state.processed >= FILTERED_DELTA_CAP) {
      capRestarts++;
      log.warn('A filtered delta round hit the 5,000 cap; restarting the folder without $filter', {
        processed: state.processed,
      });
      state = { ...freshRound(undefined, folder, syncFrom, now(), true), unfiltered: true };
      delete state.filterFrom;
      initial = true;
      await input.checkpoint(state, false);
      if (pastDeadline()) return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };
      pending = fetchPage(undefined);
      continue;
    }
    const marker = roundMarker(state);
    delete state.nextLink;
    if (page.deltaLink) state.deltaLink = page.deltaLink;
    else log.warn('A delta page had neither nextLink nor deltaLink; the next run starts a new round');
    if (state.sweepAtEnd && marker && state.deltaLink) {
      if (pastDeadline()) {
        // Keep the flag: the next run sweeps before its incremental round.
        await input.checkpoint(state, false);
        return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };
      }
      counters.removed += await sweepUnseen(input, marker, state.filterFrom);
      delete state.sweepAtEnd;
    }
    await input.checkpoint(state, true);
    return { outcome: 'complete', initial, state, counters, resyncs, capRestarts };
  }
}

// -----------------------------------------------------------------------------------------------------------
// One page

/** The resync marker of the round (fresh rounds only) and whether unchanged messages must be touched with it. */
interface RoundMarking {
  marker: string | undefined;
  sweeping: boolean;
}

async function processPage(
  input: FolderSyncInput,
  page: DeltaPage,
  syncFrom: Date | undefined,
  log: Logger,
  marker: string | undefined,
  sweeping: boolean,
) {
  const marking: RoundMarking = { marker, sweeping };
  const { deps, account, counters } = input;
  counters.fetched += page.messages.length;
  const removedIds = new Set(page.removed.map((r) => r.id));
  // The same message can appear more than once (also across pages): the last delivery wins. A message that is
  // both delivered and removed in one page counts as removed.
  const delivered = new Map<string, GraphMessageLike>();
  for (const m of page.messages) if (!removedIds.has(m.id)) delivered.set(m.id, m);
  const messages = [...delivered.values()];
  counters.skipped += page.messages.length - messages.length;
  const removed = [...removedIds];
  if (messages.length === 0 && removed.length === 0) return;

  const idOf = (graphId: string): string => communicationId(account.id, graphId);
  const existing = await deps.communications.getMany(account.accountName, [
    ...new Set([...messages.map((m) => idOf(m.id)), ...removed.map(idOf)]),
  ]);

  let result = await planAndWrite(input, messages, removed, existing, syncFrom, log, marking);
  if (result.stale.length > 0) {
    // Someone else wrote some of these meanwhile (another run after a lease expiry, or a person editing the
    // reference): re-read them and apply this page again to the fresh versions, once.
    const staleIds = new Set(result.stale);
    const fresh = await deps.communications.getMany(account.accountName, [...staleIds]);
    result = await planAndWrite(
      input,
      messages.filter((m) => staleIds.has(idOf(m.id))),
      removed.filter((id) => staleIds.has(idOf(id))),
      fresh,
      syncFrom,
      log,
      marking,
      false,
    );
    if (result.stale.length > 0) {
      throw new AppError('CONFLICT', 'Communications kept changing while being synced; the page will be retried.', {
        retryable: true,
        details: { reason: 'stale' },
      });
    }
  }
}

async function planAndWrite(
  input: FolderSyncInput,
  messages: readonly GraphMessageLike[],
  removed: readonly string[],
  existing: ReadonlyMap<string, CommunicationRecord>,
  syncFrom: Date | undefined,
  log: Logger,
  marking: RoundMarking,
  countSkips = true,
): Promise<{ stale: string[] }> {
  const { deps, account, folder, counters, settings } = input;
  const nowDate = deps.clock.now();
  const plans: WritePlan[] = [];
  const toBuild: Array<{ message: GraphMessageLike; mapped: MappedCommunication; prior?: CommunicationRecord }> = [];

  for (const message of messages) {
    const id = communicationId(account.id, message.id);
    const prior = existing.get(id);
    if (!prior && syncFrom && message.receivedDateTime && Date.parse(message.receivedDateTime) < syncFrom.getTime()) {
      if (countSkips) counters.skipped++;
      continue;
    }
    let mapped: MappedCommunication;
    try {
      mapped = mapMessage(message, account, folder, nowDate);
    } catch (error) {
      // A message the mapper cannot handle must not block the folder: skip it, loudly.
      log.error('A message could not be mapped and was skipped', { graphMessageId: message.id, error });
      if (countSkips) counters.skipped++;
      continue;
    }
    const decision = decideUpsert(prior, mapped);
    if (decision === 'unchanged' || decision === 'stale') {
      if (countSkips) counters.skipped++;
      // A resync round must record that it saw the message (the sweep at its end relies on it).
      if (
        prior &&
        marking.sweeping &&
        marking.marker &&
        prior.syncRound !== marking.marker &&
        prior.folderId === folder.id
      ) {
        plans.push({ kind: 'touch', record: { ...asUpsert(prior), syncRound: marking.marker } });
      }
      continue;
    }
    const syncRound = marking.marker ?? prior?.syncRound;
    if (syncRound) mapped.syncRound = syncRound;
    else delete mapped.syncRound;
    toBuild.push(prior ? { message, mapped, prior } : { message, mapped });
  }

  // Linking needs thread references: one lookup per page (when a rule uses them), plus this run's own.
  const rules = input.linkingRules;
  const needsLinking = toBuild.filter((b) => !b.prior?.referenceName);
  let thread: ThreadReferences = input.threadCache;
  if (needsLinking.length > 0 && usesThreadInheritance(rules) && deps.threadLookup) {
    const conversationIds = [...new Set(needsLinking.map((b) => b.mapped.conversationId).filter(isString))];
    const messageIds = [...new Set(needsLinking.flatMap((b) => parentMessageIds(b.mapped)))];
    const found = await deps.threadLookup.findReferences(account.accountName, { conversationIds, messageIds });
    thread = {
      byConversationId: new Map([...found.byConversationId, ...input.threadCache.byConversationId]),
      byMessageId: new Map([...found.byMessageId, ...input.threadCache.byMessageId]),
    };
  }

  // Oldest first, so a reply later in the page inherits from its parent earlier in the page.
  toBuild.sort((a, b) => a.mapped.communicationDate.localeCompare(b.mapped.communicationDate));
  const localRefs = new ThreadCache();
  for (const b of toBuild) {
    const record = b.mapped as CommunicationUpsert;
    if (b.prior?.referenceDoctype && b.prior.referenceName) {
      record.referenceDoctype = b.prior.referenceDoctype;
      record.referenceName = b.prior.referenceName;
    } else if (rules.length > 0) {
      const lookup: ThreadReferences = {
        byConversationId: new Map([...thread.byConversationId, ...localRefs.byConversationId]),
        byMessageId: new Map([...thread.byMessageId, ...localRefs.byMessageId]),
      };
      const match = applyLinkingRules(
        rules,
        {
          subject: b.mapped.subject,
          sender: b.mapped.sender,
          ...(b.mapped.conversationId ? { conversationId: b.mapped.conversationId } : {}),
          ...(b.mapped.inReplyTo ? { inReplyTo: b.mapped.inReplyTo } : {}),
          ...(b.mapped.references ? { references: b.mapped.references } : {}),
        },
        lookup,
      );
      if (match) {
        record.referenceDoctype = match.referenceDoctype;
        record.referenceName = match.referenceName;
        localRefs.remember(record);
      }
    }
  }

  // Attachments and large bodies (Blob writes happen before the communication is written, so a crash in
  // between only leaves a blob that the retry overwrites).
  await mapWithConcurrency(toBuild, settings.attachmentConcurrency, async (b) => {
    const record = b.mapped;
    if (b.prior) {
      record.createdAt = b.prior.createdAt;
      if (b.prior.etag) record.etag = b.prior.etag;
      record.attachments = b.prior.attachments;
    }
    const wantsAttachments =
      account.syncAttachments &&
      (!b.prior || b.prior.attachments.length === 0) &&
      (b.message.hasAttachments === true || mayHaveInlineAttachments(b.message));
    if (wantsAttachments) {
      record.attachments = await syncAttachmentsOf(input, b.message.id, record.id, log);
    }
    await placeBody(input, record, b.message, b.prior);
    plans.push({ kind: b.prior ? 'update' : 'create', record });
  });

  for (const graphId of removed) {
    const prior = existing.get(communicationId(account.id, graphId));
    if (!prior || prior.removedInM365) continue;
    if (prior.folderId !== folder.id) continue; // claimed by another folder: a move, not a removal
    plans.push({ kind: 'remove', record: { ...asUpsert(prior), removedInM365: true } });
  }
  if (plans.length === 0) return { stale: [] };

  // Contacts first: if the communications write fails, the retry (from the checkpoint) still sees these
  // messages as new and creates their contacts; sightings merge idempotently.
  if (account.autoCreateContact) {
    const created = new Set(plans.filter((p) => p.kind === 'create').map((p) => p.record.id));
    const sources = toBuild.filter((b) => created.has(b.mapped.id)).map((b) => b.message);
    const candidates = extractContacts(sources, account.emailAddress);
    const seenAt = nowDate;
    await mapWithConcurrency(candidates, 4, async (c) => {
      try {
        await deps.contacts.upsertByEmail(c.email, {
          ...(c.fullName ? { fullName: c.fullName } : {}),
          emailAccount: account.accountName,
          owner: account.user,
          seenAt,
        });
      } catch (error) {
        // An address the store refuses must not block the folder; anything else (store down) is retried.
        if (!isAppError(error, 'VALIDATION_FAILED')) throw error;
        log.warn('A contact address was refused and skipped', { error });
      }
    });
  }

  let outcome: UpsertManyResult;
  try {
    outcome = await deps.communications.upsertMany(plans.map((p) => p.record));
  } catch (error) {
    if (!isAppError(error, 'VALIDATION_FAILED')) throw error;
    // The store refused the batch: drop the records that fail on their own (logged), write the rest. One odd
    // message is skipped, never the whole folder. (Not done up front: validation is the store's job and costs.)
    const writable = plans.filter((plan) => isStorable(plan.record, nowDate, log));
    if (countSkips) counters.skipped += plans.length - writable.length;
    plans.length = 0;
    plans.push(...writable);
    outcome =
      plans.length === 0
        ? { created: 0, updated: 0, stale: [] }
        : await deps.communications.upsertMany(plans.map((p) => p.record));
  }
  const stale = new Set(outcome.stale);
  for (const plan of plans) {
    if (stale.has(plan.record.id)) continue;
    if (plan.kind === 'create') counters.created++;
    else if (plan.kind === 'update') counters.updated++;
    else if (plan.kind === 'remove') counters.removed++;
    if (plan.kind === 'create' || plan.kind === 'update') input.threadCache.remember(plan.record);
  }
  return { stale: outcome.stale };
}

const isString = (v: string | undefined): v is string => typeof v === 'string' && v !== '';

function isStorable(record: CommunicationUpsert, now: Date, log: Logger): boolean {
  const nowIso = now.toISOString();
  const check = communicationRecord.safeParse({
    ...record,
    docType: 'communication',
    createdAt: record.createdAt ?? nowIso,
    updatedAt: nowIso,
  });
  if (check.success) return true;
  log.error('A communication failed validation and was skipped', {
    graphMessageId: record.graphMessageId,
    issues: check.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`),
  });
  return false;
}

async function syncAttachmentsOf(input: FolderSyncInput, graphId: string, commId: string, log: Logger) {
  const { deps, account, settings, source, call } = input;
  const metas: AttachmentMeta[] = await syncMessageAttachments(
    {
      source,
      call,
      blobs: deps.blobs,
      container: settings.attachmentsContainer,
      mailbox: account.emailAddress,
      accountId: account.id,
      maxAttachmentSizeMb: account.maxAttachmentSize,
      concurrency: settings.attachmentConcurrency,
      logger: log,
    },
    graphId,
    commId,
  );
  return metas;
}

/**
 * Keeps the HTML body on the item when HTML + text fit `maxInlineBodyBytes`; otherwise writes the HTML to Blob
 * storage (`contentBlob`), empties `content` and shortens `textContent`. An update of a message whose body is
 * already in Blob reuses that blob (received mail does not change its body), except for drafts.
 */
async function placeBody(
  input: FolderSyncInput,
  record: CommunicationUpsert & MappedCommunication,
  message: GraphMessageLike,
  prior: CommunicationRecord | undefined,
): Promise<void> {
  const { settings, deps, account } = input;
  const size = utf8Bytes(record.content) + utf8Bytes(record.textContent);
  if (size <= settings.maxInlineBodyBytes) {
    delete record.contentBlob;
    return;
  }
  const name = bodyBlobName(account.id, record.id);
  if (!(prior?.contentBlob === name && message.isDraft !== true)) {
    await deps.blobs.putBuffer(settings.attachmentsContainer, name, record.content, {
      contentType: 'text/html; charset=utf-8',
    });
  }
  record.contentBlob = name;
  record.content = '';
  record.textContent = truncateUtf8(record.textContent, MAX_TEXT_BYTES_WITH_BLOB_BODY);
}

/**
 * The sweep at the end of a resync round: a round started from scratch reports only what exists, never what
 * was deleted before it, so communications of this folder that the round did not deliver (no `syncRound`
 * marker of this round) are marked removed. With a `$filter`, only those the filter covers are considered.
 * A stale write (someone changed the communication meanwhile, e.g. another folder claimed it) is left alone.
 */
async function sweepUnseen(input: FolderSyncInput, marker: string, filterFrom: string | undefined): Promise<number> {
  const { deps, account, folder } = input;
  const fromMs = filterFrom ? Date.parse(filterFrom) : undefined;
  let removed = 0;
  let continuationToken: string | null = null;
  do {
    const page: Awaited<ReturnType<CommunicationRepository['list']>> = await deps.communications.list(
      { limit: 200, continuationToken },
      { emailAccount: account.accountName, folder: folder.name },
    );
    const unseen = page.items.filter(
      (c) =>
        !c.removedInM365 &&
        c.syncRound !== marker &&
        (fromMs === undefined || Date.parse(c.communicationDate) >= fromMs),
    );
    if (unseen.length > 0) {
      const outcome = await deps.communications.upsertMany(
        unseen.map((c) => ({ ...asUpsert(c), removedInM365: true })),
      );
      removed += unseen.length - outcome.stale.length;
    }
    continuationToken = page.continuationToken;
  } while (continuationToken);
  if (removed > 0) deps.logger.info('Resync sweep marked communications removed', { folder: folder.name, removed });
  return removed;
}
