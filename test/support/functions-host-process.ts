/**
 * The local functions host in a child process of its own, for tests that need a real process: HTTP streaming
 * through the library's proxy (which stays open for the process's lifetime), and the e2e tests that SIGKILL a
 * worker mid-sync. The child runs the TypeScript sources directly (`register-ts.js`).
 *
 *   const host = await startHostProcess({ options: { modules: [fixture], logLevel: 'warn' } });
 *   await fetch(`${host.url}/api/...`);
 *   await host.stop();
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import path from 'node:path';
import type { FunctionsHostOptions } from '../../dev/functions-host';

export interface HostProcess {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** e.g. `http://127.0.0.1:41234/api` */
  apiUrl: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Every line the host printed so far (stdout and stderr). */
  lines(): string[];
  /** SIGKILL (a crash: no cleanup at all), resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful; SIGKILL after 10 s), resolved once the process is gone. */
  stop(): Promise<void>;
}

export interface HostProcessOptions {
  /** The host's options (any but `logSink`: its log lines go to the child's stdout). */
  options: Omit<FunctionsHostOptions, 'logSink'>;
  /** The child's environment, i.e. the app settings (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How long to wait for `READY` (default 60 s). */
  startTimeoutMs?: number;
}

/** Starts the host and resolves once it listens; rejects (with its output) if it exits first or fails to load a module. */
export async function startHostProcess(launch: HostProcessOptions): Promise<HostProcess> {
  const child = spawn(
    process.execPath,
    ['-r', path.join(__dirname, 'register-ts.js'), path.join(__dirname, 'functions-host-main.ts')],
    {
      ...(launch.cwd ? { cwd: launch.cwd } : {}),
      env: { ...(launch.env ?? process.env), FUNCTIONS_HOST_OPTIONS: JSON.stringify(launch.options) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  let onLine: (() => void) | undefined;
  const onData = (chunk: Buffer): void => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    onLine?.();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;

  const timeoutMs = launch.startTimeoutMs ?? 60_000;
  const url = await new Promise<string>((resolve, reject) => {
    const output = (): string => [...lines, partial].join('\n');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the host did not start in ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const done = (error: Error | undefined, ready?: string): void => {
      clearTimeout(timer);
      onLine = undefined;
      if (error) reject(error);
      else resolve(ready!);
    };
    onLine = () => {
      const loadErrors = lines.find((l) => l.startsWith('LOAD_ERRORS '));
      if (loadErrors) {
        child.kill('SIGKILL');
        done(new Error(`the host could not load every function: ${loadErrors}`));
        return;
      }
      const ready = lines.map((l) => /^READY (\S+)/.exec(l)?.[1]).find((u) => u !== undefined);
      if (ready) done(undefined, ready);
    };
    void exited.then(() =>
      done(new Error(`the host exited early (${child.exitCode ?? child.signalCode}):\n${output()}`)),
    );
  });

  return {
    url,
    apiUrl: `${url}/api`,
    child,
    lines: () => lines,
    kill: async () => {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
