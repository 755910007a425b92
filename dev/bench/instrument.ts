/**
 * Where a sync's wall time goes, without changing what it does: the worker wraps the sync dependencies (Graph
 * mail source, governor, repositories, blob store) in pass-through proxies that record, per category, how many
 * calls were made and the **busy time** — the wall time during which at least one call of that category was in
 * flight (overlapping calls are not double-counted). Categories overlap each other (a governed call contains
 * its Graph request), so shares do not add up to 100 %.
 */
import type { GovernorRunOptions, SyncMailboxDeps } from '../../shared/domain/sync';

export interface CategoryFigures {
  calls: number;
  busySeconds: number;
  /** Highest number of calls of the category in flight at once. */
  peakInFlight: number;
  /** Failed calls by error code (e.g. `429 ApplicationThrottled`). */
  errors?: Record<string, number>;
}

class Category {
  calls = 0;
  busyMs = 0;
  inFlight = 0;
  peak = 0;
  errors: Record<string, number> | undefined;
  private since = 0;

  enter(): void {
    this.calls++;
    if (this.inFlight === 0) this.since = performance.now();
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
  }

  fail(error: unknown): void {
    const e = error as { status?: unknown; code?: unknown; name?: unknown };
    const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
    const key = [text(e.status), text(e.code) || text(e.name)].filter((v) => v !== '').join(' ') || 'error';
    this.errors ??= {};
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.busyMs += performance.now() - this.since;
  }
}

export class TimeBreakdown {
  private categories = new Map<string, Category>();

  reset(): void {
    this.categories = new Map();
  }

  snapshot(): Record<string, CategoryFigures> {
    const out: Record<string, CategoryFigures> = {};
    for (const [name, c] of this.categories) {
      out[name] = {
        calls: c.calls,
        busySeconds: Math.round(c.busyMs / 10) / 100,
        peakInFlight: c.peak,
        ...(c.errors ? { errors: { ...c.errors } } : {}),
      };
    }
    return out;
  }

  /** Wraps an async function so each call is recorded under `name`. */
  track<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A): Promise<R> => {
      let category = this.categories.get(name);
      if (!category) {
        category = new Category();
        this.categories.set(name, category);
      }
      const current = category;
      current.enter();
      try {
        return await fn(...args);
      } catch (error) {
        current.fail(error);
        throw error;
      } finally {
        current.leave();
      }
    };
  }

  /** A proxy of `target` whose listed async methods are tracked as `${prefix}.${method}`. */
  wrap<T extends object>(target: T, prefix: string, methods: ReadonlyArray<keyof T & string>): T {
    const tracked = new Map<string | symbol, unknown>();
    for (const method of methods) {
      const original = target[method];
      if (typeof original !== 'function') continue;
      tracked.set(
        method,
        this.track(`${prefix}.${method}`, (...args: unknown[]) =>
          Promise.resolve((original as (...a: unknown[]) => unknown).apply(target, args)),
        ),
      );
    }
    return new Proxy(target, {
      get(obj, property, receiver) {
        if (tracked.has(property)) return tracked.get(property);
        const value: unknown = Reflect.get(obj, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
      },
    });
  }

  /** The sync dependencies with every I/O call tracked. */
  instrument(deps: SyncMailboxDeps): SyncMailboxDeps {
    const r = deps.repositories;
    const sourceCache = new WeakMap<object, unknown>();
    const governed = this.track(
      'governor.run (slot wait + call)',
      (key: string, fn: () => Promise<unknown>, options?: GovernorRunOptions) => deps.governor.run(key, fn, options),
    );
    return {
      ...deps,
      repositories: {
        emailAccounts: this.wrap(r.emailAccounts, 'store.emailAccounts', ['get', 'update']),
        servicePrincipals: this.wrap(r.servicePrincipals, 'store.servicePrincipals', ['get']),
        syncLogs: this.wrap(r.syncLogs, 'store.syncLogs', ['create']),
        communications: this.wrap(r.communications, 'store.communications', ['getMany', 'upsertMany', 'list']),
        contacts: this.wrap(r.contacts, 'store.contacts', ['upsertByEmail', 'recordSightings']),
      },
      mailSourceFor: async (principal) => {
        const source = await deps.mailSourceFor(principal);
        let wrapped = sourceCache.get(source) as typeof source | undefined;
        if (!wrapped) {
          wrapped = this.wrap(source, 'graph', [
            'resolveFolders',
            'deltaPage',
            'listAttachments',
            'downloadAttachment',
            'getMimeOfItemAttachment',
          ]);
          sourceCache.set(source, wrapped);
        }
        return wrapped;
      },
      blobs: this.wrap(deps.blobs, 'blob', ['putStream', 'putBuffer']),
      governor: {
        run: <T>(key: string, fn: () => Promise<T>, options?: GovernorRunOptions): Promise<T> =>
          governed(key, fn, options) as Promise<T>,
      },
      ...(deps.threadLookup
        ? { threadLookup: this.wrap(deps.threadLookup, 'store.threadLookup', ['findReferences']) }
        : {}),
    };
  }
}
