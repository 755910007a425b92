/**
 * One invocation, driven the way the Node.js worker drives it: build the core invocation context from the
 * RPC invocation request, ask the programming model (from `@azure/functions`) for an invocation model, get the
 * arguments (the library builds `HttpRequest` / `InvocationContext` from RPC shapes), run preInvocation hooks,
 * invoke the handler, run postInvocation hooks, and convert the result back into an RPC invocation response.
 */
import { randomUUID } from 'node:crypto';
import type {
  CoreInvocationContext,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './core-types';
import { coreRegistry, type RegisteredFunction } from './functions-core';

export type InvocationLogSink = (entry: {
  functionName: string;
  invocationId: string;
  level: RpcLogLevel;
  category: RpcLogCategory;
  message: string;
}) => void;

export interface InvocationOutcome {
  invocationId: string;
  response: RpcInvocationResponse;
}

/** App-level hook data shared by every hook, like the worker's `appHookData`. */
export const appHookData: Record<string, unknown> = {};

async function runHooks(name: string, context: Record<string, unknown>): Promise<void> {
  for (const hook of [...(coreRegistry().hooks[name] ?? [])]) {
    await hook(context);
  }
}

function runLogHooks(level: RpcLogLevel, category: RpcLogCategory, message: string, invocationContext: unknown): void {
  const hooks = coreRegistry().hooks['log'] ?? [];
  for (const hook of hooks) {
    try {
      void hook({ hookData: {}, appHookData, level, category, message, invocationContext });
    } catch {
      // A failing log hook must not break the invocation (the worker ignores them too).
    }
  }
}

export async function invoke(
  fn: RegisteredFunction,
  request: RpcInvocationRequest,
  log: InvocationLogSink,
  invocationId: string = randomUUID(),
): Promise<InvocationOutcome> {
  const programmingModel = coreRegistry().programmingModel;
  if (!programmingModel) {
    throw new Error('No programming model was registered: did the function modules load "@azure/functions"?');
  }
  // Set once the library has built the context; log hooks receive it.
  const current: { invocationContext?: unknown } = {};
  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: { ...request, invocationId, functionId: fn.functionId },
    metadata: fn.metadata,
    state: undefined,
    log(level, category, message) {
      log({ functionName: fn.metadata.name, invocationId, level, category, message });
      runLogHooks(level, category, message, current.invocationContext);
    },
  };
  const model = programmingModel.getInvocationModel(coreCtx);
  const { context, inputs } = await model.getArguments();
  current.invocationContext = context;
  const hookData: Record<string, unknown> = {};

  const pre = { hookData, appHookData, invocationContext: context, inputs, functionCallback: fn.callback };
  coreCtx.state = 'preInvocationHooks';
  try {
    await runHooks('preInvocation', pre);
  } finally {
    coreCtx.state = undefined;
  }

  let result: unknown;
  let error: unknown;
  coreCtx.state = 'invocation';
  try {
    result = await model.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (err) {
    error = err;
  } finally {
    coreCtx.state = undefined;
  }

  const post = { hookData, appHookData, invocationContext: context, inputs: pre.inputs, result, error };
  coreCtx.state = 'postInvocationHooks';
  try {
    await runHooks('postInvocation', post);
  } finally {
    coreCtx.state = undefined;
  }
  // Rethrow exactly what the handler (or a hook) threw, as the worker does.
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a handler may throw any value; pass it on unchanged
  if (post.error !== undefined && post.error !== null) throw post.error;
  const response = await model.getResponse(context, post.result);
  return { invocationId, response };
}
