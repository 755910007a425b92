/**
 * Sync progress of the demo mailboxes, from `GET /api/sync-status` snapshots: one line per mailbox with
 * messages synced, rate and ETA. On a terminal the lines are redrawn in place; otherwise (CI, a pipe) every
 * mailbox's line is printed every couple of seconds and once more when it finishes.
 */
import type { AccountSyncStatus } from './clients';

export type MailboxState = 'waiting' | 'syncing' | 'retrying' | 'done' | 'failed';

export interface MailboxProgress {
  accountName: string;
  label: string;
  state: MailboxState;
  /** Messages processed so far in the running (first) round, all synced folders together. */
  synced: number;
  /** What the folders hold (Graph's counts, else what the demo seeded). */
  total: number;
  folders: number;
  ratePerSecond?: number;
  etaSeconds?: number;
  /** Seconds from the first sign of work to the end. */
  durationSeconds?: number;
  /** `Success`, `Partial Success`, or the error code. */
  status?: string;
  error?: string;
}

/** A `Failed` status that does not change for this long is final (retryable failures are retried by the queue first). */
const FAILED_IS_FINAL_AFTER_MS = 45_000;

interface Tracked {
  accountName: string;
  label: string;
  plannedTotal: number;
  plannedFolders: number;
  startedAt?: number;
  finishedAt?: number;
  failingSince?: number;
  last: MailboxProgress;
}

/** Turns successive sync-status snapshots into per-mailbox progress (rate and ETA included). */
export class ProgressTracker {
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    mailboxes: ReadonlyArray<{ accountName: string; label: string; plannedTotal: number; plannedFolders: number }>,
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const m of mailboxes) {
      this.tracked.set(m.accountName.toLowerCase(), {
        ...m,
        last: {
          accountName: m.accountName,
          label: m.label,
          state: 'waiting',
          synced: 0,
          total: m.plannedTotal,
          folders: m.plannedFolders,
        },
      });
    }
  }

  update(statuses: readonly AccountSyncStatus[]): MailboxProgress[] {
    const now = this.now();
    for (const status of statuses) {
      const t = this.tracked.get(status.accountName.toLowerCase());
      if (!t || t.last.state === 'done' || t.last.state === 'failed') continue;
      t.last = this.next(t, status, now);
    }
    return this.snapshot();
  }

  snapshot(): MailboxProgress[] {
    return [...this.tracked.values()].map((t) => t.last);
  }

  allFinished(): boolean {
    return [...this.tracked.values()].every((t) => t.last.state === 'done' || t.last.state === 'failed');
  }

  private next(t: Tracked, status: AccountSyncStatus, now: number): MailboxProgress {
    const folders = status.folders.filter((f) => f.syncEnabled);
    const synced = folders.reduce((sum, f) => sum + f.processed, 0);
    const reported = folders.reduce((sum, f) => sum + (f.estimatedTotal ?? 0), 0);
    const allReported = folders.length > 0 && folders.every((f) => f.estimatedTotal !== undefined);
    const total = Math.max(synced, allReported ? reported : Math.max(reported, t.plannedTotal));
    const busy = status.syncing || status.lastSyncStatus === 'In Progress' || synced > 0;
    if (busy && t.startedAt === undefined) t.startedAt = now;

    const progress: MailboxProgress = {
      accountName: t.accountName,
      label: t.label,
      state: 'waiting',
      synced,
      total,
      folders: folders.length || t.plannedFolders,
    };
    const elapsedSeconds = t.startedAt === undefined ? 0 : (now - t.startedAt) / 1000;
    if (elapsedSeconds > 0.5 && synced > 0) {
      progress.ratePerSecond = synced / elapsedSeconds;
      progress.etaSeconds = Math.max(0, (total - synced) / progress.ratePerSecond);
    }

    const finishedOk =
      !status.syncing && (status.lastSyncStatus === 'Success' || status.lastSyncStatus === 'Partial Success');
    if (finishedOk) {
      t.finishedAt = now;
      progress.state = 'done';
      progress.status = status.lastSyncStatus;
      progress.total = synced;
      delete progress.etaSeconds;
      if (status.lastSyncStatus === 'Partial Success' && status.syncErrorMessage)
        progress.error = status.syncErrorMessage;
    } else if (!status.syncing && status.lastSyncStatus === 'Failed') {
      t.failingSince ??= now;
      progress.status = status.syncErrorCode ?? 'Failed';
      progress.error = [status.syncErrorMessage, status.syncErrorRemedy].filter(Boolean).join(' ');
      if (now - t.failingSince >= FAILED_IS_FINAL_AFTER_MS) {
        t.finishedAt = now;
        progress.state = 'failed';
      } else {
        progress.state = 'retrying';
      }
    } else {
      delete t.failingSince;
      if (busy) progress.state = 'syncing';
    }
    if (t.finishedAt !== undefined && t.startedAt !== undefined) {
      progress.durationSeconds = (t.finishedAt - t.startedAt) / 1000;
    }
    return progress;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

const number = new Intl.NumberFormat('en-US');
export const formatCount = (n: number): string => number.format(Math.round(n));

export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

function bar(fraction: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return '#'.repeat(filled) + '.'.repeat(width - filled);
}

/** `  adele@contoso…  [#########...........]   812 / 1,400  58%  210 msg/s  ETA 3 s` */
export function formatProgressLine(p: MailboxProgress, labelWidth: number): string {
  const fraction = p.total > 0 ? Math.min(1, p.synced / p.total) : p.state === 'done' ? 1 : 0;
  const counts = `${formatCount(p.synced).padStart(5)} / ${formatCount(p.total).padEnd(5)}`;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const rate = p.ratePerSecond !== undefined ? `${formatCount(p.ratePerSecond).padStart(4)} msg/s` : ' '.repeat(10);
  let tail: string;
  switch (p.state) {
    case 'waiting':
      tail = 'queued';
      break;
    case 'syncing':
      tail = p.etaSeconds !== undefined ? `ETA ${formatSeconds(p.etaSeconds)}` : 'syncing';
      break;
    case 'retrying':
      tail = `retrying after ${p.status ?? 'an error'}`;
      break;
    case 'done':
      tail = `done in ${formatSeconds(p.durationSeconds ?? 0)}${p.status === 'Partial Success' ? ' (partial)' : ''}`;
      break;
    case 'failed':
      tail = `FAILED: ${p.status ?? 'error'}`;
      break;
  }
  return `  ${p.label.padEnd(labelWidth)}  [${bar(fraction, 20)}] ${counts} ${percent}  ${rate}  ${tail}`;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

export interface ProgressRendererOptions {
  /** Redraw in place (a terminal) or print periodically (CI, pipes). */
  tty: boolean;
  write: (text: string) => void;
  /** Non-TTY: how often every line is printed (default 2 s). */
  intervalMs?: number;
  now?: () => number;
}

export class ProgressRenderer {
  private drawnLines = 0;
  private lastPrintAt = -Infinity;
  private readonly printedFinal = new Set<string>();

  constructor(private readonly options: ProgressRendererOptions) {}

  render(progress: readonly MailboxProgress[], final = false): void {
    const labelWidth = Math.max(...progress.map((p) => p.label.length), 10);
    if (this.options.tty) {
      const lines = progress.map((p) => formatProgressLine(p, labelWidth));
      // Back to the first line drawn last time, then overwrite each line (clearing what was longer).
      const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : '';
      this.options.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(''));
      this.drawnLines = lines.length;
      return;
    }
    const now = (this.options.now ?? (() => performance.now()))();
    const periodic = now - this.lastPrintAt >= (this.options.intervalMs ?? 2000);
    const out: string[] = [];
    for (const p of progress) {
      const finished = p.state === 'done' || p.state === 'failed';
      const firstTimeFinished = finished && !this.printedFinal.has(p.accountName);
      if (firstTimeFinished) this.printedFinal.add(p.accountName);
      if (firstTimeFinished || (periodic && !finished) || (final && !finished)) {
        out.push(formatProgressLine(p, labelWidth));
      }
    }
    if (periodic) this.lastPrintAt = now;
    if (out.length > 0) this.options.write(out.join('\n') + '\n');
  }
}
