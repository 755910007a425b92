/**
 * A tiny request/response protocol over Node's IPC channel (`child_process.fork`), used between the benchmark's
 * orchestrator (`run.ts`) and its child processes (the sync worker, the Cosmos stand-in). Every call has a time
 * limit; a child that exits fails every pending call at once.
 */
import type { ChildProcess } from 'node:child_process';

interface IpcRequest {
  kind: 'request';
  id: number;
  command: string;
  payload: unknown;
}

interface IpcResponse {
  kind: 'response';
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Sent once by a child when it is ready to take commands. */
export interface IpcReady {
  kind: 'ready';
  info: Record<string, unknown>;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/** The orchestrator's side of one child. */
export class IpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exitReason: string | undefined;

  constructor(
    readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (raw: unknown) => {
      const message = raw as Partial<IpcResponse>;
      if (message.kind !== 'response' || typeof message.id !== 'number') return;
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      if (message.ok) entry.resolve(message.result);
      else entry.reject(new Error(`${this.name}: ${message.error ?? 'failed'}`));
    });
    child.once('exit', (code, signal) => {
      this.exitReason = `${this.name} exited (${signal ?? code ?? 'unknown'})`;
      for (const [id, entry] of this.pending) {
        clearTimeout(entry.timer);
        entry.reject(new Error(this.exitReason));
        this.pending.delete(id);
      }
    });
  }

  /** Waits for the child's `ready` message (or its exit, or the time limit). */
  static waitReady(child: ChildProcess, name: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (raw: unknown): void => {
        const message = raw as Partial<IpcReady>;
        if (message.kind !== 'ready') return;
        cleanup();
        resolve(message.info ?? {});
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup();
        reject(new Error(`${name} exited before it was ready (${signal ?? code ?? 'unknown'})`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  call<T>(command: string, payload: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exitReason) return Promise.reject(new Error(this.exitReason));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${command}' took longer than ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: IpcRequest = { kind: 'request', id, command, payload };
      this.child.send(request, (error) => {
        if (!error) return;
        const entry = this.pending.get(id);
        if (!entry) return;
        this.pending.delete(id);
        clearTimeout(entry.timer);
        reject(error);
      });
    });
  }
}

export type IpcHandlers = Record<string, (payload: unknown) => Promise<unknown>>;

/**
 * The child's side: answers requests with `handlers`, announces readiness, and exits when the parent goes away
 * (the IPC channel closes), so no child outlives the benchmark.
 */
export function serveIpc(handlers: IpcHandlers, readyInfo: Record<string, unknown>): void {
  if (!process.send) throw new Error('This script runs as a child of dev/bench/run.js (no IPC channel).');
  const send = (message: IpcResponse | IpcReady): void => {
    process.send?.(message);
  };
  process.on('message', (raw: unknown) => {
    const request = raw as Partial<IpcRequest>;
    if (request.kind !== 'request' || typeof request.id !== 'number' || typeof request.command !== 'string') return;
    const id = request.id;
    const handler = handlers[request.command];
    if (!handler) {
      send({ kind: 'response', id, ok: false, error: `unknown command '${request.command}'` });
      return;
    }
    handler(request.payload).then(
      (result) => send({ kind: 'response', id, ok: true, result }),
      (error: unknown) =>
        send({
          kind: 'response',
          id,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready', info: readyInfo });
}
