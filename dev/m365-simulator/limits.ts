/**
 * Outlook-style throttling per app per mailbox (concurrency + request rate), seeded fault injection and the
 * simulator's counters. Every structure here is keyed by route pattern, mailbox or app: nothing grows per
 * request.
 */
import { SimHttpError, type FaultRule, type SimCounters } from './contract';

/* ---------------------------------------------------------------------------------------------------- */
/* Limits                                                                                                */
/* ---------------------------------------------------------------------------------------------------- */

export interface SimLimits {
  /** Concurrent Graph requests per app per mailbox (Outlook: 4). */
  mailboxConcurrency: number;
  /** Graph requests per app per mailbox per window (Outlook: 10,000 per 10 minutes). */
  mailboxRequestsPerWindow: number;
  windowSeconds: number;
  /** Retry-After sent with a MailboxConcurrency 429. */
  concurrencyRetryAfterSeconds: number;
}

export const DEFAULT_LIMITS: Readonly<SimLimits> = Object.freeze({
  mailboxConcurrency: 4,
  mailboxRequestsPerWindow: 10_000,
  windowSeconds: 600,
  concurrencyRetryAfterSeconds: 1,
});

/** Buckets per rate window: a sliding window with constant memory per app + mailbox. */
const BUCKETS = 60;

interface RateState {
  /** Start time (ms) of the bucket each slot currently counts. */
  starts: number[];
  counts: number[];
}

export class Limits {
  private settings: SimLimits = { ...DEFAULT_LIMITS };
  private readonly inFlight = new Map<string, number>();
  private readonly rates = new Map<string, RateState>();

  constructor(
    private readonly counters: Counters,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): Readonly<SimLimits> {
    return this.settings;
  }

  configure(update: Partial<SimLimits>): SimLimits {
    this.settings = { ...this.settings, ...update };
    this.rates.clear();
    return this.settings;
  }

  reset(): void {
    this.settings = { ...DEFAULT_LIMITS };
    this.rates.clear();
    // In-flight counts belong to requests still running; they release themselves.
  }

  /**
   * Admits one Graph request of `appId` to a mailbox, or throws the 429 Outlook answers. The request counts
   * against the rate window even when refused (as on Graph). Returns the release function (idempotent),
   * to be called when the response is completely sent.
   */
  acquire(appId: string, mailboxId: string, mailboxLabel: string): () => void {
    const key = `${appId}|${mailboxId}`;
    const nowMs = this.now();
    const overRate = this.countRequest(key, nowMs);
    const running = this.inFlight.get(key) ?? 0;
    if (running >= this.settings.mailboxConcurrency) {
      this.counters.throttledOne();
      throw new SimHttpError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
        'retry-after': String(this.settings.concurrencyRetryAfterSeconds),
      });
    }
    if (overRate !== undefined) {
      this.counters.throttledOne();
      throw new SimHttpError(429, 'ApplicationThrottled', 'Application is over its MailboxRequests limit.', {
        'retry-after': String(overRate),
      });
    }
    this.inFlight.set(key, running + 1);
    this.counters.observeConcurrency(mailboxLabel, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }

  /** Counts the request; returns the Retry-After seconds when the window is over its limit. */
  private countRequest(key: string, nowMs: number): number | undefined {
    const windowMs = this.settings.windowSeconds * 1000;
    const bucketMs = Math.max(1, Math.floor(windowMs / BUCKETS));
    const bucketStart = nowMs - (nowMs % bucketMs);
    let state = this.rates.get(key);
    if (!state) {
      state = { starts: new Array<number>(BUCKETS).fill(-1), counts: new Array<number>(BUCKETS).fill(0) };
      this.rates.set(key, state);
    }
    const slot = Math.floor(bucketStart / bucketMs) % BUCKETS;
    if (state.starts[slot] !== bucketStart) {
      state.starts[slot] = bucketStart;
      state.counts[slot] = 0;
    }
    state.counts[slot] = (state.counts[slot] ?? 0) + 1;
    let total = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < BUCKETS; i++) {
      const start = state.starts[i] ?? -1;
      if (start >= 0 && start > nowMs - windowMs) {
        total += state.counts[i] ?? 0;
        if ((state.counts[i] ?? 0) > 0 && start < oldest) oldest = start;
      }
    }
    if (total <= this.settings.mailboxRequestsPerWindow) return undefined;
    const freesAt = oldest + windowMs + bucketMs;
    return Math.max(1, Math.ceil((freesAt - nowMs) / 1000));
  }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Counters                                                                                              */
/* ---------------------------------------------------------------------------------------------------- */

export class Counters {
  private requestsByRoute = new Map<string, number>();
  private requestsByMailbox = new Map<string, number>();
  private peakConcurrencyByMailbox = new Map<string, number>();
  private tokenRequestsByApp = new Map<string, number>();
  private throttled = 0;
  private faultsInjected = 0;
  private totalGraphRequests = 0;

  route(routeKey: string): void {
    this.requestsByRoute.set(routeKey, (this.requestsByRoute.get(routeKey) ?? 0) + 1);
  }

  graphRequest(): void {
    this.totalGraphRequests++;
  }

  mailboxRequest(mailboxLabel: string): void {
    this.requestsByMailbox.set(mailboxLabel, (this.requestsByMailbox.get(mailboxLabel) ?? 0) + 1);
  }

  observeConcurrency(mailboxLabel: string, inFlight: number): void {
    if (inFlight > (this.peakConcurrencyByMailbox.get(mailboxLabel) ?? 0)) {
      this.peakConcurrencyByMailbox.set(mailboxLabel, inFlight);
    }
  }

  tokenRequest(appId: string): void {
    this.tokenRequestsByApp.set(appId, (this.tokenRequestsByApp.get(appId) ?? 0) + 1);
  }

  throttledOne(): void {
    this.throttled++;
  }

  faultInjected(): void {
    this.faultsInjected++;
  }

  snapshot(): SimCounters {
    return {
      requestsByRoute: Object.fromEntries(this.requestsByRoute),
      requestsByMailbox: Object.fromEntries(this.requestsByMailbox),
      peakConcurrencyByMailbox: Object.fromEntries(this.peakConcurrencyByMailbox),
      tokenRequestsByApp: Object.fromEntries(this.tokenRequestsByApp),
      throttled: this.throttled,
      faultsInjected: this.faultsInjected,
      totalGraphRequests: this.totalGraphRequests,
    };
  }

  reset(): void {
    this.requestsByRoute = new Map();
    this.requestsByMailbox = new Map();
    this.peakConcurrencyByMailbox = new Map();
    this.tokenRequestsByApp = new Map();
    this.throttled = 0;
    this.faultsInjected = 0;
    this.totalGraphRequests = 0;
  }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Faults                                                                                                */
/* ---------------------------------------------------------------------------------------------------- */

/** mulberry32: a small, fast, seedable PRNG (the same seed gives the same sequence). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export interface FaultDecision {
  latencyMs: number;
  drop: boolean;
  /** Answer with this status instead of running the handler. */
  status?: 429 | 500 | 503;
  retryAfterSeconds?: number;
}

export interface FaultTarget {
  method: string;
  path: string;
  /** `METHOD pattern` of the matched route. */
  routeKey: string;
  graph: boolean;
  /** Lower-cased id and UPN/mail of the resolved mailbox, when there is one. */
  mailboxKeys?: string[];
}

interface CompiledRule {
  rule: FaultRule;
  route?: RegExp;
  mailbox?: string;
}

/** Upper bound on per-stream draw counters kept at once (a safety net; streams are route × mailbox). */
const MAX_STREAMS = 50_000;

/**
 * Seeded, reproducible fault injection. Each rule draws from its own deterministic stream per
 * (route pattern, mailbox): the n-th matching request of a mailbox on a route gets the same decision in
 * every run with the same seed, however requests of other mailboxes interleave.
 */
export class Faults {
  private seed = 0;
  private rules: CompiledRule[] = [];
  private draws = new Map<string, number>();

  constructor(private readonly counters: Counters) {}

  /** Validates and installs rules; throws a 400 SimHttpError on bad input. */
  set(seed: number, rules: FaultRule[]): void {
    this.rules = rules.map((rule, index) => compileRule(rule, index));
    this.seed = seed;
    this.draws = new Map();
  }

  clear(): void {
    this.rules = [];
    this.draws = new Map();
  }

  get active(): { seed: number; rules: FaultRule[] } {
    return { seed: this.seed, rules: this.rules.map((r) => r.rule) };
  }

  decide(target: FaultTarget): FaultDecision | undefined {
    if (this.rules.length === 0) return undefined;
    const decision: FaultDecision = { latencyMs: 0, drop: false };
    let matched = false;
    this.rules.forEach((compiled, index) => {
      // Rules without a route pattern apply to Graph only; with one, to whatever it matches.
      if (compiled.route ? !compiled.route.test(`${target.method} ${target.path}`) : !target.graph) return;
      if (compiled.mailbox !== undefined && !(target.mailboxKeys ?? []).includes(compiled.mailbox)) return;
      matched = true;
      const stream = `${index}|${target.routeKey}|${target.mailboxKeys?.[0] ?? '-'}`;
      const n = this.draws.get(stream) ?? 0;
      if (this.draws.size >= MAX_STREAMS && !this.draws.has(stream)) this.draws.clear();
      this.draws.set(stream, n + 1);
      const random = mulberry32(fnv1a(`${this.seed}|${stream}|${n}`));
      const dropDraw = random();
      const statusDraw = random();
      const { rule } = compiled;
      decision.latencyMs += rule.latencyMs ?? 0;
      if (decision.drop || decision.status !== undefined) return;
      if (rule.dropRate !== undefined && dropDraw < rule.dropRate) {
        decision.drop = true;
      } else if (statusDraw < rule.rate) {
        const status = rule.status ?? 503;
        decision.status = status;
        if (status !== 500) decision.retryAfterSeconds = rule.retryAfterSeconds ?? 1;
      }
    });
    if (!matched) return undefined;
    if (decision.drop || decision.status !== undefined) this.counters.faultInjected();
    return decision;
  }
}

function compileRule(rule: FaultRule, index: number): CompiledRule {
  const where = `rules[${index}]`;
  const bad = (message: string): never => {
    throw new SimHttpError(400, 'BadRequest', `${where}: ${message}`);
  };
  if (typeof rule !== 'object' || rule === null) bad('must be an object');
  if (typeof rule.rate !== 'number' || !(rule.rate >= 0 && rule.rate <= 1)) bad('rate must be a number from 0 to 1');
  if (rule.status !== undefined && ![429, 500, 503].includes(rule.status)) bad('status must be 429, 500 or 503');
  if (rule.dropRate !== undefined && !(typeof rule.dropRate === 'number' && rule.dropRate >= 0 && rule.dropRate <= 1)) {
    bad('dropRate must be a number from 0 to 1');
  }
  if (
    rule.latencyMs !== undefined &&
    !(typeof rule.latencyMs === 'number' && rule.latencyMs >= 0 && rule.latencyMs <= 120_000)
  ) {
    bad('latencyMs must be a number from 0 to 120000');
  }
  if (
    rule.retryAfterSeconds !== undefined &&
    !(Number.isInteger(rule.retryAfterSeconds) && rule.retryAfterSeconds >= 0 && rule.retryAfterSeconds <= 3600)
  ) {
    bad('retryAfterSeconds must be an integer from 0 to 3600');
  }
  if (rule.mailbox !== undefined && (typeof rule.mailbox !== 'string' || rule.mailbox.length === 0)) {
    bad('mailbox must be a non-empty string (UPN or id)');
  }
  let route: RegExp | undefined;
  if (rule.route !== undefined) {
    if (typeof rule.route !== 'string') bad('route must be a regular expression string');
    try {
      route = new RegExp(rule.route);
    } catch (error) {
      bad(`route is not a valid regular expression (${(error as Error).message})`);
    }
  }
  const compiled: CompiledRule = { rule: { ...rule } };
  if (route) compiled.route = route;
  if (rule.mailbox !== undefined) compiled.mailbox = rule.mailbox.toLowerCase();
  return compiled;
}
