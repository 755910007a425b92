/** The local functions host (see `./host.ts`). */
export { startFunctionsHost, functionModules } from './host';
export type { FunctionsHostOptions, StartedFunctionsHost, FunctionInfo } from './host';
export type { QueueSettings, HostSettings } from './host-json';
export type { HostLogSink, HostLogLevel } from './log';
export { installFunctionsCore, FUNCTIONS_CORE_MODULE } from './install';
