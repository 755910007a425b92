/**
 * The throttle governor: the **only** retry layer for Graph calls (the Graph adapter must not retry, and the
 * Graph client's RetryHandler must be removed, so one throttled call never turns into dozens).
 *
 * Per mailbox key (use `${servicePrincipalId}/${mailbox}`: Graph throttles per app per mailbox):
 * - a semaphore: at most `maxConcurrency` (≤ 4, Outlook's limit) calls in flight in this process. Across
 *   processes the account lease guarantees one sync run per mailbox, so this bounds the mailbox globally.
 * - on 429/503: wait `Retry-After` (or `defaultRetryAfterSeconds`) and retry **once**; a second throttle, or a
 *   wait that would end after the caller's deadline, throws `MailboxThrottledError` carrying `retryAt` (the
 *   caller checkpoints, records `throttledUntil` and requeues with a visibility delay). While a key is
 *   throttled, new calls wait for (or fail fast past the deadline on) the same `retryAt` instead of sending
 *   requests that would only be throttled again.
 * - on 401: call `onUnauthorized` (drop the cached token) once, then retry once.
 * Everything else propagates unchanged. No SDK imports; timers only through the injected `sleep`.
 */
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import { silentLogger } from '../ports/logger';
import { isMailSourceError, isThrottled, isUnauthorized } from '../ports/mail-source';

/** Graph's documented per-mailbox concurrency limit. */
export const MAX_CONCURRENCY_PER_MAILBOX = 4;

export interface GovernorRunOptions {
  /** Waits that would end after this instant are not waited: `MailboxThrottledError` instead. */
  deadline?: Date;
  /** Called once after a 401, before the single retry (e.g. `mailSource.invalidateToken`). */
  onUnauthorized?: () => Promise<void>;
  /**
   * `high`: waits at the front of the mailbox's queue (the delta page the sync is blocked on goes before the
   * attachment downloads queued behind it). Never exceeds the concurrency limit.
   */
  priority?: 'high' | 'normal';
}

/** What the sync engine (and the Graph adapter, as middleware) call. */
export interface RequestGovernor {
  run<T>(mailboxKey: string, fn: () => Promise<T>, options?: GovernorRunOptions): Promise<T>;
}

export interface ThrottleGovernorOptions {
  clock: Clock;
  /** 1–4; default 4. */
  maxConcurrency?: number;
  /** When a 429/503 has no Retry-After. Default 10. */
  defaultRetryAfterSeconds?: number;
  /** Longest wait when the caller gives no deadline. Default 120. */
  maxWaitSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

/** The mailbox is throttled beyond what the caller can wait: stop, checkpoint, come back at `retryAt`. */
export class MailboxThrottledError extends Error {
  readonly code = 'MailboxThrottled';
  constructor(
    readonly mailboxKey: string,
    readonly retryAt: Date,
    cause?: unknown,
  ) {
    super(
      `Microsoft Graph is throttling this mailbox until ${retryAt.toISOString()}.`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'MailboxThrottledError';
  }
}

export const isMailboxThrottled = (error: unknown): error is MailboxThrottledError =>
  error instanceof MailboxThrottledError;

interface KeyState {
  active: number;
  waiters: Array<() => void>;
  /** Do not send before this time (epoch ms). */
  blockedUntil: number;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ThrottleGovernor implements RequestGovernor {
  private readonly keys = new Map<string, KeyState>();
  private readonly peaks = new Map<string, number>();
  private readonly maxConcurrency: number;
  private readonly defaultRetryAfterMs: number;
  private readonly maxWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(options: ThrottleGovernorOptions) {
    this.clock = options.clock;
    this.maxConcurrency = Math.min(
      MAX_CONCURRENCY_PER_MAILBOX,
      Math.max(1, Math.floor(options.maxConcurrency ?? MAX_CONCURRENCY_PER_MAILBOX)),
    );
    this.defaultRetryAfterMs = (options.defaultRetryAfterSeconds ?? 10) * 1000;
    this.maxWaitMs = (options.maxWaitSeconds ?? 120) * 1000;
    this.sleep = options.sleep ?? realSleep;
    this.logger = options.logger ?? silentLogger;
  }

  /** Highest number of calls in flight for the key so far (tests, benchmarks). */
  peakConcurrency(mailboxKey: string): number {
    return this.peaks.get(mailboxKey) ?? 0;
  }

  async run<T>(mailboxKey: string, fn: () => Promise<T>, options: GovernorRunOptions = {}): Promise<T> {
    const state = this.stateFor(mailboxKey);
    await this.acquire(state, options.priority === 'high');
    this.peaks.set(mailboxKey, Math.max(this.peaks.get(mailboxKey) ?? 0, state.active));
    try {
      let throttleRetried = false;
      let refreshed = false;
      await this.waitIfBlocked(mailboxKey, state, options.deadline);
      for (;;) {
        try {
          return await fn();
        } catch (error) {
          if (isThrottled(error)) {
            const waitMs = this.retryAfterMs(error);
            const retryAt = new Date(this.clock.now().getTime() + waitMs);
            state.blockedUntil = Math.max(state.blockedUntil, retryAt.getTime());
            if (throttleRetried || !this.canWaitUntil(retryAt, options.deadline)) {
              throw new MailboxThrottledError(mailboxKey, retryAt, error);
            }
            throttleRetried = true;
            this.logger.info('Graph throttled a request; waiting Retry-After once', { mailboxKey, waitMs });
            await this.sleep(waitMs);
            continue;
          }
          if (isUnauthorized(error) && options.onUnauthorized && !refreshed) {
            refreshed = true;
            await options.onUnauthorized();
            continue;
          }
          throw error;
        }
      }
    } finally {
      this.release(mailboxKey, state);
    }
  }

  private retryAfterMs(error: unknown): number {
    const seconds = isMailSourceError(error) ? error.retryAfterSeconds : undefined;
    return seconds === undefined ? this.defaultRetryAfterMs : Math.max(0, seconds * 1000);
  }

  private canWaitUntil(at: Date, deadline: Date | undefined): boolean {
    const limit = deadline ? deadline.getTime() : this.clock.now().getTime() + this.maxWaitMs;
    return at.getTime() <= limit;
  }

  private async waitIfBlocked(mailboxKey: string, state: KeyState, deadline: Date | undefined): Promise<void> {
    const waitMs = state.blockedUntil - this.clock.now().getTime();
    if (waitMs <= 0) return;
    const until = new Date(state.blockedUntil);
    if (!this.canWaitUntil(until, deadline)) throw new MailboxThrottledError(mailboxKey, until);
    await this.sleep(waitMs);
  }

  private stateFor(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { active: 0, waiters: [], blockedUntil: 0 };
      this.keys.set(key, state);
    }
    return state;
  }

  private async acquire(state: KeyState, first: boolean): Promise<void> {
    if (state.active < this.maxConcurrency) {
      state.active++;
    } else {
      // The releasing call hands its slot over directly (active stays the same).
      await new Promise<void>((resolve) => (first ? state.waiters.unshift(resolve) : state.waiters.push(resolve)));
    }
  }

  private release(key: string, state: KeyState): void {
    const next = state.waiters.shift();
    if (next) {
      next();
      return;
    }
    state.active--;
    if (state.active === 0 && state.blockedUntil <= this.clock.now().getTime()) {
      // Keep the map small: forget idle, unblocked keys.
      this.keys.delete(key);
    }
  }
}
