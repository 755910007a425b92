/**
 * Timer triggers: NCRONTAB schedules with six fields (seconds first), evaluated in UTC like the Functions host
 * (day-of-month and day-of-week must both match), or a `hh:mm:ss` interval. A timer never overlaps itself
 * (the host's singleton lock). The trigger input is the host's timer info (`schedule`, `scheduleStatus`,
 * `isPastDue`). `runOnStartup: true` fires once when the host starts.
 */
import { Cron } from 'croner';
import type { RpcInvocationRequest } from './core-types';
import { resolveSettings, stringOption, triggerOf } from './bindings';
import type { RegisteredFunction } from './functions-core';
import { parseTimeSpan } from './host-json';
import type { InvocationOutcome } from './invoke';
import { describeError, elapsed, type HostLog } from './log';

const NEVER = '0001-01-01T00:00:00';

export interface TimerDeps {
  fn: RegisteredFunction;
  settings: () => Record<string, string | undefined>;
  invoke(fn: RegisteredFunction, request: RpcInvocationRequest): Promise<InvocationOutcome>;
  writeOutputs(fn: RegisteredFunction, outcome: InvocationOutcome): Promise<void>;
  log: HostLog;
}

/** Parses a schedule (after `%SETTING%` resolution) into a function giving the next occurrence after a date. */
export function parseSchedule(schedule: string): { next(after: Date): Date | null; describe: string } {
  if (/^(?:\d+\.)?\d{1,2}:\d{2}:\d{2}$/.test(schedule)) {
    const everyMs = parseTimeSpan(schedule);
    if (everyMs <= 0) throw new Error(`The interval "${schedule}" must be positive`);
    return { next: (after) => new Date(after.getTime() + everyMs), describe: `every ${schedule}` };
  }
  if (schedule.trim().split(/\s+/).length !== 6) {
    throw new Error(`"${schedule}" is not an NCRONTAB expression with six fields (seconds first)`);
  }
  const cron = new Cron(schedule, { timezone: 'Etc/UTC', mode: '6-part', domAndDow: true, paused: true });
  return { next: (after) => cron.nextRun(after), describe: schedule };
}

export class TimerTrigger {
  readonly schedule: string;
  readonly #deps: TimerDeps;
  readonly #parsed: ReturnType<typeof parseSchedule>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #last: Date | undefined;
  #next: Date | null = null;
  #stopped = false;

  /** Throws when the schedule does not resolve or parse (the function is then in error, as in the host). */
  constructor(deps: TimerDeps) {
    this.#deps = deps;
    const raw = stringOption(triggerOf(deps.fn).binding, 'schedule');
    if (!raw) throw new Error('The timer trigger has no schedule');
    this.schedule = resolveSettings(raw, deps.settings());
    this.#parsed = parseSchedule(this.schedule);
  }

  get runOnStartup(): boolean {
    return triggerOf(this.#deps.fn).binding['runOnStartup'] === true;
  }

  get nextRun(): Date | null {
    return this.#next;
  }

  start(): void {
    this.#stopped = false;
    this.#arm(new Date());
    if (this.runOnStartup) void this.fire('startup');
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#running) await Promise.race([this.#running, new Promise((r) => setTimeout(r, graceMs))]);
  }

  #arm(after: Date): void {
    if (this.#stopped) return;
    this.#next = this.#parsed.next(after);
    if (!this.#next) return;
    const due = this.#next;
    // setTimeout cannot wait longer than ~24.8 days: re-arm in steps.
    const wait = Math.min(due.getTime() - Date.now(), 2 ** 31 - 1);
    this.#timer = setTimeout(
      () => {
        if (Date.now() + 5 < due.getTime()) return this.#arm(new Date(Date.now() - 1));
        void this.fire('schedule');
        this.#arm(due);
      },
      Math.max(0, wait),
    );
  }

  /** Runs the function now (schedule, startup, or the admin endpoint). Skipped while a run is in progress. */
  fire(reason: 'schedule' | 'startup' | 'admin'): Promise<void> {
    if (this.#running) {
      this.#deps.log.warn(`timer ${this.#deps.fn.metadata.name}: still running, skipping the ${reason} run`);
      return this.#running;
    }
    this.#running = this.#invoke(reason).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #invoke(reason: string): Promise<void> {
    const { fn, log } = this.#deps;
    const startedAt = performance.now();
    const now = new Date();
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: this.#last?.toISOString() ?? NEVER,
        Next: (this.#next ?? this.#parsed.next(now))?.toISOString() ?? NEVER,
        LastUpdated: now.toISOString(),
      },
      IsPastDue: false,
    };
    this.#last = now;
    const { name } = triggerOf(fn);
    try {
      const outcome = await this.#deps.invoke(fn, {
        inputData: [{ name, data: { json: JSON.stringify(timerInfo) } }],
        triggerMetadata: {},
      });
      await this.#deps.writeOutputs(fn, outcome);
      log.info(`timer (${reason}) ✓ in ${elapsed(startedAt)} [${fn.metadata.name}]`);
    } catch (error) {
      log.error(`timer (${reason}) ✗ in ${elapsed(startedAt)} [${fn.metadata.name}] ${describeError(error)}`);
    }
  }
}
