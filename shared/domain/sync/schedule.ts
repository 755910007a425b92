/**
 * The `mailbox-sync` queue message and the fan-out (`schedule-mailbox-sync` timer): one message per enabled
 * account whose service principal is enabled, skipping accounts that hold a live lease (a run is in progress; it
 * enqueues its own continuation) or are paused by throttling (`throttledUntil`; the throttled run requeued
 * itself with a visibility delay). Messages are sent in concurrent batches while accounts are still being read.
 */
import { z } from 'zod';
import type { EmailAccountRecord } from '../records';
import { idForName, isoDateTime } from '../records';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { EmailAccountRepository, ServicePrincipalRepository } from '../ports/repositories';
import type { WorkQueue } from '../ports/work-queue';
import { fieldErrorsFromIssues, type FieldError } from '../../errors';

export const SYNC_REASONS = ['scheduled', 'manual', 'continuation'] as const;
export type SyncReason = (typeof SYNC_REASONS)[number];

/** The queue message. Unknown extra fields are ignored (older/newer senders stay compatible). */
export const mailboxSyncMessage = z.object({
  /** The account's name. */
  emailAccount: z.string().trim().min(1).max(200),
  reason: z.enum(SYNC_REASONS),
  requestedAt: isoDateTime,
  /**
   * Continuations only: the folders still to do, in order (the one that ran out of time first). A chain of
   * continuations therefore always finishes: each run works only on what the previous one left.
   */
  folders: z.array(z.string().min(1).max(400)).max(100).optional(),
});
export type MailboxSyncMessage = z.infer<typeof mailboxSyncMessage>;

export type ParsedSyncMessage = { ok: true; message: MailboxSyncMessage } | { ok: false; errors: FieldError[] };

/**
 * Validates a queue message (the host hands over parsed JSON, or a string when it is not JSON). Malformed
 * messages are for the worker to log and drop (never retry: they will never become valid).
 */
export function parseMailboxSyncMessage(raw: unknown): ParsedSyncMessage {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return { ok: false, errors: [{ field: '(root)', message: 'must be a JSON object' }] };
    }
  } else if (Buffer.isBuffer(raw)) {
    return parseMailboxSyncMessage(raw.toString('utf8'));
  }
  const parsed = mailboxSyncMessage.safeParse(value);
  return parsed.success
    ? { ok: true, message: parsed.data }
    : { ok: false, errors: fieldErrorsFromIssues(parsed.error.issues) };
}

/** A manual sync request (the API's "sync now"). */
export async function requestMailboxSync(
  queue: WorkQueue<MailboxSyncMessage>,
  clock: Clock,
  emailAccount: string,
  reason: SyncReason = 'manual',
): Promise<MailboxSyncMessage> {
  const message: MailboxSyncMessage = { emailAccount, reason, requestedAt: clock.now().toISOString() };
  await queue.send(message);
  return message;
}

export interface ScheduleDeps {
  emailAccounts: Pick<EmailAccountRepository, 'listAll'>;
  servicePrincipals: Pick<ServicePrincipalRepository, 'listAll'>;
  queue: WorkQueue<MailboxSyncMessage>;
  clock: Clock;
  logger: Logger;
}

export interface ScheduleOptions {
  /** Messages handed to `sendMany` at once (default 500). */
  batchSize?: number;
  /** Concurrent sends within a batch (default 64). */
  concurrency?: number;
  reason?: SyncReason;
}

export interface ScheduleResult {
  enqueued: number;
  skippedLeased: number;
  skippedThrottled: number;
  skippedPrincipalDisabled: number;
  durationMs: number;
}

export const hasLiveLease = (account: Pick<EmailAccountRecord, 'lease'>, now: Date): boolean =>
  account.lease !== undefined && Date.parse(account.lease.expiresAt) > now.getTime();

export const isThrottledAt = (account: Pick<EmailAccountRecord, 'throttledUntil'>, now: Date): boolean =>
  account.throttledUntil !== undefined && Date.parse(account.throttledUntil) > now.getTime();

export async function scheduleMailboxSync(deps: ScheduleDeps, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  const started = deps.clock.now();
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const concurrency = Math.max(1, options.concurrency ?? 64);
  const reason = options.reason ?? 'scheduled';
  const requestedAt = started.toISOString();

  const enabledPrincipals = new Set<string>();
  for await (const principal of deps.servicePrincipals.listAll({ enabled: true })) {
    enabledPrincipals.add(idForName(principal.servicePrincipalName));
  }

  const result: ScheduleResult = {
    enqueued: 0,
    skippedLeased: 0,
    skippedThrottled: 0,
    skippedPrincipalDisabled: 0,
    durationMs: 0,
  };
  let batch: MailboxSyncMessage[] = [];
  // One batch is sent while the next is read (never more than one send in flight, so memory stays bounded).
  let sending: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    const toSend = batch;
    batch = [];
    await sending;
    sending = deps.queue.sendMany(toSend, { concurrency }).then(() => {
      result.enqueued += toSend.length;
    });
    // Surface a failed send at the next await without an unhandled rejection in between.
    sending.catch(() => undefined);
  };

  for await (const account of deps.emailAccounts.listAll({ enabled: true })) {
    const now = deps.clock.now();
    if (!enabledPrincipals.has(idForName(account.servicePrincipal))) {
      result.skippedPrincipalDisabled++;
      continue;
    }
    if (hasLiveLease(account, now)) {
      result.skippedLeased++;
      continue;
    }
    if (isThrottledAt(account, now)) {
      result.skippedThrottled++;
      continue;
    }
    batch.push({ emailAccount: account.accountName, reason, requestedAt });
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  await sending;
  result.durationMs = deps.clock.now().getTime() - started.getTime();
  deps.logger.info('Mailbox sync scheduled', { ...result });
  return result;
}
