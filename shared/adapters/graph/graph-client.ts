/**
 * The Microsoft Graph client (`@microsoft/microsoft-graph-client` v3) with **our own middleware chain**:
 *
 *   ErrorNormaliser → LinkGuard → Authentication → PreferHeaders → HTTPMessageHandler (Node fetch, keep-alive)
 *
 * - No RetryHandler and no RedirectHandler: the sync engine's throttle governor is the single retry layer, and
 *   redirects are not followed (`redirect: 'manual'`; a 3xx becomes an error), so a token never follows one.
 * - LinkGuard: every request goes to the exact URL we computed or Graph gave us (nextLink / deltaLink are
 *   called as is, never re-encoded), and only on the configured Graph origin (scheme, host and port) under its
 *   version path. Anything else is refused before a token is even acquired.
 * - Authentication: `Authorization: Bearer` from the token source, only for that origin. Never logged.
 * - PreferHeaders: `Prefer: IdType="ImmutableId"` on every request, merged with `odata.maxpagesize=N` when
 *   the call asks for a page size.
 * - ErrorNormaliser: network failures, token failures, refused links and non-2xx responses all become one
 *   `MailSourceError` (error bodies are read, bounded, so the connection is reused); a response-headers
 *   timeout aborts stuck requests.
 *
 * Errors travel through the Graph client inside a `GraphClientError` (the only error type it rethrows as is)
 * and are unwrapped by `GraphHttp`, which every adapter call goes through.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream, ReadableStreamReadResult } from 'node:stream/web';
import {
  Client,
  GraphClientError,
  HTTPMessageHandler,
  ResponseType,
  type Context,
  type Middleware,
  type MiddlewareOptions,
} from '@microsoft/microsoft-graph-client';
import type { ByteStream } from '../../domain/ports/blob-store';
import { systemClock, type Clock } from '../../domain/ports/clock';
import { silentLogger, type Logger } from '../../domain/ports/logger';
import { MailSourceError, isMailSourceError } from '../../domain/ports/mail-source';
import { errorFromResponse, invalidResponse, linkNotAllowed, networkError, tokenError } from './errors';

/** Where the access token comes from (one service principal). */
export interface GraphTokenSource {
  /** A valid access token for the principal's Graph resource. Throws the token provider's errors. */
  getAccessToken(): Promise<string>;
  /** Drop any cached token: the next `getAccessToken` must ask Entra ID again (after a 401 from Graph). */
  invalidate(): Promise<void>;
}

/** A parsed Graph endpoint such as `https://graph.microsoft.com/v1.0`. */
export interface GraphEndpoint {
  /** `https://graph.microsoft.com` (lower-case host, default port omitted). */
  origin: string;
  /** `v1.0` or `beta`. */
  version: string;
  /** `https://graph.microsoft.com/v1.0`: what relative paths are appended to. */
  base: string;
  /** `graph.microsoft.com` (no port): the Graph client's custom host. */
  hostname: string;
}

export function parseGraphEndpoint(graphApiEndpoint: string): GraphEndpoint {
  let url: URL;
  try {
    url = new URL(graphApiEndpoint.trim());
  } catch {
    throw new Error('The Graph endpoint is not a valid URL.');
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const version = segments[0];
  if (url.protocol !== 'https:') throw new Error('The Graph endpoint must use https.');
  if (url.username || url.password || url.search || url.hash) {
    throw new Error('The Graph endpoint must not contain credentials, a query or a fragment.');
  }
  if (segments.length !== 1 || version === undefined) {
    throw new Error('The Graph endpoint must be the host followed by the API version, e.g. /v1.0.');
  }
  return { origin: url.origin, version, base: `${url.origin}/${version}`, hostname: url.hostname };
}

/**
 * Checks that `link` may be called with this principal's token: https, the endpoint's exact origin, under its
 * version path, without credentials. Returns nothing; throws `MailSourceError` `GraphLinkNotAllowed`.
 */
export function assertGraphLink(endpoint: GraphEndpoint, link: string): void {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw linkNotAllowed(link, 'it is not an absolute URL');
  }
  if (url.protocol !== 'https:') throw linkNotAllowed(link, 'it does not use https');
  if (url.username || url.password) throw linkNotAllowed(link, 'it contains credentials');
  if (url.origin !== endpoint.origin) throw linkNotAllowed(link, `it is not on ${endpoint.origin}`);
  if (!url.pathname.startsWith(`/${endpoint.version}/`)) {
    throw linkNotAllowed(link, `it is not under /${endpoint.version}/`);
  }
}

/** Per-call options the middleware chain reads (attached with `GraphRequest.middlewareOptions`). */
export class GraphCallOptions implements MiddlewareOptions {
  constructor(
    /** The exact URL to call (already checked against the endpoint). */
    readonly url: string,
    /** `Prefer: odata.maxpagesize`. */
    readonly pageSize?: number,
  ) {}
}

// -----------------------------------------------------------------------------------------------------------
// Errors through the Graph client

/** The Graph client rethrows `GraphClientError`s untouched (anything else becomes a `GraphError`). */
const carried = new WeakMap<object, MailSourceError>();

function carry(failure: MailSourceError): GraphClientError {
  const carrier = new GraphClientError(failure.message);
  carried.set(carrier, failure);
  return carrier;
}

/** Whatever the client threw → the MailSourceError it carries (or a best-effort mapping). */
export function unwrapGraphFailure(error: unknown): MailSourceError {
  if (isMailSourceError(error)) return error;
  if (error !== null && typeof error === 'object') {
    const failure = carried.get(error);
    if (failure) return failure;
    // A GraphError from the client itself (should not happen with our chain): keep its status and code.
    const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
    if (typeof e.statusCode === 'number' && e.statusCode > 0) {
      return new MailSourceError(
        e.statusCode,
        typeof e.code === 'string' && e.code ? e.code : `HTTP_${e.statusCode}`,
        typeof e.message === 'string' ? e.message : 'Microsoft Graph request failed.',
        { cause: error },
      );
    }
  }
  return networkError(error);
}

function toFailure(error: unknown): MailSourceError {
  if (isMailSourceError(error)) return error;
  if (error !== null && typeof error === 'object') {
    const failure = carried.get(error);
    if (failure) return failure;
  }
  return networkError(error);
}

// -----------------------------------------------------------------------------------------------------------
// Middleware

abstract class ChainLink implements Middleware {
  private nextLink: Middleware | undefined;

  setNext(next: Middleware): void {
    this.nextLink = next;
  }

  protected async next(context: Context): Promise<void> {
    if (!this.nextLink) throw new Error('Graph middleware chain is incomplete.');
    await this.nextLink.execute(context);
  }

  abstract execute(context: Context): Promise<void>;
}

function callOptions(context: Context): GraphCallOptions | undefined {
  const option = context.middlewareControl?.getMiddlewareOptions(GraphCallOptions);
  return option instanceof GraphCallOptions ? option : undefined;
}

/** The request's headers as a `Headers` object (the Graph client hands over a plain record). */
function headersOf(context: Context): Headers {
  const options = (context.options ??= {});
  if (options.headers instanceof Headers) return options.headers;
  const headers = new Headers(options.headers);
  options.headers = headers;
  return headers;
}

function requestUrl(context: Context): string {
  const request: unknown = context.request;
  if (typeof request === 'string') return request;
  if (request instanceof Request) return request.url;
  return String(request);
}

export interface ErrorNormaliserOptions {
  clock: Clock;
  /** Abort a request whose response headers have not arrived after this long. Default 100 s. */
  requestTimeoutMs: number;
  logger: Logger;
}

/** Outermost: timeouts, and every failure (thrown or non-2xx) → MailSourceError. */
export class ErrorNormaliser extends ChainLink {
  constructor(private readonly options: ErrorNormaliserOptions) {
    super();
  }

  async execute(context: Context): Promise<void> {
    const started = Date.now();
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new DOMException('Response headers timed out', 'TimeoutError')),
      this.options.requestTimeoutMs,
    );
    const fetchOptions = (context.options ??= {});
    fetchOptions.signal = abort.signal;
    fetchOptions.redirect = 'manual';
    headersOf(context).set('client-request-id', randomUUID());
    try {
      await this.next(context);
    } catch (error) {
      const failure = toFailure(error);
      this.log(context, failure.status, started, failure.code);
      throw carry(failure);
    } finally {
      clearTimeout(timer);
    }
    const response = context.response;
    if (!response) throw carry(invalidResponse('response (none at all)'));
    if (!response.ok) {
      const failure = await errorFromResponse(response, this.options.clock.now());
      this.log(context, response.status, started, failure.code);
      throw carry(failure);
    }
    this.log(context, response.status, started);
  }

  private log(context: Context, status: number, started: number, code?: string): void {
    let path = '(unknown)';
    try {
      path = new URL(requestUrl(context)).pathname; // never the query: it may carry sync state
    } catch {
      // keep the placeholder
    }
    this.options.logger.debug('Graph request', {
      method: context.options?.method ?? 'GET',
      path,
      status,
      ms: Date.now() - started,
      ...(code ? { code } : {}),
    });
  }
}

/** Calls exactly the URL the adapter asked for, and only on the configured Graph origin. */
export class LinkGuard extends ChainLink {
  constructor(private readonly endpoint: GraphEndpoint) {
    super();
  }

  async execute(context: Context): Promise<void> {
    const exact = callOptions(context)?.url;
    if (exact !== undefined) context.request = exact;
    assertGraphLink(this.endpoint, requestUrl(context));
    await this.next(context);
  }
}

/** `Authorization: Bearer <token>`, for the configured Graph origin only. */
export class AuthenticationMiddleware extends ChainLink {
  constructor(
    private readonly tokens: GraphTokenSource,
    private readonly endpoint: GraphEndpoint,
  ) {
    super();
  }

  async execute(context: Context): Promise<void> {
    // Defence in depth: LinkGuard already checked; a token must never go anywhere else.
    assertGraphLink(this.endpoint, requestUrl(context));
    let token: string;
    try {
      token = await this.tokens.getAccessToken();
    } catch (error) {
      throw tokenError(error);
    }
    headersOf(context).set('Authorization', `Bearer ${token}`);
    await this.next(context);
  }
}

const IMMUTABLE_ID = 'IdType="ImmutableId"';

/** Merges our preferences into any `Prefer` header already on the request. */
export function mergePrefer(existing: string | null, pageSize: number | undefined): string {
  const kept = (existing ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !/^idtype\s*=/i.test(p) && !/^odata\.maxpagesize\s*=/i.test(p));
  const parts = [IMMUTABLE_ID];
  if (pageSize !== undefined) parts.push(`odata.maxpagesize=${pageSize}`);
  return [...parts, ...kept].join(', ');
}

/** `Prefer: IdType="ImmutableId"` on every request, plus `odata.maxpagesize` when the call gives a page size. */
export class PreferHeaders extends ChainLink {
  async execute(context: Context): Promise<void> {
    const headers = headersOf(context);
    headers.set('Prefer', mergePrefer(headers.get('Prefer'), callOptions(context)?.pageSize));
    await this.next(context);
  }
}

// -----------------------------------------------------------------------------------------------------------
// The client

export interface GraphClientOptions {
  /** The principal's `graphApiEndpoint`, e.g. `https://graph.microsoft.com/v1.0`. */
  graphApiEndpoint: string;
  tokens: GraphTokenSource;
  clock?: Clock;
  logger?: Logger;
  /** Abort a request whose response headers have not arrived after this long. Default 100 000 ms. */
  requestTimeoutMs?: number;
}

export interface GraphClientHandle {
  client: Client;
  endpoint: GraphEndpoint;
}

/** The Graph client with our middleware chain (and nothing else: no retry, no redirect, no telemetry). */
export function createGraphClient(options: GraphClientOptions): GraphClientHandle {
  const endpoint = parseGraphEndpoint(options.graphApiEndpoint);
  const middleware: Middleware[] = [
    new ErrorNormaliser({
      clock: options.clock ?? systemClock,
      requestTimeoutMs: options.requestTimeoutMs ?? 100_000,
      logger: options.logger ?? silentLogger,
    }),
    new LinkGuard(endpoint),
    new AuthenticationMiddleware(options.tokens, endpoint),
    new PreferHeaders(),
    new HTTPMessageHandler(),
  ];
  const client = Client.initWithMiddleware({
    baseUrl: endpoint.origin,
    defaultVersion: endpoint.version,
    customHosts: new Set([endpoint.hostname]),
    middleware,
  });
  return { client, endpoint };
}

// -----------------------------------------------------------------------------------------------------------
// Requests

/** A response body as a Node stream; errors mid-body become `NetworkError`; abandoning it cancels the body. */
export function responseByteStream(response: Response): ByteStream & Readable {
  const body = response.body;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (!body) return;
    const reader = (body as WebReadableStream<Uint8Array>).getReader();
    let finished = false;
    try {
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (error) {
          finished = true;
          throw networkError(error);
        }
        if (step.done) {
          finished = true;
          return;
        }
        yield step.value;
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

function isFetchResponse(value: unknown): value is Response {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Response).status === 'number' &&
    typeof (value as Response).json === 'function'
  );
}

/** The adapter's only way to call Graph: through the client and its chain, errors as `MailSourceError`. */
export class GraphHttp {
  constructor(private readonly handle: GraphClientHandle) {}

  get endpoint(): GraphEndpoint {
    return this.handle.endpoint;
  }

  /** `base + pathAndQuery` (the path must start with `/` and be encoded already). */
  url(pathAndQuery: string): string {
    return `${this.handle.endpoint.base}${pathAndQuery}`;
  }

  /** GET returning JSON. `urlOrLink` is a URL from `url()` or a nextLink/deltaLink, called as is. */
  async getJson<T>(urlOrLink: string, options: { pageSize?: number } = {}): Promise<T> {
    const response = await this.send(urlOrLink, options.pageSize);
    try {
      return (await response.json()) as T;
    } catch (error) {
      if (isMailSourceError(error)) throw error;
      throw invalidResponse('JSON body', error);
    }
  }

  /** GET streaming the body (e.g. `$value`); the caller must consume or destroy the stream. */
  async getStream(urlOrLink: string): Promise<ByteStream & Readable> {
    return responseByteStream(await this.send(urlOrLink, undefined));
  }

  private async send(url: string, pageSize: number | undefined): Promise<Response> {
    assertGraphLink(this.handle.endpoint, url);
    try {
      const response: unknown = await this.handle.client
        .api(url)
        .middlewareOptions([new GraphCallOptions(url, pageSize)])
        .responseType(ResponseType.RAW)
        .get();
      if (!isFetchResponse(response)) throw invalidResponse('response');
      return response;
    } catch (error) {
      throw unwrapGraphFailure(error);
    }
  }
}
