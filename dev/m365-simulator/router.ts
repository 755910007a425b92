/**
 * The simulator's router and request pipeline: pattern matching, request parsing, the Graph pipeline
 * (token → permission → mailbox → throttling → faults → handler), response writing (JSON, text, Buffer,
 * streams; no content-type on empty 202/204), Graph error rendering and `dispatch` for `$batch`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable, finished } from 'node:stream';
import {
  SimHttpError,
  type RouteContext,
  type RouteHandler,
  type RouteOptions,
  type SimRequest,
  type SimResponse,
  type SimRouter,
} from './contract';
import type { GraphFlavour, GraphGate } from './graph-auth';
import type { Counters, Faults, Limits } from './limits';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** Which service a route stands in for: decides error shapes, counting, throttling and faults. */
export type RouteKind = 'graph' | 'entra' | 'keyvault' | 'control' | 'other';

/** The core's own registration options (a superset of the contract's `RouteOptions`). */
export interface CoreRouteOptions extends RouteOptions {
  /** Default: `graph` for `auth: 'graph'`, `control` for `/_sim/...`, else `other`. */
  kind?: RouteKind;
  /** `directory` for `/users/{user}` itself (directory errors, no mailbox scope / limits). Default `exchange`. */
  flavour?: GraphFlavour;
}

export const GRAPH_JSON = 'application/json; odata.metadata=minimal';
/** Largest request body accepted (Exchange's maximum message size is 150 MB with upload sessions). */
const MAX_BODY_BYTES = 160 * 1024 * 1024;

interface Route {
  method: string;
  pattern: string;
  /** `METHOD pattern`: the counters' key. */
  key: string;
  /** Literal segments lower-cased; params as `{ param }`. */
  segments: (string | { param: string })[];
  handler: RouteHandler;
  kind: RouteKind;
  auth: 'graph' | 'none';
  anyOf?: string[];
  flavour: GraphFlavour;
}

export interface RouterServices {
  baseUrl: () => string;
  now: () => Date;
  gate: GraphGate;
  limits: Limits;
  faults: Faults;
  counters: Counters;
  /** Unexpected handler errors (defaults to console.error). */
  logError?: (message: string, error: unknown) => void;
}

interface Incoming {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  clientRequestId: string;
}

interface Outcome {
  response: SimResponse;
  kind: RouteKind;
  drop: boolean;
  release: () => void;
}

const noop = (): void => undefined;

export class CoreRouter implements SimRouter {
  private readonly routes: Route[] = [];

  constructor(private readonly services: RouterServices) {}

  add(method: HttpMethod, pattern: string, handler: RouteHandler, options: CoreRouteOptions): void {
    if (!pattern.startsWith('/')) throw new Error(`Route pattern must start with '/': ${pattern}`);
    const segments = splitPath(pattern).map((segment) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(segment);
      if (param?.[1]) return { param: param[1] };
      if (segment.includes('{') || segment.includes('}'))
        throw new Error(`Bad route segment '${segment}' in ${pattern}`);
      return segment.toLowerCase();
    });
    const kind =
      options.kind ?? (options.auth === 'graph' ? 'graph' : pattern.startsWith('/_sim/') ? 'control' : 'other');
    const key = `${method} ${pattern}`;
    if (this.routes.some((r) => r.key === key)) throw new Error(`Route registered twice: ${key}`);
    const route: Route = {
      method,
      pattern,
      key,
      segments,
      handler,
      kind,
      auth: options.auth,
      flavour: options.flavour ?? 'exchange',
    };
    if (options.anyOf) route.anyOf = [...options.anyOf];
    this.routes.push(route);
  }

  /** Serves one HTTP request (the server's request listener). */
  async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const clientRequestId = firstHeader(req.headers['client-request-id']) ?? requestId;
    let release = noop;
    let closed = false;
    res.once('close', () => {
      closed = true;
      release();
    });
    const rawUrl = req.url ?? '/';
    // Origin-form targets (`/path?query`, even `//path`) are paths; absolute-form ones are parsed as URLs.
    const url = rawUrl.startsWith('/')
      ? new URL(`https://simulator.invalid${rawUrl}`)
      : new URL(rawUrl, 'https://simulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname.startsWith('/_sim/') && !isLoopback(req.socket.remoteAddress)) {
      this.write(
        res,
        this.errorOutcome(
          'control',
          new SimHttpError(403, 'Forbidden', 'The control API only answers loopback clients.'),
          { requestId, clientRequestId },
        ),
      );
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof SimHttpError) {
        res.setHeader('connection', 'close');
        this.write(res, this.errorOutcome(pathKind(url.pathname), error, { requestId, clientRequestId }));
      } else {
        res.destroy();
      }
      return;
    }
    const outcome = await this.execute({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      requestId,
      clientRequestId,
    });
    release = outcome.release;
    if (closed) {
      release();
      destroyBody(outcome.response.body);
      return;
    }
    if (outcome.drop) {
      req.socket.destroy();
      return;
    }
    // A request stops counting against the mailbox's concurrency once the server has produced its response (a
    // buffered body: now; a streamed one: when the stream ends), as on Exchange — not when the socket reports
    // 'close', which can come after the client has read the body and sent its next request (a phantom fifth
    // request and a spurious 429 for a client that keeps exactly four in flight).
    const produced = outcome.response.body;
    if (produced instanceof Readable) produced.once('end', () => release());
    else release();
    this.write(res, outcome);
  }

  /** Runs a sub-request through the full pipeline (auth, limits, faults, handler): used by `$batch`. */
  async dispatch(request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<SimResponse> {
    const url = dispatchUrl(request.url);
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
    let body: Buffer;
    if (request.body === undefined || request.body === null) body = Buffer.alloc(0);
    else if (Buffer.isBuffer(request.body)) body = request.body;
    else if (typeof request.body === 'string') body = Buffer.from(request.body, 'utf8');
    else {
      body = Buffer.from(JSON.stringify(request.body), 'utf8');
      headers['content-type'] ??= 'application/json';
    }
    const requestId = randomUUID();
    const clientRequestId = firstHeader(headers['client-request-id']) ?? requestId;
    const outcome = await this.execute({
      method: request.method.toUpperCase(),
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
      requestId,
      clientRequestId,
    });
    if (outcome.drop) {
      // A sub-request cannot lose its connection: the batch reports what a gateway would.
      outcome.release();
      return this.errorOutcome('graph', new SimHttpError(504, 'GatewayTimeout', 'The request timed out.'), {
        requestId,
        clientRequestId,
      }).response;
    }
    const response = outcome.response;
    const streamed = response.body instanceof Readable ? response.body : undefined;
    if (streamed) finished(streamed, () => outcome.release());
    else outcome.release();
    return response;
  }

  private async execute(incoming: Incoming): Promise<Outcome> {
    const ids = { requestId: incoming.requestId, clientRequestId: incoming.clientRequestId };
    let kind = pathKind(incoming.path);
    let release = noop;
    try {
      const matched = this.match(incoming.method, incoming.path);
      const route = matched.route;
      if (!route) throw unmatched(incoming.method, incoming.path, matched.methodNotAllowed);
      kind = route.kind;
      const { counters, gate, limits, faults } = this.services;
      const prefer = parsePrefer(incoming.headers['prefer']);
      const ctx: RouteContext = { immutableIds: prefer.immutableIds, baseUrl: this.services.baseUrl() };
      if (prefer.maxPageSize !== undefined) ctx.maxPageSize = prefer.maxPageSize;
      if (kind !== 'control') counters.route(route.key);

      let mailboxKeys: string[] | undefined;
      if (route.auth === 'graph') {
        counters.graphRequest();
        const caller = await gate.authenticate(incoming.headers);
        ctx.caller = caller;
        gate.checkPermission(caller, route.anyOf, route.flavour);
        const userParam = matched.params['user'];
        if (userParam !== undefined) {
          const user = gate.resolveUser(caller, userParam, route.flavour);
          ctx.mailbox = user;
          const label = user.userPrincipalName.toLowerCase();
          mailboxKeys = [label, user.id, user.mail.toLowerCase()];
          counters.mailboxRequest(label);
          if (route.flavour === 'exchange') release = limits.acquire(caller.appId, user.id, label);
        }
      }

      if (kind !== 'control') {
        const fault = faults.decide({
          method: incoming.method,
          path: incoming.path,
          routeKey: route.key,
          graph: route.auth === 'graph',
          ...(mailboxKeys ? { mailboxKeys } : {}),
        });
        if (fault) {
          if (fault.latencyMs > 0) await sleep(fault.latencyMs);
          if (fault.drop) return { response: { status: 0 }, kind, drop: true, release };
          if (fault.status !== undefined) throw faultError(kind, fault.status, fault.retryAfterSeconds);
        }
      }

      const req = simRequest(incoming, matched.params);
      const response = await route.handler(req, ctx);
      if (route.auth === 'graph' && response.status < 300 && prefer.applied.length > 0) {
        const headers = lowerCaseHeaders(response.headers);
        headers['preference-applied'] ??= prefer.applied.join(', ');
        response.headers = headers;
      }
      return { response: this.decorate(response, kind, ids), kind, drop: false, release };
    } catch (error) {
      if (!(error instanceof SimHttpError)) {
        (this.services.logError ?? defaultLogError)(`${incoming.method} ${incoming.path} failed`, error);
      }
      const simError =
        error instanceof SimHttpError
          ? error
          : new SimHttpError(500, 'InternalServerError', 'The simulator failed to process the request.');
      const outcome = this.errorOutcome(kind, simError, ids);
      return { ...outcome, release };
    }
  }

  private match(
    method: string,
    path: string,
  ): { route?: Route; params: Record<string, string>; methodNotAllowed: boolean } {
    let segments: string[];
    try {
      segments = splitPath(path).map((s) => decodeURIComponent(s));
    } catch {
      return { params: {}, methodNotAllowed: false };
    }
    const lower = segments.map((s) => s.toLowerCase());
    let best: Route | undefined;
    let methodNotAllowed = false;
    for (const route of this.routes) {
      if (route.segments.length !== segments.length) continue;
      if (!route.segments.every((s, i) => typeof s !== 'string' || s === lower[i])) continue;
      if (route.method !== method) {
        methodNotAllowed = true;
        continue;
      }
      if (!best || moreSpecific(route, best)) best = route;
    }
    if (!best) return { params: {}, methodNotAllowed };
    const params: Record<string, string> = {};
    best.segments.forEach((s, i) => {
      if (typeof s !== 'string') params[s.param] = segments[i] ?? '';
    });
    return { route: best, params, methodNotAllowed: false };
  }

  private decorate(
    response: SimResponse,
    kind: RouteKind,
    ids: { requestId: string; clientRequestId: string },
  ): SimResponse {
    const headers: Record<string, string> = {
      'request-id': ids.requestId,
      'client-request-id': ids.clientRequestId,
    };
    if (kind === 'keyvault' || kind === 'entra') headers['x-ms-request-id'] = ids.requestId;
    Object.assign(headers, lowerCaseHeaders(response.headers));
    const body = response.body;
    if (body !== undefined && body !== null && headers['content-type'] === undefined) {
      if (typeof body === 'string') headers['content-type'] = 'text/plain; charset=utf-8';
      else if (Buffer.isBuffer(body) || body instanceof Uint8Array || body instanceof Readable) {
        headers['content-type'] = 'application/octet-stream';
      } else
        headers['content-type'] = kind === 'graph' || kind === 'other' ? GRAPH_JSON : 'application/json; charset=utf-8';
    }
    return { status: response.status, headers, body };
  }

  private errorOutcome(
    kind: RouteKind,
    error: SimHttpError,
    ids: { requestId: string; clientRequestId: string },
  ): Outcome {
    const date = this.services.now();
    let body: unknown;
    if (kind === 'keyvault') {
      body = { error: { code: error.code, message: error.message } };
    } else if (kind === 'entra') {
      const codes = /^AADSTS(\d+)/.exec(error.message);
      const timestamp = date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
      body = {
        error: error.code,
        error_description: `${error.message}\r\nTrace ID: ${ids.requestId}\r\nCorrelation ID: ${ids.clientRequestId}\r\nTimestamp: ${timestamp}`,
        error_codes: codes?.[1] ? [Number(codes[1])] : [],
        timestamp,
        trace_id: ids.requestId,
        correlation_id: ids.clientRequestId,
      };
    } else {
      body = graphErrorBody(error.code, error.message, ids, date);
    }
    const response = this.decorate({ status: error.status, headers: error.headers, body }, kind, ids);
    return { response, kind, drop: false, release: noop };
  }

  private write(res: ServerResponse, outcome: Outcome): void {
    const { status, headers = {}, body } = outcome.response;
    const empty = body === undefined || body === null || status === 204 || status === 304;
    if (empty) {
      delete headers['content-type'];
      destroyBody(body);
    }
    if (!empty && body instanceof Readable) {
      res.writeHead(status, headers);
      body.once('error', () => res.destroy());
      res.once('close', () => {
        if (!body.readableEnded) body.destroy();
      });
      body.pipe(res);
      return;
    }
    let payload: Buffer;
    if (empty) payload = Buffer.alloc(0);
    else if (Buffer.isBuffer(body)) payload = body;
    else if (body instanceof Uint8Array) payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else if (typeof body === 'string') payload = Buffer.from(body, 'utf8');
    else payload = Buffer.from(JSON.stringify(body), 'utf8');
    // RFC 9110: no Content-Length on 204 / 304.
    if (status !== 204 && status !== 304) headers['content-length'] = String(payload.length);
    res.writeHead(status, headers);
    res.end(payload);
  }
}

/* ---------------------------------------------------------------------------------------------------- */

export function graphErrorBody(
  code: string,
  message: string,
  ids: { requestId: string; clientRequestId: string },
  date: Date,
): { error: { code: string; message: string; innerError: Record<string, string> } } {
  return {
    error: {
      code,
      message,
      innerError: {
        date: date.toISOString().replace(/\.\d+Z$/, ''),
        'request-id': ids.requestId,
        'client-request-id': ids.clientRequestId,
      },
    },
  };
}

function faultError(kind: RouteKind, status: 429 | 500 | 503, retryAfterSeconds: number | undefined): SimHttpError {
  const headers: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  if (kind === 'entra') {
    return status === 500
      ? new SimHttpError(500, 'server_error', 'AADSTS90100: An internal error occurred. Please try again.', headers)
      : new SimHttpError(
          status,
          'temporarily_unavailable',
          'AADSTS90033: A transient error has occurred. Please try again.',
          headers,
        );
  }
  if (kind === 'keyvault') {
    if (status === 429)
      return new SimHttpError(
        429,
        'Throttled',
        'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
        headers,
      );
    if (status === 503)
      return new SimHttpError(
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable. Please retry.',
        headers,
      );
    return new SimHttpError(500, 'InternalServerError', 'An internal server error occurred.', headers);
  }
  if (status === 429)
    return new SimHttpError(
      429,
      'TooManyRequests',
      'Too many requests. Please retry after the delay given in Retry-After.',
      headers,
    );
  if (status === 503)
    return new SimHttpError(
      503,
      'ServiceNotAvailable',
      'The service is temporarily unavailable. Please retry after the delay given in Retry-After.',
      headers,
    );
  return new SimHttpError(500, 'InternalServerError', 'An internal server error occurred.', headers);
}

function unmatched(method: string, path: string, methodNotAllowed: boolean): SimHttpError {
  if (methodNotAllowed) {
    return new SimHttpError(405, 'BadRequest', `The HTTP method '${method}' is not supported for '${path}'.`);
  }
  const segments = splitPath(path);
  if (segments[0] === 'v1.0' || segments[0] === 'beta') {
    const last = segments[segments.length - 1] ?? '';
    return new SimHttpError(400, 'BadRequest', `Resource not found for the segment '${last}'.`);
  }
  return new SimHttpError(404, 'NotFound', `No simulated resource at ${method} ${path}.`);
}

function pathKind(path: string): RouteKind {
  if (path.startsWith('/_sim/')) return 'control';
  if (/^\/(v1\.0|beta)(\/|$)/.test(path)) return 'graph';
  if (/^\/(secrets|deletedsecrets)(\/|$)/.test(path)) return 'keyvault';
  if (/\/oauth2\/|\/discovery\/|\/\.well-known\//.test(path)) return 'entra';
  return 'other';
}

/** Is `a` a better match than `b`? Literal segments beat parameters, left to right. */
function moreSpecific(a: Route, b: Route): boolean {
  for (let i = 0; i < a.segments.length; i++) {
    const aLiteral = typeof a.segments[i] === 'string';
    const bLiteral = typeof b.segments[i] === 'string';
    if (aLiteral !== bLiteral) return aLiteral;
  }
  return false;
}

function splitPath(path: string): string[] {
  const segments = path.split('/').slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  return segments;
}

function simRequest(incoming: Incoming, params: Record<string, string>): SimRequest {
  let parsed: { value: unknown } | undefined;
  return {
    method: incoming.method,
    path: incoming.path,
    params,
    query: incoming.query,
    headers: incoming.headers,
    body: incoming.body,
    json<T = unknown>(): T {
      if (!parsed) {
        const text = incoming.body.toString('utf8');
        if (text.trim() === '') throw new SimHttpError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
        try {
          parsed = { value: JSON.parse(text) };
        } catch {
          throw new SimHttpError(
            400,
            'BadRequest',
            'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
          );
        }
      }
      return parsed.value as T;
    },
  };
}

interface Prefer {
  immutableIds: boolean;
  maxPageSize?: number;
  applied: string[];
}

/** Parses `Prefer: IdType="ImmutableId", odata.maxpagesize=50` (one or several headers). */
export function parsePrefer(header: string | string[] | undefined): Prefer {
  const result: Prefer = { immutableIds: false, applied: [] };
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const part of values.flatMap((v) => v.split(','))) {
    const [rawName, ...rest] = part.split('=');
    const name = (rawName ?? '').trim().toLowerCase();
    const value = rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name === 'idtype' && value.toLowerCase() === 'immutableid') {
      result.immutableIds = true;
      result.applied.push('IdType="ImmutableId"');
    } else if (name === 'odata.maxpagesize' && /^\d+$/.test(value) && Number(value) > 0) {
      result.maxPageSize = Number(value);
      result.applied.push(`odata.maxpagesize=${Number(value)}`);
    }
  }
  return result;
}

function dispatchUrl(raw: string): URL {
  if (/^https?:\/\//i.test(raw)) return new URL(raw);
  const relative = raw.replace(/^\/+/, '');
  const path = /^(v1\.0|beta)(\/|$|\?)/i.test(relative) ? `/${relative}` : `/v1.0/${relative}`;
  return new URL(path, 'https://simulator.invalid');
}

function lowerCaseHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) result[name.toLowerCase()] = value;
  return result;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isLoopback(address: string | undefined): boolean {
  return (
    address === '127.0.0.1' ||
    address === '::1' ||
    address === '::ffff:127.0.0.1' ||
    (address?.startsWith('127.') ?? false)
  );
}

function destroyBody(body: unknown): void {
  if (body instanceof Readable) body.destroy();
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new SimHttpError(413, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new SimHttpError(413, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`);
    chunks.push(buffer);
  }
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function defaultLogError(message: string, error: unknown): void {
  console.error(`[m365-simulator] ${message}:`, error);
}
