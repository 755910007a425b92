/**
 * Makes `require('@azure/functions-core')` resolve to the local stand-in (`./functions-core`), as the Azure
 * Functions worker does for the code it loads. Must run before `@azure/functions` first registers a function
 * (the library caches the lookup). Idempotent. Under jest, whose resolver does not go through Node's, a test
 * maps the module with `jest.mock('@azure/functions-core', ..., { virtual: true })` instead.
 *
 * Also usable as a preload: `node -r ./dist/dev/functions-host/preload.js ...`.
 */
import Module from 'node:module';

export const FUNCTIONS_CORE_MODULE = '@azure/functions-core';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
interface ModuleInternals {
  _resolveFilename: ResolveFilename & { __localFunctionsCore?: true };
}

export function installFunctionsCore(): void {
  const internals = Module as unknown as ModuleInternals;
  if (internals._resolveFilename.__localFunctionsCore) return;
  const original = internals._resolveFilename;
  const standIn = require.resolve('./functions-core');
  const patched: ModuleInternals['_resolveFilename'] = function (this: unknown, request, parent, isMain, options) {
    if (request === FUNCTIONS_CORE_MODULE) return standIn;
    return original.call(this, request, parent, isMain, options);
  };
  patched.__localFunctionsCore = true;
  internals._resolveFilename = patched;
}
