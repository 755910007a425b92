/**
 * "Sync now" and sync status behind the HTTP API (spec 2.4 `trigger_manual_sync`, `get_sync_status`).
 *
 * A sync request is one `mailbox-sync` queue message `{ emailAccount, reason: 'manual', requestedAt }`
 * (`requestMailboxSync` of the sync domain). Requests the worker would only skip are answered at once
 * instead of queued: a disabled account (409), a missing or disabled service principal (424), a mailbox
 * Microsoft Graph is throttling (429 with Retry-After), and a sync already running (200, nothing queued: the
 * running sync carries on and queues its own continuation).
 *
 * Status is read from the account (the sync engine checkpoints folder progress after every page) through the
 * sync domain's `accountSyncProgress`, plus the 5 newest sync logs.
 *
 * Access: sync requests need the right to change the account (`canEditEmailAccount`); "sync all" covers the
 * caller's own accounts (whose `user` is the caller). Status follows the accounts' visibility
 * (`canReadEmailAccount`, `listEmailAccounts`).
 */
import { AppError } from '../errors';
import type { Clock } from '../domain/ports/clock';
import type { EmailAccountFilter, Page, PageRequest, Repositories } from '../domain/ports/repositories';
import type { WorkQueue } from '../domain/ports/work-queue';
import { idForName, type EmailAccountRecord, type ServicePrincipalRecord, type SyncLogRecord } from '../domain/records';
import { accountSyncProgress, type FolderPhase } from '../domain/sync/progress';
import { hasLiveLease, isThrottledAt, requestMailboxSync, type MailboxSyncMessage } from '../domain/sync/schedule';
import { mapWithConcurrency } from '../domain/sync/concurrency';
import type { Principal } from '../http/auth';
import { canEditEmailAccount } from '../http/authorization';
import { getEditableAccount, getVisibleAccount, listEmailAccounts } from './email-accounts';
import type { SyncSkipReason } from './schemas';

export interface SyncControlDeps {
  repositories: Repositories;
  clock: Clock;
  queue: WorkQueue<MailboxSyncMessage>;
}

/** How many sync logs a status shows. */
export const RECENT_LOGS = 5;
/** Status lookups (one sync-log query each) in flight at once for a list. */
const STATUS_CONCURRENCY = 8;
/** Sends in flight at once for "sync all my accounts". */
const SEND_CONCURRENCY = 16;

export const accountStatusUrl = (accountName: string): string =>
  `/api/email-accounts/${encodeURIComponent(accountName)}/sync-status`;
export const SYNC_STATUS_URL = '/api/sync-status';

// ---------------------------------------------------------------------------------------------------------
// Sync requests

export interface SyncRequested {
  queued: boolean;
  syncing: boolean;
  statusUrl: string;
}

export interface SyncAllRequested {
  queued: number;
  accounts: string[];
  skipped: { accountName: string; reason: SyncSkipReason; message: string }[];
  statusUrl: string;
}

type Blocker =
  { reason: 'principal-disabled'; error: AppError } | { reason: 'throttled'; error: AppError } | { reason: 'syncing' };

/** Why a sync of this enabled account would do nothing now, if it would. */
function blockerFor(
  account: EmailAccountRecord,
  servicePrincipal: ServicePrincipalRecord | undefined,
  now: Date,
): Blocker | undefined {
  if (!servicePrincipal?.enabled) {
    return { reason: 'principal-disabled', error: principalUnavailable(account, servicePrincipal) };
  }
  if (isThrottledAt(account, now)) {
    const throttledUntil = account.throttledUntil as string;
    const retryAfterSeconds = Math.max(1, Math.ceil((Date.parse(throttledUntil) - now.getTime()) / 1000));
    const error = new AppError(
      'RATE_LIMITED',
      `Microsoft Graph is throttling this mailbox; sync resumes by itself after ${throttledUntil}.`,
      { details: { reason: 'throttled', throttledUntil, retryAfterSeconds } },
    );
    return { reason: 'throttled', error };
  }
  if (hasLiveLease(account, now)) return { reason: 'syncing' };
  return undefined;
}

/** CREDENTIAL_REJECTED (424): the worker cannot sync through a missing or disabled principal. */
function principalUnavailable(
  account: EmailAccountRecord,
  servicePrincipal: ServicePrincipalRecord | undefined,
): AppError {
  const name = servicePrincipal?.servicePrincipalName ?? account.servicePrincipal;
  return new AppError(
    'CREDENTIAL_REJECTED',
    servicePrincipal
      ? `Service principal "${name}" is disabled, so "${account.accountName}" cannot sync.`
      : `Service principal "${name}" does not exist, so "${account.accountName}" cannot sync.`,
    {
      details: {
        servicePrincipal: name,
        tokenErrorCode: servicePrincipal ? 'PRINCIPAL_DISABLED' : 'PRINCIPAL_NOT_FOUND',
        remedy: servicePrincipal
          ? 'A System Manager must fix the service principal (Test connection shows what is wrong) and enable it again.'
          : 'Link the email account to an existing service principal.',
      },
    },
  );
}

/**
 * Queues a sync of one account. NOT_FOUND when the caller may not see it, FORBIDDEN when they may see but
 * not change it, CONFLICT (`account-disabled`) when sync is turned off, CREDENTIAL_REJECTED / RATE_LIMITED
 * as above; `{ queued: false, syncing: true }` while a sync runs.
 */
export async function requestAccountSync(
  deps: SyncControlDeps,
  principal: Principal,
  accountName: string,
): Promise<SyncRequested> {
  const account = await getEditableAccount(deps.repositories, principal, accountName);
  const statusUrl = accountStatusUrl(account.accountName);
  if (!account.enabled) {
    throw new AppError(
      'CONFLICT',
      `Sync is turned off for "${account.accountName}"; enable the account (PATCH with "enabled": true) first.`,
      { details: { reason: 'account-disabled' } },
    );
  }
  const servicePrincipal = await deps.repositories.servicePrincipals.get(account.servicePrincipal);
  const blocker = blockerFor(account, servicePrincipal, deps.clock.now());
  if (blocker?.reason === 'syncing') return { queued: false, syncing: true, statusUrl };
  if (blocker) throw blocker.error;
  await requestMailboxSync(deps.queue, deps.clock, account.accountName, 'manual');
  return { queued: true, syncing: false, statusUrl };
}

/** The caller's own accounts (`user` is the caller) that they may change. */
function ownAccountFilter(principal: Principal): EmailAccountFilter {
  return { user: principal.username, ...(principal.isSystemManager ? {} : { accountType: 'User Mailbox' }) };
}

/** Queues a sync of each of the caller's enabled accounts that can sync now; says why the others were not. */
export async function requestOwnAccountsSync(deps: SyncControlDeps, principal: Principal): Promise<SyncAllRequested> {
  const accounts: EmailAccountRecord[] = [];
  for await (const account of deps.repositories.emailAccounts.listAll({
    ...ownAccountFilter(principal),
    enabled: true,
  })) {
    if (canEditEmailAccount(principal, account)) accounts.push(account);
  }
  const principals = new Map<string, ServicePrincipalRecord | undefined>();
  for (const id of new Set(accounts.map((account) => idForName(account.servicePrincipal)))) {
    principals.set(id, await deps.repositories.servicePrincipals.get(id));
  }
  const now = deps.clock.now();
  const requestedAt = now.toISOString();
  const messages: MailboxSyncMessage[] = [];
  const skipped: SyncAllRequested['skipped'] = [];
  for (const account of accounts) {
    const blocker = blockerFor(account, principals.get(idForName(account.servicePrincipal)), now);
    if (blocker) {
      const message = blocker.reason === 'syncing' ? 'A sync is already running.' : blocker.error.message;
      skipped.push({ accountName: account.accountName, reason: blocker.reason, message });
    } else {
      messages.push({ emailAccount: account.accountName, reason: 'manual', requestedAt });
    }
  }
  await deps.queue.sendMany(messages, { concurrency: SEND_CONCURRENCY });
  return {
    queued: messages.length,
    accounts: messages.map((m) => m.emailAccount),
    skipped,
    statusUrl: SYNC_STATUS_URL,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Status

export interface FolderSyncStatus {
  folderName: string;
  syncEnabled: boolean;
  phase: FolderPhase;
  initialSyncComplete: boolean;
  lastSyncTime?: string;
  processed: number;
  estimatedTotal?: number;
  percent?: number;
  etaSeconds?: number;
}

export interface SyncStatus {
  accountName: string;
  accountType: EmailAccountRecord['accountType'];
  enabled: boolean;
  lastSyncTime?: string;
  lastSyncStatus?: EmailAccountRecord['lastSyncStatus'];
  syncErrorMessage?: string;
  syncErrorCode?: string;
  syncErrorRemedy?: string;
  throttledUntil?: string;
  syncing: boolean;
  folders: FolderSyncStatus[];
  recentLogs: SyncLogRecord[];
}

async function statusOf(repositories: Repositories, account: EmailAccountRecord, now: Date): Promise<SyncStatus> {
  const { running, folders, lastSyncStatus: _status, ...progress } = accountSyncProgress(account, now);
  const logs = await repositories.syncLogs.listForAccount(account.accountName, { limit: RECENT_LOGS });
  return {
    ...progress,
    accountType: account.accountType,
    enabled: account.enabled,
    ...(account.lastSyncStatus ? { lastSyncStatus: account.lastSyncStatus } : {}),
    syncing: running,
    folders: folders.map((folder) => ({
      ...folder,
      // A completed round left a delta link: the folder's first full sync is done.
      initialSyncComplete: folder.phase === 'up-to-date' || folder.phase === 'incremental-round',
    })),
    recentLogs: logs.items,
  };
}

/** One account's sync status (NOT_FOUND when the caller may not see it). */
export async function getAccountSyncStatus(
  repositories: Repositories,
  clock: Clock,
  principal: Principal,
  accountName: string,
): Promise<SyncStatus> {
  const account = await getVisibleAccount(repositories, principal, accountName);
  return statusOf(repositories, account, clock.now());
}

/**
 * The sync status of each account the caller may see (as `GET /api/email-accounts`: System Managers every
 * account, Inbox Users their own and the shared mailboxes, everyone else their own), a page at a time.
 */
export async function listSyncStatus(
  repositories: Repositories,
  clock: Clock,
  principal: Principal,
  page: PageRequest,
): Promise<Page<SyncStatus>> {
  const result = await listEmailAccounts(repositories, principal, page, {});
  const now = clock.now();
  const items = await mapWithConcurrency(result.items, STATUS_CONCURRENCY, (account) =>
    statusOf(repositories, account, now),
  );
  return { items, continuationToken: result.continuationToken };
}
