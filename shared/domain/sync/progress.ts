/**
 * Sync progress per folder, read from the account (the folder state is checkpointed after every page), so a
 * large initial sync never looks stuck: messages synced so far in the current round and, where Graph gave the
 * folder's item count, a percentage and an ETA. (With `syncFromDate` the count covers the whole folder, so the
 * percentage is a lower bound.)
 */
import type { EmailAccountRecord } from '../records';
import { DEFAULT_FOLDERS } from '../records';

export type FolderPhase = 'not-started' | 'initial' | 'incremental-round' | 'up-to-date';

export interface FolderProgress {
  folderName: string;
  syncEnabled: boolean;
  phase: FolderPhase;
  /** Messages processed in the current (or last) round. */
  processed: number;
  estimatedTotal?: number;
  /** 0–100; only while an initial round runs and Graph gave a total. */
  percent?: number;
  /** Seconds, from the rate so far; only with a percentage. */
  etaSeconds?: number;
  lastSyncTime?: string;
}

export interface AccountSyncProgress {
  accountName: string;
  lastSyncStatus?: string;
  lastSyncTime?: string;
  syncErrorMessage?: string;
  syncErrorCode?: string;
  syncErrorRemedy?: string;
  throttledUntil?: string;
  running: boolean;
  folders: FolderProgress[];
}

export function accountSyncProgress(account: EmailAccountRecord, now: Date): AccountSyncProgress {
  const entries =
    account.folderFilter.length > 0
      ? account.folderFilter
      : DEFAULT_FOLDERS.map((folderName) => ({
          folderName,
          syncEnabled: true,
          state: undefined,
          lastSyncTime: undefined,
        }));
  const folders = entries.map((entry): FolderProgress => {
    const state = entry.state;
    const progress: FolderProgress = {
      folderName: entry.folderName,
      syncEnabled: entry.syncEnabled,
      phase: 'not-started',
      processed: state?.processed ?? 0,
    };
    if (entry.lastSyncTime) progress.lastSyncTime = entry.lastSyncTime;
    if (state?.estimatedTotal !== undefined) progress.estimatedTotal = state.estimatedTotal;
    if (!state) return progress;
    if (state.deltaLink && !state.nextLink) progress.phase = 'up-to-date';
    else if (state.deltaLink) progress.phase = 'incremental-round';
    else progress.phase = state.nextLink || state.processed > 0 ? 'initial' : 'not-started';
    if (progress.phase === 'initial' && state.estimatedTotal) {
      const ratio = Math.min(1, state.processed / state.estimatedTotal);
      progress.percent = Math.min(99, Math.floor(ratio * 100));
      const started = state.roundStartedAt ? Date.parse(state.roundStartedAt) : NaN;
      const elapsed = (now.getTime() - started) / 1000;
      if (!Number.isNaN(started) && state.processed > 0 && elapsed > 0) {
        const remaining = Math.max(0, state.estimatedTotal - state.processed);
        progress.etaSeconds = Math.round((elapsed / state.processed) * remaining);
      }
    }
    return progress;
  });
  const result: AccountSyncProgress = {
    accountName: account.accountName,
    running: account.lease !== undefined && Date.parse(account.lease.expiresAt) > now.getTime(),
    folders,
  };
  if (account.lastSyncStatus) result.lastSyncStatus = account.lastSyncStatus;
  if (account.lastSyncTime) result.lastSyncTime = account.lastSyncTime;
  if (account.syncErrorMessage) result.syncErrorMessage = account.syncErrorMessage;
  if (account.syncErrorCode) result.syncErrorCode = account.syncErrorCode;
  if (account.syncErrorRemedy) result.syncErrorRemedy = account.syncErrorRemedy;
  if (account.throttledUntil) result.throttledUntil = account.throttledUntil;
  return result;
}
