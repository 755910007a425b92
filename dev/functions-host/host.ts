/**
 * A local Azure Functions host for the v4 Node.js programming model, used by `npm start` and by tests on
 * machines without Azure Functions Core Tools. It loads the app's function modules with `@azure/functions-core`
 * resolved to a stand-in, so every `app.*` registration is captured as the real worker receives it, then:
 *  - serves HTTP triggers under `http://<host>:<port>/<routePrefix>/...` (authLevel is not enforced locally);
 *  - polls Storage queue triggers (host.json `extensions.queues`: batch size, visibility timeout, poison queue);
 *  - fires timer triggers on their NCRONTAB schedules;
 *  - writes queue output bindings;
 *  - answers `POST /admin/functions/{name}` (run a non-HTTP function now, body `{ "input": "..." }`),
 *    `GET /admin/functions` and `GET /admin/host/status`, like the real host's admin API.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { RpcInvocationRequest } from './core-types';
import { outputValue, outputsOf, queueMessagesFrom, stringOption, triggerOf } from './bindings';
import { coreRegistry, type RegisteredFunction } from './functions-core';
import { readHostSettings, type HostSettings, type QueueSettings } from './host-json';
import { createHttpFrontEnd, describeHttpRoute } from './http';
import { installFunctionsCore } from './install';
import { appHookData, invoke, type InvocationOutcome } from './invoke';
import { consoleSink, describeError, fromRpcLevel, HostLog, type HostLogLevel, type HostLogSink } from './log';
import { QueueListener, queueInvocationRequest } from './queues';
import { QueueConnections } from './storage';
import { TimerTrigger } from './timers';

export interface FunctionsHostOptions {
  /** HTTP port (default 7071; 0 picks a free one). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** The app's root (host.json, package.json). Default: the project root. */
  appRoot?: string;
  /** Function entry points as package.json `main` names them (a file or `dir/*.js`). Default: package.json main. */
  main?: string;
  /** Every `.js` file in this directory is a function module (instead of `main`). */
  functionsDir?: string;
  /** Explicit function module paths (instead of `main` / `functionsDir`). */
  modules?: string[];
  /** App settings, applied to `process.env` while the host runs (restored by `stop()`). */
  env?: Record<string, string | undefined>;
  /** Storage for triggers and outputs without their own `connection` (default: the `AzureWebJobsStorage` setting). */
  storageConnectionString?: string;
  /** host.json to read (default `<appRoot>/host.json`). */
  hostJsonPath?: string;
  /** Overrides of host.json `extensions.queues` (tests use short visibility timeouts and polling intervals). */
  queues?: Partial<QueueSettings>;
  /** How long a dequeued message stays invisible while its function runs (default: host.json functionTimeout). */
  queueLeaseMs?: number;
  /** Run timers on their schedules (default true; the admin endpoint works either way). */
  timers?: boolean;
  /** Poll queue triggers (default true). */
  queuesEnabled?: boolean;
  /** Where log lines go (default stdout/stderr) and the lowest level printed (default `info`). */
  logSink?: HostLogSink;
  logLevel?: HostLogLevel;
  /** How long `stop()` waits for running invocations (default 5 s). */
  stopGraceMs?: number;
}

export interface FunctionInfo {
  name: string;
  /** `http`, `queue`, `timer`, or the unsupported trigger's type. */
  trigger: string;
  /** `GET,POST /api/route`, the queue name or the schedule. */
  detail: string;
  /** Why the function is not running, if it is in error. */
  error?: string;
}

export interface StartedFunctionsHost {
  /** e.g. `http://127.0.0.1:7071` */
  url: string;
  /** e.g. `http://127.0.0.1:7071/api` */
  apiUrl: string;
  port: number;
  functions: FunctionInfo[];
  /** Modules that failed to load (their functions are missing). */
  loadErrors: Array<{ module: string; error: string }>;
  /** Runs a non-HTTP function now and waits for it (what the admin endpoint does without waiting). */
  run(functionName: string, input?: string): Promise<void>;
  stop(): Promise<void>;
}

function findAppRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'host.json')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No app root (host.json + package.json) above ${from}`);
    dir = parent;
  }
}

/** Resolves the function module files from `modules`, `functionsDir` or package.json `main`. */
export function functionModules(
  options: Pick<FunctionsHostOptions, 'modules' | 'functionsDir' | 'main'>,
  appRoot: string,
): string[] {
  if (options.modules) return options.modules.map((m) => path.resolve(appRoot, m));
  const listJs = (dir: string, suffix = '.js'): string[] =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(suffix) && !f.endsWith('.d.ts'))
          .sort()
          .map((f) => path.join(dir, f))
      : [];
  if (options.functionsDir) return listJs(path.resolve(appRoot, options.functionsDir));
  const main =
    options.main ??
    (JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { main?: string }).main ??
    'index.js';
  const abs = path.resolve(appRoot, main);
  const star = path.basename(abs).match(/^\*(\.[A-Za-z0-9]+)$/);
  if (star) return listJs(path.dirname(abs), star[1]);
  if (main.includes('*'))
    throw new Error(`package.json main "${main}": only "dir/*.ext" patterns are supported locally`);
  return [abs];
}

export async function startFunctionsHost(options: FunctionsHostOptions = {}): Promise<StartedFunctionsHost> {
  installFunctionsCore();
  const appRoot = options.appRoot ?? findAppRoot(__dirname);
  const log = new HostLog(options.logSink ?? consoleSink, options.logLevel ?? 'info');
  const hostSettings: HostSettings = readHostSettings(options.hostJsonPath ?? path.join(appRoot, 'host.json'));
  const queueSettings: QueueSettings = { ...hostSettings.queues, ...options.queues };
  const stopGraceMs = options.stopGraceMs ?? 5000;

  // App settings: visible to the functions through process.env, as the host's environment.
  const previousEnv = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) continue;
    previousEnv.set(key, process.env[key]);
    process.env[key] = value;
  }
  const settings = (): Record<string, string | undefined> => process.env;
  const restoreEnv = (): void => {
    for (const [key, value] of previousEnv) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };

  // Load the function modules and capture their registrations.
  const registry = coreRegistry();
  registry.functions = [];
  registry.hooks = {};
  registry.systemLog = (level, _category, message) => log.write(fromRpcLevel(level), `[host] ${message}`);
  const loadErrors: StartedFunctionsHost['loadErrors'] = [];
  const modules = functionModules(options, appRoot);
  for (const modulePath of modules) {
    try {
      // A fresh load, so a second host in the same process captures the registrations again.
      delete require.cache[modulePath];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the app's entry points, as the worker does
      require(modulePath);
    } catch (error) {
      loadErrors.push({ module: path.relative(appRoot, modulePath), error: describeError(error) });
      log.error(`could not load ${path.relative(appRoot, modulePath)}: ${describeError(error)}`);
    }
  }
  const registered = [...registry.functions];
  if (modules.length > 0 && registered.length === 0 && loadErrors.length === 0) {
    log.warn(
      'no functions were registered: was "@azure/functions" loaded (and cached in test mode) before the host started?',
    );
  }
  let httpProxyUri: string | undefined;
  const programmingModel = registry.programmingModel;
  if (programmingModel?.getCapabilities) {
    const capabilities = await programmingModel.getCapabilities({});
    httpProxyUri = capabilities['HttpUri'];
  }
  await runHooks('appStart', { hookData: {}, appHookData, functionAppDirectory: appRoot });

  const connections = new QueueConnections(
    settings,
    options.storageConnectionString ?? options.env?.['AzureWebJobsStorage'],
  );

  const runInvocation = (fn: RegisteredFunction, request: RpcInvocationRequest, invocationId?: string) =>
    invoke(
      fn,
      request,
      (entry) => {
        const level = fromRpcLevel(entry.level);
        const text = entry.message.length > 2000 ? entry.message.slice(0, 2000) + '…' : entry.message;
        log.write(level, `  [${entry.functionName}] ${text}`);
      },
      invocationId,
    );

  const writeOutputs = async (fn: RegisteredFunction, outcome: InvocationOutcome): Promise<void> => {
    for (const { name, binding } of outputsOf(fn)) {
      const type = binding.type?.toLowerCase();
      if (type === 'http') continue;
      const data = outputValue(outcome.response, name);
      if (data === undefined || data === null) continue;
      if (type !== 'queue') {
        log.warn(`[${fn.metadata.name}] output binding "${name}" of type ${binding.type} is not supported locally`);
        continue;
      }
      const queue = connections.queueFor(binding);
      for (const content of queueMessagesFrom(data)) {
        await connections.send(queue, content, queueSettings.messageEncoding);
      }
    }
  };

  // Wire triggers.
  const functions: FunctionInfo[] = [];
  const httpFunctions: RegisteredFunction[] = [];
  const queueListeners = new Map<string, QueueListener>();
  const timers = new Map<string, TimerTrigger>();
  const byName = new Map<string, RegisteredFunction>();
  for (const fn of registered) {
    const name = fn.metadata.name;
    byName.set(name.toLowerCase(), fn);
    const { binding } = triggerOf(fn);
    const type = binding.type?.toLowerCase();
    try {
      if (type === 'httptrigger') {
        httpFunctions.push(fn);
        functions.push({ name, trigger: 'http', detail: describeHttpRoute(fn, hostSettings.routePrefix) });
      } else if (type === 'queuetrigger') {
        const queue = connections.queueFor(binding);
        const service = connections.service(stringOption(binding, 'connection'));
        queueListeners.set(
          name.toLowerCase(),
          new QueueListener({
            fn,
            queue,
            poisonQueue: service.getQueueClient(`${queue.name}-poison`),
            connections,
            settings: queueSettings,
            leaseMs: options.queueLeaseMs ?? hostSettings.functionTimeoutMs,
            invoke: runInvocation,
            writeOutputs,
            log,
          }),
        );
        functions.push({ name, trigger: 'queue', detail: queue.name });
      } else if (type === 'timertrigger') {
        const timer = new TimerTrigger({ fn, settings, invoke: runInvocation, writeOutputs, log });
        timers.set(name.toLowerCase(), timer);
        functions.push({ name, trigger: 'timer', detail: timer.schedule });
      } else {
        throw new Error(`trigger type "${binding.type}" is not supported by the local host`);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      functions.push({ name, trigger: type?.replace(/trigger$/, '') ?? 'unknown', detail: '', error: message });
      log.error(`function ${name} is in error: ${message}`);
    }
  }

  const runNow = async (functionName: string, input?: string): Promise<void> => {
    const fn = byName.get(functionName.toLowerCase());
    if (!fn) throw Object.assign(new Error(`No function named "${functionName}"`), { status: 404 });
    const timer = timers.get(functionName.toLowerCase());
    if (timer) return timer.fire('admin');
    if (queueListeners.has(functionName.toLowerCase())) {
      // Like the host's admin invoke: the input is the message content, delivered once (no retries).
      const now = new Date();
      const content = Buffer.from(input ?? '', 'utf8');
      const request = queueInvocationRequest(
        fn,
        {
          messageId: 'admin-invocation',
          popReceipt: '',
          dequeueCount: 1,
          insertedOn: now,
          expiresOn: new Date(now.getTime() + 7 * 24 * 3600_000),
          nextVisibleOn: now,
        },
        content,
      );
      const outcome = await runInvocation(fn, request);
      await writeOutputs(fn, outcome);
      return;
    }
    throw Object.assign(new Error(`Function "${fn.metadata.name}" is not a timer or queue function`), { status: 400 });
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!url.pathname.toLowerCase().startsWith('/admin/')) return false;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    const fire = /^\/admin\/functions\/([^/]+)\/?$/i.exec(url.pathname);
    if (fire && req.method === 'POST') {
      const name = decodeURIComponent(fire[1]!);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let input: string | undefined;
      try {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: unknown }) : {};
        input =
          body.input === undefined || body.input === null
            ? undefined
            : typeof body.input === 'string'
              ? body.input
              : JSON.stringify(body.input);
      } catch {
        json(400, { error: 'The body must be JSON: { "input": "..." }' });
        return true;
      }
      const fn = byName.get(name.toLowerCase());
      if (!fn) {
        json(404, { error: `No function named "${name}"` });
        return true;
      }
      if (!timers.has(name.toLowerCase()) && !queueListeners.has(name.toLowerCase())) {
        json(400, { error: `"${fn.metadata.name}" is not a timer or queue function; call its HTTP route instead` });
        return true;
      }
      log.info(`admin: running ${fn.metadata.name}`);
      void runNow(name, input).catch((error: unknown) => log.error(`admin run of ${name}: ${describeError(error)}`));
      res.writeHead(202).end();
      return true;
    }
    if (req.method === 'GET' && /^\/admin\/functions\/?$/i.test(url.pathname)) {
      json(200, functions);
      return true;
    }
    if (req.method === 'GET' && /^\/admin\/host\/status\/?$/i.test(url.pathname)) {
      json(200, { state: 'Running', functions: functions.length, errors: functions.filter((f) => f.error).length });
      return true;
    }
    json(404, { error: 'Unknown admin route' });
    return true;
  };

  const server = http.createServer(
    createHttpFrontEnd({
      routePrefix: hostSettings.routePrefix,
      functions: httpFunctions,
      invoke: runInvocation,
      writeOutputs,
      httpProxyUri,
      admin,
      log,
    }),
  );
  server.keepAliveTimeout = 5000;
  const hostname = options.hostname ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 7071, hostname, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    restoreEnv();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${hostname}:${port}`;

  if (options.queuesEnabled ?? true) for (const listener of queueListeners.values()) listener.start();
  if (options.timers ?? true) for (const timer of timers.values()) timer.start();

  let stopping: Promise<void> | undefined;
  return {
    url,
    apiUrl: hostSettings.routePrefix ? `${url}/${hostSettings.routePrefix}` : url,
    port,
    functions,
    loadErrors,
    run: runNow,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.all([
          ...[...queueListeners.values()].map((l) => l.stop(stopGraceMs)),
          ...[...timers.values()].map((t) => t.stop(stopGraceMs)),
        ]);
        const forced = setTimeout(() => server.closeAllConnections(), stopGraceMs);
        await closed;
        clearTimeout(forced);
        try {
          await runHooks('appTerminate', { hookData: {}, appHookData });
        } catch (error) {
          log.warn(`appTerminate hook failed: ${describeError(error)}`);
        }
        restoreEnv();
      })();
      return stopping;
    },
  };
}

async function runHooks(name: string, context: Record<string, unknown>): Promise<void> {
  for (const hook of [...(coreRegistry().hooks[name] ?? [])]) await hook(context);
}
