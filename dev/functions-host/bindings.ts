/** Reading registered bindings and RPC values: which binding triggers a function, where outputs go. */
import type { RpcBindingInfo, RpcInvocationResponse, RpcTypedData } from './core-types';
import type { RegisteredFunction } from './functions-core';

export const RETURN_BINDING = '$return';

export interface NamedBinding {
  name: string;
  binding: RpcBindingInfo;
}

export function triggerOf(fn: RegisteredFunction): NamedBinding {
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    if (binding.direction === 'in' && /trigger$/i.test(binding.type ?? '')) return { name, binding };
  }
  throw new Error(`Function "${fn.metadata.name}" has no trigger binding`);
}

export function outputsOf(fn: RegisteredFunction): NamedBinding[] {
  return Object.entries(fn.metadata.bindings)
    .filter(([, b]) => b.direction === 'out')
    .map(([name, binding]) => ({ name, binding }));
}

/** The value the function produced for an output binding (the return value for `$return`). */
export function outputValue(response: RpcInvocationResponse, name: string): RpcTypedData | null | undefined {
  if (name === RETURN_BINDING) return response.returnValue;
  return response.outputData?.find((o) => o.name === name)?.data;
}

export function stringOption(binding: RpcBindingInfo, key: string): string | undefined {
  const value = binding[key];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** Replaces `%SETTING%` with the app setting's value, as binding expressions do. Throws naming a missing one. */
export function resolveSettings(value: string, settings: Record<string, string | undefined>): string {
  return value.replace(/%([^%]+)%/g, (_all, name: string) => {
    const resolved = settings[name];
    if (resolved === undefined || resolved === '') {
      throw new Error(`'%${name}%' does not resolve to a value (app setting "${name}" is not set)`);
    }
    return resolved;
  });
}

/**
 * Turns an output binding value into queue message contents, like the queue output binding does:
 * a string or bytes is one message; a JSON array is one message per element (objects serialised as JSON).
 */
export function queueMessagesFrom(data: RpcTypedData | null | undefined): Buffer[] {
  if (!data) return [];
  if (typeof data.string === 'string') return [Buffer.from(data.string, 'utf8')];
  if (typeof data.json === 'string') {
    const parsed: unknown = JSON.parse(data.json);
    const items = Array.isArray(parsed) ? parsed : [parsed];
    return items
      .filter((item) => item !== undefined && item !== null)
      .map((item) => Buffer.from(typeof item === 'string' ? item : JSON.stringify(item), 'utf8'));
  }
  if (data.bytes) return [Buffer.from(data.bytes)];
  if (data.stream) return [Buffer.from(data.stream)];
  if (typeof data.int === 'number') return [Buffer.from(String(data.int))];
  if (typeof data.double === 'number') return [Buffer.from(String(data.double))];
  if (data.collectionString?.string) return data.collectionString.string.map((s) => Buffer.from(s, 'utf8'));
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  return [];
}
