/**
 * The HTTP front end: matches `/<routePrefix>/<route>` against the registered HTTP triggers and turns each
 * request into the RPC invocation request the Functions host sends to the worker (method, url, headers, query,
 * route params, body bytes). The response comes back as the RPC http output (status, headers, cookies, body).
 * When the app enabled HTTP streaming (`app.setup({ enableHttpStream: true })`), the request and response
 * travel instead through the library's HTTP proxy, as with the real host (true streaming both ways).
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationRequest, RpcNullableString, RpcTypedData } from './core-types';
import { outputValue, outputsOf, stringOption, triggerOf } from './bindings';
import type { RegisteredFunction } from './functions-core';
import type { InvocationOutcome } from './invoke';
import { describeError, elapsed, type HostLog } from './log';
import { byPrecedence, compileRoute, type CompiledRoute } from './routes';

const MAX_BODY_BYTES = 100 * 1024 * 1024;

export interface HttpFrontEndDeps {
  routePrefix: string;
  functions: RegisteredFunction[];
  invoke(fn: RegisteredFunction, request: RpcInvocationRequest, invocationId?: string): Promise<InvocationOutcome>;
  /** Writes the function's non-HTTP outputs (queue messages) before the response is sent, as the host does. */
  writeOutputs(fn: RegisteredFunction, outcome: InvocationOutcome): Promise<void>;
  /** Set when the app enabled HTTP streaming: the library's proxy (`HttpUri` capability). */
  httpProxyUri: string | undefined;
  /** Handles `/admin/...`; returns false when the path is not an admin route. */
  admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  log: HostLog;
}

interface HttpRoute {
  fn: RegisteredFunction;
  triggerName: string;
  route: CompiledRoute;
}

export function describeHttpRoute(fn: RegisteredFunction, routePrefix: string): string {
  const { binding } = triggerOf(fn);
  const methods = Array.isArray(binding['methods']) ? (binding['methods'] as string[]).join(',') : 'ANY';
  const route = stringOption(binding, 'route') ?? fn.metadata.name;
  return `${methods} /${[routePrefix, route.replace(/^\/+/, '')].filter(Boolean).join('/')}`;
}

export function createHttpFrontEnd(deps: HttpFrontEndDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const routes: HttpRoute[] = deps.functions
    .map((fn) => {
      const { name, binding } = triggerOf(fn);
      const template = stringOption(binding, 'route') ?? fn.metadata.name;
      const methods = Array.isArray(binding['methods']) ? (binding['methods'] as string[]) : undefined;
      const full = [deps.routePrefix, template.replace(/^\/+/, '')].filter(Boolean).join('/');
      return { fn, triggerName: name, route: compileRoute(full, methods) };
    })
    .sort((a, b) => byPrecedence(a.route, b.route));

  return (req, res) => {
    void handle(req, res).catch((error: unknown) => {
      deps.log.error(`HTTP ${req.method} ${req.url}: ${describeError(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '127.0.0.1';
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (await deps.admin(req, res, url)) return;
    const method = (req.method ?? 'GET').toUpperCase();
    let pathMatched = false;
    for (const candidate of routes) {
      const params = candidate.route.match(url.pathname);
      if (!params) continue;
      pathMatched = true;
      if (candidate.route.methods && !candidate.route.methods.includes(method)) continue;
      await run(candidate, params, req, res, url);
      return;
    }
    if (url.pathname === '/' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Local functions host is running.\n');
      return;
    }
    // The Functions host answers 404 both for unknown routes and for a method the route does not accept.
    deps.log.debug(`${method} ${url.pathname} → 404${pathMatched ? ' (method not allowed)' : ''}`);
    res.writeHead(404).end();
  }

  async function run(
    target: HttpRoute,
    params: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<void> {
    const startedAt = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const name = target.fn.metadata.name;
    const headers = flattenHeaders(req);
    const query = joinedQuery(url);
    const triggerMetadata: Record<string, RpcTypedData> = {
      Headers: { json: JSON.stringify(headers) },
      Query: { json: JSON.stringify(query) },
    };
    for (const [key, value] of Object.entries(params)) triggerMetadata[key] = { string: value };

    const label = `${method} ${url.pathname}`;
    if (deps.httpProxyUri) {
      await runStreaming(target, req, res, url, headers, triggerMetadata, label, startedAt);
      return;
    }

    const body = await readBody(req);
    const rpcHttp: RpcHttpData = {
      method,
      url: url.toString(),
      headers,
      nullableHeaders: toNullable(headers),
      query,
      nullableQuery: toNullable(query),
      params,
      nullableParams: toNullable(params),
      ...(body.length > 0 ? { body: { bytes: body }, rawBody: { bytes: body } } : {}),
    };
    let outcome: InvocationOutcome;
    try {
      outcome = await deps.invoke(target.fn, {
        inputData: [{ name: target.triggerName, data: { http: rpcHttp } }],
        triggerMetadata,
      });
      await deps.writeOutputs(target.fn, outcome);
    } catch (error) {
      deps.log.error(`${label} → 500 in ${elapsed(startedAt)} [${name}] ${describeError(error)}`);
      res.writeHead(500).end();
      return;
    }
    const httpOut = outputsOf(target.fn).find((o) => o.binding.type?.toLowerCase() === 'http');
    const data = httpOut ? outputValue(outcome.response, httpOut.name)?.http : undefined;
    const status = writeRpcResponse(res, data);
    deps.log.info(`${label} → ${status} in ${elapsed(startedAt)} [${name}]`);
  }

  async function runStreaming(
    target: HttpRoute,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    headers: Record<string, string>,
    triggerMetadata: Record<string, RpcTypedData>,
    label: string,
    startedAt: number,
  ): Promise<void> {
    const invocationId = randomUUID();
    const proxyUrl = new URL(url.pathname + url.search, deps.httpProxyUri);
    const proxyReq = http.request(proxyUrl, {
      method: req.method,
      headers: {
        ...req.headers,
        'x-ms-invocation-id': invocationId,
        'x-forwarded-host': url.host,
        'x-forwarded-proto': 'http',
      },
    });
    const proxied = new Promise<number>((resolve, reject) => {
      proxyReq.once('response', (proxyRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [key, value] of Object.entries(proxyRes.headers)) {
          if (value !== undefined && key !== 'x-ms-invocation-id' && key !== 'connection' && key !== 'keep-alive')
            out[key] = value;
        }
        res.writeHead(proxyRes.statusCode ?? 200, out);
        proxyRes.pipe(res);
        proxyRes.once('end', () => resolve(proxyRes.statusCode ?? 200));
        proxyRes.once('error', reject);
      });
      proxyReq.once('error', reject);
    });
    req.pipe(proxyReq);
    const rpcHttp: RpcHttpData = { method: req.method ?? 'GET', url: url.toString(), headers };
    try {
      const outcome = await deps.invoke(
        target.fn,
        { inputData: [{ name: target.triggerName, data: { http: rpcHttp } }], triggerMetadata },
        invocationId,
      );
      await deps.writeOutputs(target.fn, outcome);
      const status = await proxied;
      deps.log.info(`${label} → ${status} in ${elapsed(startedAt)} [${target.fn.metadata.name}] (streamed)`);
    } catch (error) {
      proxyReq.destroy();
      deps.log.error(`${label} → 500 in ${elapsed(startedAt)} [${target.fn.metadata.name}] ${describeError(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  }
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** The host passes the query as a map; a repeated parameter arrives comma-joined. */
function joinedQuery(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  return query;
}

function toNullable(map: Record<string, string>): Record<string, RpcNullableString> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, { value: v }]));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error(`Request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function bodyBytes(body: RpcTypedData | null | undefined): Buffer | undefined {
  if (!body) return undefined;
  if (body.bytes) return Buffer.from(body.bytes);
  if (body.stream) return Buffer.from(body.stream);
  if (typeof body.string === 'string') return Buffer.from(body.string, 'utf8');
  if (typeof body.json === 'string') return Buffer.from(body.json, 'utf8');
  if (typeof body.int === 'number' || typeof body.double === 'number')
    return Buffer.from(String(body.int ?? body.double));
  return undefined;
}

/** Writes the RPC http output to the client; no output at all is an empty 204. Returns the status sent. */
function writeRpcResponse(res: ServerResponse, data: RpcHttpData | null | undefined): number {
  if (!data) {
    res.writeHead(204).end();
    return 204;
  }
  const status = Number.parseInt(data.statusCode ?? '200', 10) || 200;
  const headers: Record<string, string | string[]> = { ...(data.headers ?? {}) };
  const cookies = (data.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = bodyBytes(data.body);
  if (body && status !== 204 && status !== 304) headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(body && status !== 204 && status !== 304 ? body : undefined);
  return status;
}

function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${encodeURIComponent(cookie.value ?? '')}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const seconds = cookie.expires?.value?.seconds;
  if (typeof seconds === 'number') parts.push(`Expires=${new Date(seconds * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${Math.floor(cookie.maxAge.value)}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None', none: undefined }[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}
