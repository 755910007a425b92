/**
 * The account sync use case (`sync-mailbox` queue worker): lease → folders → per-folder logs → account status →
 * release → continuation when needed.
 *
 * - Lease: `lease: { holder, expiresAt }` on the account, taken with the account's ETag (the repository's
 *   read-modify-write). A second message for the same account while a run holds a live lease exits without
 *   work; a stale lease (expired) is taken over. Every checkpoint renews the lease and checks it is still ours
 *   (a run that lost it stops at once). The lease is released at the end, also on failure.
 * - Folders: the enabled entries of `folderFilter` (Inbox and Sent Items when it is empty; they are written into
 *   the filter so their state has a home). Names and paths are resolved to ids once and the ids kept in the
 *   folder state, so an unchanged incremental cycle costs exactly one Graph request per folder.
 * - Errors: mailbox errors (ErrorAccessDenied, ErrorInvalidUser, MailboxNotEnabledForRESTAPI, rejected tokens,
 *   Entra AADSTS codes...) → account Failed with the code and a remedy, returned (never thrown: retrying cannot
 *   help). A missing folder fails only that folder. Throttling beyond the time budget → checkpoint (already
 *   done), `throttledUntil` on the account, continuation message with a visibility delay. Transient errors
 *   (Graph 5xx / network, store unavailable) → thrown as retryable AppErrors so the queue retries; the run
 *   resumes from its checkpoint. Anything else (a bug) → account Failed with code `InternalError`, not thrown.
 */
import { randomUUID } from 'node:crypto';
import type {
  EmailAccountRecord,
  FolderFilterEntry,
  FolderSyncState,
  LinkingRule,
  ServicePrincipalRecord,
  SyncStatus,
  SyncType,
} from '../records';
import { DEFAULT_FOLDERS } from '../records';
import type { BlobStore } from '../ports/blob-store';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { MailSource, ResolvedFolder } from '../ports/mail-source';
import {
  MESSAGE_SELECT,
  classifyMailSourceError,
  isFolderMissing,
  isMailSourceError,
  remedyFor,
} from '../ports/mail-source';
import type { Repositories } from '../ports/repositories';
import type { WorkQueue } from '../ports/work-queue';
import { AppError, conflictReason, isAppError } from '../../errors';
import type { GovernedCall } from './attachments';
import type { FolderCounters, FolderSyncResult, FolderToSync } from './folder-sync';
import { DEFAULT_MAX_INLINE_BODY_BYTES, ThreadCache, emptyCounters, syncFolder } from './folder-sync';
import { ContactSightingCache } from './contacts';
import type { RequestGovernor } from './governor';
import { MAX_CONCURRENCY_PER_MAILBOX, isMailboxThrottled } from './governor';
import type { ThreadReferenceLookup } from './linking';
import type { MailboxSyncMessage } from './schedule';

export interface SyncMailboxDeps {
  repositories: Pick<Repositories, 'emailAccounts' | 'servicePrincipals' | 'syncLogs' | 'communications' | 'contacts'>;
  /** The Graph mail source for a service principal (its tenant, cloud and credential). */
  mailSourceFor(principal: ServicePrincipalRecord): MailSource | Promise<MailSource>;
  blobs: BlobStore;
  queue: WorkQueue<MailboxSyncMessage>;
  /** The process-wide governor (one per process, shared by every run). */
  governor: RequestGovernor;
  clock: Clock;
  logger: Logger;
  threadLookup?: ThreadReferenceLookup;
  /** Rules that apply to every account, after the account's own `linkingRules`. */
  globalLinkingRules?: () => Promise<readonly LinkingRule[]>;
  /** Lease holder id of a run (default: a random UUID). */
  newRunId?: () => string;
}

export interface SyncSettings {
  /** SYNC_PAGE_SIZE (default 100). */
  pageSize: number;
  /** SYNC_TIME_BUDGET_SECONDS: below the function timeout. */
  timeBudgetSeconds: number;
  /** SYNC_LEASE_SECONDS: above the time budget. */
  leaseSeconds: number;
  /** ATTACHMENTS_CONTAINER (also holds large bodies). */
  attachmentsContainer: string;
  /** SYNC_MAX_CONCURRENCY_PER_MAILBOX (≤ 4): attachment downloads at once. */
  maxConcurrencyPerMailbox?: number;
  maxInlineBodyBytes?: number;
  select?: readonly string[];
  /** Pages prepared ahead of the one being written (default 3). */
  pipelineDepth?: number;
  /** Messages up to this store size get their attachments listed with bytes (default 4 MiB; 0 disables). */
  inlineAttachmentsMaxBytes?: number;
}

export type SkipReason =
  'account-missing' | 'account-disabled' | 'principal-disabled' | 'lease-held' | 'lease-lost' | 'throttled';

export interface FolderRunReport {
  folderName: string;
  status: 'Success' | 'Partial Success' | 'Failed';
  syncType: SyncType;
  counters: FolderCounters;
  /** `complete`: the round reached its deltaLink; `continue`: stopped at a checkpoint; `failed`. */
  outcome: 'complete' | 'continue' | 'failed';
  errorCode?: string;
  errorMessage?: string;
  resyncs?: number;
}

export type SyncMailboxResult =
  | { outcome: 'skipped'; reason: SkipReason }
  | { outcome: 'completed'; status: SyncStatus; folders: FolderRunReport[] }
  | { outcome: 'continued'; folders: FolderRunReport[] }
  | { outcome: 'throttled'; retryAt: string; folders: FolderRunReport[] }
  | { outcome: 'failed'; code: string; message: string; remedy: string; folders: FolderRunReport[] };

/** A run's outcome and counters summed over its folders, as log fields (`Mailbox sync run finished`). */
export function summarizeSyncRun(result: SyncMailboxResult): Record<string, unknown> {
  const folders = 'folders' in result ? result.folders : [];
  const total = (key: 'fetched' | 'created' | 'updated' | 'removed'): number =>
    folders.reduce((sum, f) => sum + f.counters[key], 0);
  return {
    outcome: result.outcome,
    ...(result.outcome === 'skipped' ? { reason: result.reason } : {}),
    ...(result.outcome === 'failed' ? { code: result.code } : {}),
    ...(result.outcome === 'completed' ? { status: result.status } : {}),
    folders: folders.length,
    fetched: total('fetched'),
    created: total('created'),
    updated: total('updated'),
    removed: total('removed'),
  };
}

/** The run no longer holds the account's lease (it expired and another run took it). */
export class LeaseLostError extends Error {
  constructor() {
    super('The sync lease was taken over by another run.');
    this.name = 'LeaseLostError';
  }
}

const sameName = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

function syncTypeFor(reason: MailboxSyncMessage['reason'], initial: boolean): SyncType {
  if (reason === 'continuation') return 'Continuation';
  if (initial) return 'Initial';
  return reason === 'manual' ? 'Manual' : 'Scheduled';
}

interface Failure {
  code: string;
  message: string;
  remedy: string;
}

function describeFailure(error: unknown): Failure {
  if (isMailSourceError(error)) {
    return { code: error.code, message: error.message, remedy: remedyFor(error.code) };
  }
  if (isAppError(error)) return { code: error.code, message: error.message, remedy: remedyFor(error.code) };
  return {
    code: 'InternalError',
    message: error instanceof Error ? error.message : String(error),
    remedy: 'An unexpected error stopped the sync; it is logged with the account name. Sync again or report it.',
  };
}

/** The retryable error to throw for a transient failure, or undefined when the failure is not transient. */
function asRetryable(error: unknown): AppError | undefined {
  if (isAppError(error)) return error.retryable ? error : undefined;
  if (isMailSourceError(error)) {
    const kind = classifyMailSourceError(error);
    if (kind === 'transient' || kind === 'deltaExpired' || kind === 'throttled') {
      return new AppError(
        'DEPENDENCY_UNAVAILABLE',
        `Microsoft Graph failed (${error.code}); the sync will be retried.`,
        {
          cause: error,
          details: { graphCode: error.code, graphStatus: error.status },
        },
      );
    }
  }
  return undefined;
}

const isMailboxWide = (error: unknown): boolean => {
  const kind = classifyMailSourceError(error);
  return kind === 'mailbox' || kind === 'authFailure' || kind === 'unauthorized';
};

export async function syncMailbox(
  deps: SyncMailboxDeps,
  message: MailboxSyncMessage,
  settings: SyncSettings,
): Promise<SyncMailboxResult> {
  const { repositories: repos, clock } = deps;
  const log = deps.logger.child({ emailAccount: message.emailAccount, reason: message.reason });
  const startedAt = clock.now();
  const deadline = new Date(startedAt.getTime() + settings.timeBudgetSeconds * 1000);
  const holder = (deps.newRunId ?? randomUUID)();
  const leaseUntil = (): string => new Date(clock.now().getTime() + settings.leaseSeconds * 1000).toISOString();

  const found = await repos.emailAccounts.get(message.emailAccount);
  if (!found) {
    log.warn('Sync requested for an account that does not exist; dropped');
    return { outcome: 'skipped', reason: 'account-missing' };
  }
  if (!found.enabled) return { outcome: 'skipped', reason: 'account-disabled' };
  const principal = await repos.servicePrincipals.get(found.servicePrincipal);
  if (!principal?.enabled) return { outcome: 'skipped', reason: 'principal-disabled' };
  if (found.throttledUntil && Date.parse(found.throttledUntil) > startedAt.getTime()) {
    if (message.reason === 'continuation') {
      // Arrived early: keep the continuation alive until the throttle ends.
      const delay = Math.ceil((Date.parse(found.throttledUntil) - startedAt.getTime()) / 1000);
      await deps.queue.send({ ...message, requestedAt: startedAt.toISOString() }, { visibilityDelaySeconds: delay });
    }
    return { outcome: 'skipped', reason: 'throttled' };
  }

  // ---- Lease
  let account: EmailAccountRecord;
  try {
    account = await repos.emailAccounts.update(found.accountName, (current) => {
      const now = clock.now().getTime();
      if (current.lease && current.lease.holder !== holder && Date.parse(current.lease.expiresAt) > now) {
        return undefined;
      }
      current.lease = { holder, expiresAt: leaseUntil() };
      current.lastSyncStatus = 'In Progress';
      if (current.folderFilter.length === 0) {
        current.folderFilter = DEFAULT_FOLDERS.map((folderName) => ({ folderName, syncEnabled: true }));
      }
      return current;
    });
  } catch (error) {
    if (isAppError(error, 'NOT_FOUND')) return { outcome: 'skipped', reason: 'account-missing' };
    // The account kept changing under us: another writer is busy with it; the next cycle tries again.
    if (conflictReason(error) === 'stale') return { outcome: 'skipped', reason: 'lease-held' };
    throw error;
  }
  if (account.lease?.holder !== holder) {
    log.info('Another run holds the lease; nothing to do');
    return { outcome: 'skipped', reason: 'lease-held' };
  }

  const mailboxKey = `${principal.id}/${account.emailAddress.toLowerCase()}`;
  let invalidateToken: (() => Promise<void>) | undefined;
  const call: GovernedCall = (fn, options) =>
    deps.governor.run(mailboxKey, fn, {
      deadline,
      ...(invalidateToken ? { onUnauthorized: invalidateToken } : {}),
      ...(options?.priority ? { priority: options.priority } : {}),
    });
  const threadCache = new ThreadCache();
  const contactCache = new ContactSightingCache();
  const folders: FolderRunReport[] = [];
  const pastDeadline = (): boolean => clock.now().getTime() >= deadline.getTime();

  /** Checkpoint: the folder's state (and the renewed lease) written with the account's ETag. */
  const saveFolderState = async (folderName: string, state: FolderSyncState, roundCompleted: boolean) => {
    const saved = await repos.emailAccounts.update(account.accountName, (current) => {
      if (current.lease?.holder !== holder) return undefined;
      const entry = current.folderFilter.find((f) => sameName(f.folderName, folderName));
      if (!entry) return current;
      entry.state = state;
      if (roundCompleted) entry.lastSyncTime = clock.now().toISOString();
      current.lease = { holder, expiresAt: leaseUntil() };
      return current;
    });
    if (saved.lease?.holder !== holder) throw new LeaseLostError();
    account = saved;
  };

  const writeLog = async (report: FolderRunReport, folderStartedAt: Date): Promise<void> => {
    folders.push(report);
    try {
      await repos.syncLogs.create({
        emailAccount: account.accountName,
        folderName: report.folderName,
        syncType: report.syncType,
        syncStartTime: folderStartedAt.toISOString(),
        syncEndTime: clock.now().toISOString(),
        status: report.status,
        emailsFetched: report.counters.fetched,
        emailsCreated: report.counters.created,
        emailsUpdated: report.counters.updated,
        emailsSkipped: report.counters.skipped,
        emailsRemoved: report.counters.removed,
        ...(report.errorMessage ? { errorMessage: report.errorMessage.slice(0, 2000) } : {}),
        ...(report.errorCode ? { errorCode: report.errorCode } : {}),
      });
    } catch (error) {
      // A lost log line must not undo or repeat the sync itself.
      log.warn('Could not write the sync log', { folder: report.folderName, error });
    }
  };

  let continueNeeded = false;
  /** The folders not finished yet when the run stops (for the continuation message). */
  let remaining: string[] = [];
  let throttledUntil: Date | undefined;
  let mailboxFailure: Failure | undefined;
  let fatal: unknown;
  let leaseLost = false;

  try {
    // Inside the try: whatever fails from here on, the lease is released and the account updated.
    const source: MailSource = await deps.mailSourceFor(principal);
    invalidateToken = source.invalidateToken?.bind(source);
    const rules: LinkingRule[] = [...account.linkingRules, ...((await deps.globalLinkingRules?.()) ?? [])];

    // ---- Folders: ids from the stored state, resolving only those we do not know yet.
    const enabled = account.folderFilter.filter((f) => f.syncEnabled);
    const wanted = message.reason === 'continuation' ? (message.folders ?? []) : [];
    const selected = wanted.length > 0 ? enabled.filter((f) => wanted.some((w) => sameName(w, f.folderName))) : [];
    const entries = selected.length > 0 ? selected : enabled;
    const resolved = new Map<string, FolderToSync>();
    const unresolvable = new Map<string, Failure>();
    for (const entry of entries) {
      if (entry.state?.folderId)
        resolved.set(entry.folderName.toLowerCase(), { name: entry.folderName, id: entry.state.folderId });
    }
    const resolveNames = async (names: string[]): Promise<void> => {
      let pending = names;
      while (pending.length > 0) {
        try {
          const results: ResolvedFolder[] = await call(() => source.resolveFolders(account.emailAddress, pending));
          results.forEach((r, i) => {
            const name = pending[i] ?? r.name;
            resolved.set(name.toLowerCase(), {
              name,
              id: r.id,
              ...(r.totalItemCount !== undefined ? { totalItemCount: r.totalItemCount } : {}),
            });
          });
          return;
        } catch (error) {
          const missing = isMailSourceError(error) && isFolderMissing(error) ? error.folderName : undefined;
          if (missing === undefined || !pending.some((n) => sameName(n, missing))) throw error;
          unresolvable.set(missing.toLowerCase(), describeFailure(error));
          pending = pending.filter((n) => !sameName(n, missing));
        }
      }
    };
    await resolveNames(entries.filter((e) => !resolved.has(e.folderName.toLowerCase())).map((e) => e.folderName));

    for (const [index, entry] of entries.entries()) {
      remaining = entries.slice(index).map((e) => e.folderName);
      if (pastDeadline()) {
        continueNeeded = true;
        break;
      }
      const key = entry.folderName.toLowerCase();
      const folderStartedAt = clock.now();
      const initialAtStart = !entry.state?.deltaLink;
      const unresolved = unresolvable.get(key);
      if (unresolved) {
        await writeLog(
          {
            folderName: entry.folderName,
            status: 'Failed',
            syncType: syncTypeFor(message.reason, initialAtStart),
            counters: emptyCounters(),
            outcome: 'failed',
            errorCode: unresolved.code,
            errorMessage: `${unresolved.message} ${unresolved.remedy}`,
          },
          folderStartedAt,
        );
        continue;
      }
      const counters = emptyCounters();
      let result: FolderSyncResult | undefined;
      let folderError: unknown;
      let folder = resolved.get(key);
      for (let attempt = 0; attempt < 2 && folder && !result; attempt++) {
        const current = account.folderFilter.find((f) => sameName(f.folderName, entry.folderName)) as FolderFilterEntry;
        try {
          result = await syncFolder({
            deps: {
              communications: repos.communications,
              contacts: repos.contacts,
              blobs: deps.blobs,
              clock,
              logger: log,
              ...(deps.threadLookup ? { threadLookup: deps.threadLookup } : {}),
            },
            settings: {
              pageSize: settings.pageSize,
              select: settings.select ?? MESSAGE_SELECT,
              deadline,
              attachmentsContainer: settings.attachmentsContainer,
              maxInlineBodyBytes: settings.maxInlineBodyBytes ?? DEFAULT_MAX_INLINE_BODY_BYTES,
              attachmentConcurrency: Math.min(
                MAX_CONCURRENCY_PER_MAILBOX,
                settings.maxConcurrencyPerMailbox ?? MAX_CONCURRENCY_PER_MAILBOX,
              ),
              ...(settings.pipelineDepth !== undefined ? { pipelineDepth: settings.pipelineDepth } : {}),
              ...(settings.inlineAttachmentsMaxBytes !== undefined
                ? { inlineAttachmentsMaxBytes: settings.inlineAttachmentsMaxBytes }
                : {}),
            },
            account,
            folder,
            state: current.state,
            source,
            call,
            linkingRules: rules,
            threadCache,
            contactCache,
            counters,
            checkpoint: (state, done) => saveFolderState(entry.folderName, state, done),
          });
          folderError = undefined;
        } catch (error) {
          folderError = error;
          // A stored folder id that no longer exists (folder deleted and re-created, or renamed): resolve the
          // name again once; a new id starts a fresh round.
          if (attempt === 0 && isFolderMissing(error) && current.state?.folderId) {
            log.warn('A stored folder id no longer exists; resolving the folder name again', {
              folder: entry.folderName,
            });
            resolved.delete(key);
            try {
              await resolveNames([entry.folderName]);
            } catch (resolveError) {
              folderError = resolveError;
            }
            folder = resolved.get(key);
            if (unresolvable.has(key)) folderError = error;
            continue;
          }
          break;
        }
      }
      const syncType = syncTypeFor(message.reason, result?.initial ?? initialAtStart);

      if (result) {
        await writeLog(
          {
            folderName: entry.folderName,
            status: result.outcome === 'complete' ? 'Success' : 'Partial Success',
            syncType,
            counters,
            outcome: result.outcome,
            ...(result.resyncs ? { resyncs: result.resyncs } : {}),
          },
          folderStartedAt,
        );
        if (result.outcome === 'continue') {
          continueNeeded = true;
          break;
        }
        continue;
      }

      const error = folderError;
      if (error instanceof LeaseLostError) {
        leaseLost = true;
        break;
      }
      if (isMailboxThrottled(error)) {
        throttledUntil = error.retryAt;
        await writeLog(
          {
            folderName: entry.folderName,
            status: 'Partial Success',
            syncType,
            counters,
            outcome: 'continue',
            errorCode: 'MailboxThrottled',
            errorMessage: error.message,
          },
          folderStartedAt,
        );
        break;
      }
      const failure = describeFailure(error);
      await writeLog(
        {
          folderName: entry.folderName,
          status: 'Failed',
          syncType,
          counters,
          outcome: 'failed',
          errorCode: failure.code,
          errorMessage: failure.message,
        },
        folderStartedAt,
      );
      if (isFolderMissing(error)) continue; // only this folder
      if (isMailboxWide(error)) mailboxFailure = failure;
      else fatal = error;
      break;
    }
  } catch (error) {
    // Failures before any folder ran (resolving folder names) or while writing logs.
    if (error instanceof LeaseLostError) leaseLost = true;
    else if (isMailboxThrottled(error)) throttledUntil = error.retryAt;
    else if (isMailboxWide(error)) mailboxFailure = describeFailure(error);
    else fatal = error;
  }

  if (leaseLost) {
    log.warn('The lease was lost mid-run; the other run continues');
    return { outcome: 'skipped', reason: 'lease-lost' };
  }

  // ---- Account status and lease release (one write).
  const now = clock.now();
  const failedFolders = folders.filter((f) => f.status === 'Failed');
  const retryable = fatal === undefined ? undefined : asRetryable(fatal);
  const fatalFailure = fatal === undefined ? undefined : describeFailure(fatal);
  let status: SyncStatus;
  let error: Failure | undefined;
  if (mailboxFailure) {
    status = 'Failed';
    error = mailboxFailure;
  } else if (fatalFailure) {
    status = 'Failed';
    error = fatalFailure;
  } else if (throttledUntil) {
    status = 'In Progress';
    error = {
      code: 'MailboxThrottled',
      message: `Microsoft Graph is throttling this mailbox; the sync resumes at ${throttledUntil.toISOString()}.`,
      remedy: 'Nothing to do: the sync resumes on its own.',
    };
  } else if (continueNeeded) {
    status = 'In Progress';
  } else if (failedFolders.length === 0) {
    status = 'Success';
  } else {
    status = failedFolders.length === folders.length ? 'Failed' : 'Partial Success';
    const first = failedFolders[0] as FolderRunReport;
    const code = first.errorCode ?? 'FolderFailed';
    error = {
      code,
      message: `Folder(s) failed: ${failedFolders.map((f) => `${f.folderName} (${f.errorCode ?? 'error'})`).join(', ')}.`,
      remedy: remedyFor(code),
    };
  }

  try {
    await repos.emailAccounts.update(account.accountName, (current) => {
      if (current.lease?.holder !== holder) return undefined;
      delete current.lease;
      current.lastSyncStatus = status;
      if (status === 'Success' || status === 'Partial Success') current.lastSyncTime = now.toISOString();
      if (error) {
        current.syncErrorMessage = error.message.slice(0, 2000);
        current.syncErrorCode = error.code;
        current.syncErrorRemedy = error.remedy;
      } else {
        delete current.syncErrorMessage;
        delete current.syncErrorCode;
        delete current.syncErrorRemedy;
      }
      if (throttledUntil) current.throttledUntil = throttledUntil.toISOString();
      else delete current.throttledUntil;
      return current;
    });
  } catch (releaseError) {
    // The lease expires on its own; the outcome of the run stands.
    log.warn('Could not release the lease', { error: releaseError });
  }

  // ---- Continuation (after the release, so the continuation can take the lease).
  const continuation = (): MailboxSyncMessage => ({
    emailAccount: account.accountName,
    reason: 'continuation',
    requestedAt: now.toISOString(),
    ...(remaining.length > 0 ? { folders: remaining } : {}),
  });
  if (throttledUntil && !mailboxFailure && !fatal) {
    const delay = Math.max(1, Math.ceil((throttledUntil.getTime() - now.getTime()) / 1000));
    await deps.queue.send(continuation(), { visibilityDelaySeconds: Math.min(delay, 7 * 24 * 3600 - 1) });
    log.info('Mailbox throttled; continuation enqueued', { retryAt: throttledUntil.toISOString() });
    return { outcome: 'throttled', retryAt: throttledUntil.toISOString(), folders };
  }
  if (continueNeeded && !mailboxFailure && !fatal) {
    await deps.queue.send(continuation());
    log.info('Time budget used; continuation enqueued');
    return { outcome: 'continued', folders };
  }
  if (mailboxFailure) {
    log.warn('Mailbox sync failed', { code: mailboxFailure.code });
    return { outcome: 'failed', ...mailboxFailure, folders };
  }
  if (fatal !== undefined) {
    if (retryable) {
      log.warn('Transient failure; the queue retries from the checkpoint', { code: retryable.code, error: fatal });
      throw retryable;
    }
    log.error('Mailbox sync failed unexpectedly', { error: fatal });
    return { outcome: 'failed', ...(fatalFailure as Failure), folders };
  }
  return { outcome: 'completed', status, folders };
}
