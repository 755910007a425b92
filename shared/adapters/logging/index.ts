export { createJsonLogger, createInvocationLogger } from './json-logger';
export type { JsonLoggerOptions, InvocationLogMethods, LogLevel } from './json-logger';
