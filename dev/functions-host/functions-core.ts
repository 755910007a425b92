/**
 * A stand-in for `@azure/functions-core`, the module the Azure Functions Node.js worker builds into its process.
 * `@azure/functions` detects the host by `require('@azure/functions-core')`; when this module answers, every
 * `app.http / app.storageQueue / app.timer / app.hook.*` call lands here exactly as the real worker receives it
 * (function metadata with its bindings, plus the handler), and the library's programming model is handed over
 * with `setProgrammingModel`. The local host (`./host.ts`) reads the registry and drives invocations through
 * that programming model, so handlers see the same `HttpRequest` / `InvocationContext` objects as in Azure.
 *
 * `./install.ts` makes `require('@azure/functions-core')` resolve to this file.
 */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type {
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  ProgrammingModel,
  RpcLogCategory,
  RpcLogLevel,
} from './core-types';

/** Reported to the library as the worker / host versions (HTTP streaming needs `log`, present here). */
export const version = '3.12.0-local';
export const hostVersion = '4.1040.0-local';

export interface RegisteredFunction {
  functionId: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export type SystemLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

export interface CoreRegistry {
  functions: RegisteredFunction[];
  hooks: Record<string, HookCallback[]>;
  programmingModel: ProgrammingModel | undefined;
  systemLog: SystemLogSink;
}

const REGISTRY_KEY = Symbol.for('m365-mail-sync.local-functions-core');
type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: CoreRegistry };

const defaultSystemLog: SystemLogSink = (level, _category, message) => {
  if (level === 'error' || level === 'critical') console.error(message);
  else if (level === 'warning') console.warn(message);
  else if (level === 'information') console.info(message);
};

/** The process-wide registry (shared by every copy of this module, e.g. compiled and under jest). */
export function coreRegistry(): CoreRegistry {
  const g = globalThis as GlobalWithRegistry;
  g[REGISTRY_KEY] ??= { functions: [], hooks: {}, programmingModel: undefined, systemLog: defaultSystemLog };
  return g[REGISTRY_KEY];
}

export class Disposable {
  static from(...disposables: Array<{ dispose: () => unknown }>): Disposable {
    return new Disposable(() => disposables.forEach((d) => d.dispose()));
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    this.#callOnDispose?.();
    this.#callOnDispose = undefined;
  }
}

export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  const registry = coreRegistry();
  if (!metadata?.name) throw new Error('registerFunction: the function metadata has no "name".');
  if (typeof callback !== 'function') throw new Error(`registerFunction: "${metadata.name}" has no handler.`);
  if (registry.functions.some((f) => f.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
    throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
  }
  const registered: RegisteredFunction = { functionId: randomUUID(), metadata, callback };
  registry.functions.push(registered);
  return new Disposable(() => {
    registry.functions = registry.functions.filter((f) => f !== registered);
  });
}

const HOOK_NAMES = new Set(['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log']);

export function registerHook(hookName: string, callback: HookCallback): Disposable {
  if (!HOOK_NAMES.has(hookName)) {
    // Same error shape as the worker, which the library checks for (`RangeError` + system error flag).
    const error = new RangeError(`Unrecognized hook "${hookName}"`) as RangeError & {
      isAzureFunctionsSystemError: boolean;
    };
    error.isAzureFunctionsSystemError = true;
    throw error;
  }
  const hooks = coreRegistry().hooks;
  (hooks[hookName] ??= []).push(callback);
  return new Disposable(() => {
    hooks[hookName] = (hooks[hookName] ?? []).filter((cb) => cb !== callback);
  });
}

export function setProgrammingModel(programmingModel: ProgrammingModel): void {
  coreRegistry().programmingModel = programmingModel;
}

export function getProgrammingModel(): ProgrammingModel | undefined {
  return coreRegistry().programmingModel;
}

/** System log from the library (outside invocations). */
export function log(level: RpcLogLevel, category: RpcLogCategory, ...args: unknown[]): void {
  coreRegistry().systemLog(level, category, format(...args));
}
