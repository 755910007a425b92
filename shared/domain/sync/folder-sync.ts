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
 * chain of continuations always ends).
 *
 * Pipeline. Up to `pipelineDepth` pages are fetched ahead and *prepared* (priors read, writes planned,
 * attachments and large bodies stored in Blob) while the page before them is *committed* (linking, contacts,
 * the communications write, the checkpoint) — commits stay strictly in page order, each followed by its
 * checkpoint. So Graph and the store work at the same time: sync speed ≈ max(Graph, store), not their sum. A
 * page prepared ahead read its priors before the earlier commits finished; the ids those commits wrote (a
 * message on two consecutive pages, or delivered then removed) are processed again from fresh reads when the
 * page commits. Work prepared ahead when the run stops is discarded (the next run redoes it from the checkpoint;
 * blob names are stable, so nothing is duplicated).
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
 * Store writes per page: one `getMany` of the page's ids, one `recordSightings` of the new correspondents (the
 * run remembers who it has recorded), then one `upsertMany` of only the new or changed communications (≈ 1 write
 * per new message, 0 per unchanged one).
 *
 * Attachments: a message whose store size (PidTagMessageSize, read with the delta page) is small has its
 * attachments listed with their bytes in one request; others are listed without bytes and streamed one by one.
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
import type { ContactSightingCache } from './contacts';
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
  /** Pages fetched and prepared ahead of the one being written (default `DEFAULT_PIPELINE_DEPTH`). */
  pipelineDepth?: number;
  /** Messages up to this size get their attachments listed with bytes (default 4 MiB; 0 disables). */
  inlineAttachmentsMaxBytes?: number;
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
  /** Addresses recorded as contacts during this run (shared by the run's folders). */
  contactCache?: ContactSightingCache;
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
    // The page the sync waits for goes before queued attachment downloads.
    return call(() => source.deltaPage(request), { priority: 'high' });
  };
  const pastDeadline = (): boolean => now().getTime() >= settings.deadline.getTime();

  if (pastDeadline()) return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };

  // Ids written by each commit, to find what a page prepared ahead read before it was written (see commitPage).
  let commits = 0;
  const recentWrites: Array<{ at: number; ids: ReadonlySet<string> }> = [];
  const writtenSince = (at: number): Set<string> => {
    const ids = new Set<string>();
    for (const w of recentWrites) if (w.at > at) for (const id of w.ids) ids.add(id);
    return ids;
  };
  const start = (link: string | undefined): PagePipeline =>
    startPipeline({
      depth: Math.max(1, settings.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH),
      link,
      fetchPage,
      pastDeadline,
      commits: () => commits,
      prepare: (page, readAt, marking) => preparePage(input, page, syncFrom, log, marking, readAt),
      marking: { marker: roundMarker(state), sweeping: state.sweepAtEnd === true },
    });

  let pipeline = start(state.nextLink ?? state.deltaLink);
  try {
    for (;;) {
      const entry = await pipeline.next();
      if (entry.kind === 'deadline') return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };
      if (entry.kind === 'error') {
        // Every page before the failed request is committed by now.
        const error = entry.error;
        if (isDeltaExpired(error) && resyncs < MAX_RESYNCS_PER_RUN) {
          resyncs++;
          log.warn('Delta token expired; resyncing the folder from the start', {
            code: (error as { code?: string }).code,
          });
          state = freshRound(state, folder, syncFrom, now(), true);
          initial = true;
          await input.checkpoint(state, false);
          await pipeline.stop();
          pipeline = start(undefined);
          continue;
        }
        throw error;
      }

      const { page } = entry;
      const prepared = await entry.prepared;
      const written = await commitPage(input, prepared, writtenSince(prepared.readAt), syncFrom, log);
      commits++;
      recentWrites.push({ at: commits, ids: written });
      while (recentWrites.length > MAX_PIPELINE_DEPTH + 1) recentWrites.shift();
      pipeline.committed();
      state.processed += page.messages.length;

      if (page.nextLink) {
        state.nextLink = page.nextLink;
        await input.checkpoint(state, false);
        if (pastDeadline()) return { outcome: 'continue', initial, state, counters, resyncs, capRestarts };
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
        await pipeline.stop();
        pipeline = start(undefined);
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
  } finally {
    // Nothing runs on after the folder is done: requests and preparations ahead are awaited (their results, and
    // any blobs they wrote, are simply redone from the checkpoint by the next run).
    await pipeline.stop();
  }
}

// -----------------------------------------------------------------------------------------------------------
// The page pipeline
//
// Pages are read ahead and *prepared* (priors read, writes planned, attachments and large bodies stored in Blob)
// while earlier pages are *committed* (linking, contacts, the communications write, the checkpoint), strictly in
// page order. So Graph (attachments) and the store work at the same time, and the checkpoint still follows each
// page's writes. At most `depth` pages are fetched and not yet committed.

/** Pages fetched ahead of the one being committed (and prepared meanwhile), by default. */
export const DEFAULT_PIPELINE_DEPTH = 3;
const MAX_PIPELINE_DEPTH = 8;

type PipelineEntry =
  | { kind: 'page'; page: DeltaPage; prepared: Promise<PreparedPage> }
  | { kind: 'error'; error: unknown }
  | { kind: 'deadline' };

interface PagePipeline {
  /** The next page (prepared in the background), the fetch error that ended the round, or the deadline. */
  next(): Promise<PipelineEntry>;
  /** A page was committed: its slot is free. */
  committed(): void;
  /** Stops fetching and waits for everything started to settle. */
  stop(): Promise<void>;
}

function startPipeline(options: {
  depth: number;
  link: string | undefined;
  fetchPage(link: string | undefined): Promise<DeltaPage>;
  pastDeadline(): boolean;
  commits(): number;
  marking: RoundMarking;
  prepare(page: DeltaPage, readAt: number, marking: RoundMarking): Promise<PreparedPage>;
}): PagePipeline {
  const depth = Math.min(options.depth, MAX_PIPELINE_DEPTH);
  const entries: PipelineEntry[] = [];
  // Preparations not settled yet (settled ones are dropped: a round's pages must not stay in memory).
  const running = new Set<Promise<unknown>>();
  let entryWaiter: (() => void) | undefined;
  let slotWaiter: (() => void) | undefined;
  let free = depth;
  let stopped = false;
  const push = (entry: PipelineEntry): void => {
    entries.push(entry);
    entryWaiter?.();
    entryWaiter = undefined;
  };
  const producer = (async () => {
    let link = options.link;
    for (let first = true; ; first = false) {
      while (free === 0 && !stopped) await new Promise<void>((resolve) => (slotWaiter = resolve));
      if (stopped) return;
      if (!first && options.pastDeadline()) return push({ kind: 'deadline' });
      free--;
      let page: DeltaPage;
      try {
        page = await options.fetchPage(link);
      } catch (error) {
        return push({ kind: 'error', error });
      }
      if (stopped) return;
      const prepared = options.prepare(page, options.commits(), options.marking);
      // Handled here too: a page prepared ahead may be abandoned (budget, error) and must not crash the process.
      const settled = prepared.then(
        () => undefined,
        () => undefined,
      );
      running.add(settled);
      void settled.then(() => running.delete(settled));
      push({ kind: 'page', page, prepared });
      if (!page.nextLink) return;
      link = page.nextLink;
    }
  })();
  return {
    async next() {
      while (entries.length === 0) await new Promise<void>((resolve) => (entryWaiter = resolve));
      return entries.shift() as PipelineEntry;
    },
    committed() {
      free++;
      slotWaiter?.();
      slotWaiter = undefined;
    },
    async stop() {
      stopped = true;
      slotWaiter?.();
      slotWaiter = undefined;
      await producer;
      await Promise.allSettled([...running]);
    },
  };
}

// -----------------------------------------------------------------------------------------------------------
// One page

/** The resync marker of the round (fresh rounds only) and whether unchanged messages must be touched with it. */
interface RoundMarking {
  marker: string | undefined;
  sweeping: boolean;
}

interface Built {
  message: GraphMessageLike;
  mapped: MappedCommunication;
  prior?: CommunicationRecord;
}

/** A page's writes, planned against the priors read, with attachments and large bodies already in Blob. */
interface PlannedWork {
  /** Unchanged messages touched with the resync marker. */
  touches: WritePlan[];
  /** New or changed messages (linking is applied when committed). */
  built: Built[];
  removals: WritePlan[];
  /** Ids of messages not written (unchanged, stale, older than `syncFromDate`, unmappable). */
  skippedIds: string[];
}

interface PreparedPage {
  page: DeltaPage;
  /** Commits completed when its priors were read: a later commit may have written some of `ids`. */
  readAt: number;
  /** The communication ids the page concerns. */
  ids: Set<string>;
  messages: GraphMessageLike[];
  removed: string[];
  marking: RoundMarking;
  work: PlannedWork;
}

const noWork = (): PlannedWork => ({ touches: [], built: [], removals: [], skippedIds: [] });

/** The page's messages (last delivery wins; delivered and removed in one page counts as removed) and removals. */
function pageEntries(page: DeltaPage): { messages: GraphMessageLike[]; removed: string[] } {
  const removedIds = new Set(page.removed.map((r) => r.id));
  const delivered = new Map<string, GraphMessageLike>();
  for (const m of page.messages) if (!removedIds.has(m.id)) delivered.set(m.id, m);
  return { messages: [...delivered.values()], removed: [...removedIds] };
}

async function preparePage(
  input: FolderSyncInput,
  page: DeltaPage,
  syncFrom: Date | undefined,
  log: Logger,
  marking: RoundMarking,
  readAt: number,
): Promise<PreparedPage> {
  const { deps, account } = input;
  const { messages, removed } = pageEntries(page);
  const idOf = (graphId: string): string => communicationId(account.id, graphId);
  const ids = new Set([...messages.map((m) => idOf(m.id)), ...removed.map(idOf)]);
  if (ids.size === 0) return { page, readAt, ids, messages, removed, marking, work: noWork() };
  const existing = await deps.communications.getMany(account.accountName, [...ids]);
  const work = await prepareWork(input, messages, removed, existing, syncFrom, log, marking);
  return { page, readAt, ids, messages, removed, marking, work };
}

/**
 * Writes a prepared page. Its priors were read before the commits listed in `writtenSince` finished (pages are
 * prepared ahead), so the ids those commits wrote — a message delivered on two consecutive pages, or delivered
 * then removed — are left out here and processed again from fresh reads, after the rest. Returns the ids written.
 */
async function commitPage(
  input: FolderSyncInput,
  prepared: PreparedPage,
  writtenSince: ReadonlySet<string>,
  syncFrom: Date | undefined,
  log: Logger,
): Promise<Set<string>> {
  const { counters } = input;
  counters.fetched += prepared.page.messages.length;
  counters.skipped += prepared.page.messages.length - prepared.messages.length; // repeats in the page
  const overlap = new Set([...prepared.ids].filter((id) => writtenSince.has(id)));
  let work = prepared.work;
  if (overlap.size > 0) {
    const keep = (plan: { record: { id: string } }): boolean => !overlap.has(plan.record.id);
    work = {
      touches: work.touches.filter(keep),
      built: work.built.filter((b) => !overlap.has(b.mapped.id)),
      removals: work.removals.filter(keep),
      skippedIds: work.skippedIds.filter((id) => !overlap.has(id)),
    };
  }
  counters.skipped += work.skippedIds.length;
  const written = new Set<string>();
  const outcome = await commitWork(input, work, log);
  for (const id of outcome.written) written.add(id);
  if (outcome.stale.length > 0) {
    // Someone else wrote some of these meanwhile (another run after a lease expiry, or a person editing the
    // reference): apply this page again to fresh versions of them, once.
    const stale = new Set(outcome.stale);
    const again = await processAgain(input, prepared, stale, syncFrom, log, false);
    for (const id of again) written.add(id);
  }
  if (overlap.size > 0) {
    const again = await processAgain(input, prepared, overlap, syncFrom, log, true);
    for (const id of again) written.add(id);
  }
  return written;
}

/** Prepares and commits the page's entries with the given ids from fresh reads (twice at most when stale). */
async function processAgain(
  input: FolderSyncInput,
  prepared: PreparedPage,
  ids: ReadonlySet<string>,
  syncFrom: Date | undefined,
  log: Logger,
  countSkips: boolean,
): Promise<string[]> {
  const { deps, account, counters } = input;
  const idOf = (graphId: string): string => communicationId(account.id, graphId);
  let messages = prepared.messages.filter((m) => ids.has(idOf(m.id)));
  let removed = prepared.removed.filter((id) => ids.has(idOf(id)));
  const written: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const fresh = await deps.communications.getMany(account.accountName, [
      ...new Set([...messages.map((m) => idOf(m.id)), ...removed.map(idOf)]),
    ]);
    const work = await prepareWork(input, messages, removed, fresh, syncFrom, log, prepared.marking);
    if (countSkips && attempt === 0) counters.skipped += work.skippedIds.length;
    const outcome = await commitWork(input, work, log);
    written.push(...outcome.written);
    if (outcome.stale.length === 0) return written;
    if (attempt >= (countSkips ? 1 : 0)) {
      throw new AppError('CONFLICT', 'Communications kept changing while being synced; the page will be retried.', {
        retryable: true,
        details: { reason: 'stale' },
      });
    }
    const stale = new Set(outcome.stale);
    messages = messages.filter((m) => stale.has(idOf(m.id)));
    removed = removed.filter((id) => stale.has(idOf(id)));
  }
}

/** Plans the writes of a page's messages and removals against `existing`; stores attachments and large bodies. */
async function prepareWork(
  input: FolderSyncInput,
  messages: readonly GraphMessageLike[],
  removed: readonly string[],
  existing: ReadonlyMap<string, CommunicationRecord>,
  syncFrom: Date | undefined,
  log: Logger,
  marking: RoundMarking,
): Promise<PlannedWork> {
  const { deps, account, folder, settings } = input;
  const nowDate = deps.clock.now();
  const work = noWork();

  for (const message of messages) {
    const id = communicationId(account.id, message.id);
    const prior = existing.get(id);
    if (!prior && syncFrom && message.receivedDateTime && Date.parse(message.receivedDateTime) < syncFrom.getTime()) {
      work.skippedIds.push(id);
      continue;
    }
    let mapped: MappedCommunication;
    try {
      mapped = mapMessage(message, account, folder, nowDate);
    } catch (error) {
      // A message the mapper cannot handle must not block the folder: skip it, loudly.
      log.error('A message could not be mapped and was skipped', { graphMessageId: message.id, error });
      work.skippedIds.push(id);
      continue;
    }
    const decision = decideUpsert(prior, mapped);
    if (decision === 'unchanged' || decision === 'stale') {
      work.skippedIds.push(id);
      // A resync round must record that it saw the message (the sweep at its end relies on it).
      if (
        prior &&
        marking.sweeping &&
        marking.marker &&
        prior.syncRound !== marking.marker &&
        prior.folderId === folder.id
      ) {
        work.touches.push({ kind: 'touch', record: { ...asUpsert(prior), syncRound: marking.marker } });
      }
      continue;
    }
    const syncRound = marking.marker ?? prior?.syncRound;
    if (syncRound) mapped.syncRound = syncRound;
    else delete mapped.syncRound;
    work.built.push(prior ? { message, mapped, prior } : { message, mapped });
  }

  // Attachments and large bodies (Blob writes happen before the communication is written, so a crash in
  // between only leaves a blob that the retry overwrites).
  await mapWithConcurrency(work.built, settings.attachmentConcurrency, async (b) => {
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
      record.attachments = await syncAttachmentsOf(input, b.message, record.id, log);
    }
    await placeBody(input, record, b.message, b.prior);
  });

  for (const graphId of removed) {
    const prior = existing.get(communicationId(account.id, graphId));
    if (!prior || prior.removedInM365) continue;
    if (prior.folderId !== folder.id) continue; // claimed by another folder: a move, not a removal
    work.removals.push({ kind: 'remove', record: { ...asUpsert(prior), removedInM365: true } });
  }
  return work;
}

/** Linking, contacts and the communications write of planned work. */
async function commitWork(
  input: FolderSyncInput,
  work: PlannedWork,
  log: Logger,
): Promise<{ stale: string[]; written: string[] }> {
  const { deps, account, counters } = input;
  const nowDate = deps.clock.now();
  const toBuild = work.built;

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
  const ordered = [...toBuild].sort((a, b) => a.mapped.communicationDate.localeCompare(b.mapped.communicationDate));
  const localRefs = new ThreadCache();
  for (const b of ordered) {
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

  const plans: WritePlan[] = [
    ...work.touches,
    ...ordered.map((b): WritePlan => ({ kind: b.prior ? 'update' : 'create', record: b.mapped })),
    ...work.removals,
  ];
  if (plans.length === 0) return { stale: [], written: [] };

  // Contacts first: if the communications write fails, the retry (from the checkpoint) still sees these
  // messages as new and records their contacts; sightings merge idempotently.
  if (account.autoCreateContact) await recordContacts(input, ordered, nowDate, log);

  let outcome: UpsertManyResult;
  try {
    outcome = await deps.communications.upsertMany(plans.map((p) => p.record));
  } catch (error) {
    if (!isAppError(error, 'VALIDATION_FAILED')) throw error;
    // The store refused the batch: drop the records that fail on their own (logged), write the rest. One odd
    // message is skipped, never the whole folder. (Not done up front: validation is the store's job and costs.)
    const writable = plans.filter((plan) => isStorable(plan.record, nowDate, log));
    counters.skipped += plans.length - writable.length;
    plans.length = 0;
    plans.push(...writable);
    outcome =
      plans.length === 0
        ? { created: 0, updated: 0, stale: [] }
        : await deps.communications.upsertMany(plans.map((p) => p.record));
  }
  const stale = new Set(outcome.stale);
  const written: string[] = [];
  for (const plan of plans) {
    if (stale.has(plan.record.id)) continue;
    written.push(plan.record.id);
    if (plan.kind === 'create') counters.created++;
    else if (plan.kind === 'update') counters.updated++;
    else if (plan.kind === 'remove') counters.removed++;
    if (plan.kind === 'create' || plan.kind === 'update') input.threadCache.remember(plan.record);
  }
  return { stale: outcome.stale, written };
}

/** Contacts of newly created messages, in bulk; addresses this run already recorded are not written again. */
async function recordContacts(input: FolderSyncInput, built: readonly Built[], seenAt: Date, log: Logger) {
  const { deps, account } = input;
  const sources = built.filter((b) => !b.prior).map((b) => b.message);
  const candidates = extractContacts(sources, account.emailAddress);
  const cache = input.contactCache;
  const fresh = cache ? cache.unrecorded(candidates) : candidates;
  if (fresh.length === 0) return;
  const result = await deps.contacts.recordSightings(fresh, {
    emailAccount: account.accountName,
    owner: account.user,
    seenAt,
  });
  if (result.refused.length > 0) {
    // An address the store refuses must not block the folder (a store failure throws and is retried).
    log.warn('Contact addresses were refused and skipped', { count: result.refused.length });
  }
  cache?.remember(fresh, new Set(result.refused.map((a) => a.toLowerCase())));
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

async function syncAttachmentsOf(input: FolderSyncInput, message: GraphMessageLike, commId: string, log: Logger) {
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
    message.id,
    commId,
    {
      messageSizeBytes: message.messageSizeBytes,
      ...(settings.inlineAttachmentsMaxBytes !== undefined
        ? { inlineMaxBytes: settings.inlineAttachmentsMaxBytes }
        : {}),
    },
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
