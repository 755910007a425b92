/** Compact, one-line-per-event console output of the local functions host. */
import type { RpcLogLevel } from './core-types';

export type HostLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Receives every line the host prints. Default: stdout / stderr. */
export type HostLogSink = (line: string, level: HostLogLevel) => void;

export const consoleSink: HostLogSink = (line, level) => {
  if (level === 'error' || level === 'warn') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
};

const RANK: Record<HostLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function fromRpcLevel(level: RpcLogLevel): HostLogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return 'debug';
    case 'warning':
      return 'warn';
    case 'error':
    case 'critical':
      return 'error';
    default:
      return 'info';
  }
}

export class HostLog {
  constructor(
    private readonly sink: HostLogSink,
    private readonly minLevel: HostLogLevel,
  ) {}

  write(level: HostLogLevel, text: string): void {
    if (RANK[level] < RANK[this.minLevel]) return;
    const time = new Date().toISOString().slice(11, 23);
    const mark = level === 'error' ? ' ERROR' : level === 'warn' ? ' WARN' : '';
    this.sink(`${time}${mark} ${text}`, level);
  }
  debug(text: string): void {
    this.write('debug', text);
  }
  info(text: string): void {
    this.write('info', text);
  }
  warn(text: string): void {
    this.write('warn', text);
  }
  error(text: string): void {
    this.write('error', text);
  }
}

/** The error message plus the first stack frame in the app's own code (not node_modules): enough to find it. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frame = error.stack
    ?.split('\n')
    .slice(1)
    .map((l) => l.trim())
    .find(
      (l) =>
        l.startsWith('at ') && !l.includes('node_modules') && !l.includes('node:') && !l.includes('/functions-host/'),
    );
  const first = `${error.name === 'Error' ? '' : error.name + ': '}${error.message.split('\n')[0]}`;
  return frame ? `${first} (${frame})` : first;
}

export const elapsed = (startedAt: number): string => `${Math.round(performance.now() - startedAt)} ms`;
