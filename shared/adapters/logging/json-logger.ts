/**
 * Logger adapters. Every field goes through `redact` before it is written (second line of defence against
 * secrets in logs). Two sinks:
 *  - `createJsonLogger`: one JSON object per line (stdout by default): `{"time","level","msg",...fields}`;
 *  - `createInvocationLogger`: through the Functions `InvocationContext`, so entries are tied to the invocation
 *    in Application Insights: `message {"field":...}`.
 */
import { redact, type LogFields, type Logger } from '../../domain/ports/logger';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The logging methods of `InvocationContext` (from `@azure/functions`) the adapter uses. */
export interface InvocationLogMethods {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

type Emit = (level: LogLevel, message: string, fields: LogFields) => void;

function buildLogger(minLevel: LogLevel, base: LogFields, emit: Emit): Logger {
  const log = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[level] < RANK[minLevel]) return;
    const merged = fields ? { ...base, ...fields } : base;
    emit(level, String(redact(message)), redact(merged) as LogFields);
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    child: (fields) => buildLogger(minLevel, { ...base, ...fields }, emit),
  };
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Fields on every entry. */
  fields?: LogFields;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
  now?: () => Date;
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  return buildLogger(options.level ?? 'info', options.fields ?? {}, (level, message, fields) => {
    const entry: Record<string, unknown> = { time: now().toISOString(), level, msg: message };
    for (const [key, value] of Object.entries(fields)) entry[key in entry ? `field.${key}` : key] = value;
    write(safeStringify(entry));
  });
}

export function createInvocationLogger(
  context: InvocationLogMethods,
  options: { level?: LogLevel; fields?: LogFields } = {},
): Logger {
  return buildLogger(options.level ?? 'info', options.fields ?? {}, (level, message, fields) => {
    const text = Object.keys(fields).length > 0 ? `${message} ${safeStringify(fields)}` : message;
    context[level](text);
  });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ unserializable: true });
  }
}
