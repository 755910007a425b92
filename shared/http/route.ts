/**
 * Declarative HTTP routes. A function file declares its route once — method, path, who may call it, zod
 * schemas for path params, query, body and each response — and supplies a small handler. The same
 * declaration validates requests, shapes responses and feeds the OpenAPI document (`openapi.ts`), so the
 * documentation cannot drift from the behaviour.
 *
 * For every request the framework, in this order:
 * 1. authenticates the bearer token (routes with `auth: 'user'`) and checks `roles` (any one suffices);
 * 2. validates path params and query (unknown query parameters and repeated ones are refused);
 * 3. reads the body (not for GET) with a 1 MiB cap (`Content-Length` over the cap is refused unread, a longer stream is
 *    cut off), requires `application/json`, parses strictly and validates it (unknown fields are refused);
 * 4. calls the handler, then passes a JSON result through its response schema (which drops any field the
 *    schema does not declare, so stored-only fields such as token caches can never leak);
 * 5. maps errors to RFC 9457 problem+json (`problem.ts`); unexpected errors become 500 INTERNAL with the
 *    correlation id (the invocation id) and are logged with redaction;
 * 6. sets `Cache-Control: no-store`, `X-Content-Type-Options: nosniff` and `X-Correlation-Id` on every
 *    response, and logs one line per request (never the token, never bodies).
 */
import type { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type {
  HttpFunctionOptions,
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { AppError, type FieldError } from '../errors';
import type { Logger } from '../domain/ports/logger';
import { loggerFor } from '../composition-root';
import type { ApiRole, Principal } from './auth';
import { PROBLEM_CONTENT_TYPE, toProblem, type PublicErrorCode } from './problem';
import { httpRuntime } from './runtime';

/** host.json `extensions.http.routePrefix`. */
export const ROUTE_PREFIX = 'api';
/** Largest accepted request body (1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

// ---------------------------------------------------------------------------------------------------------
// Response declarations

export interface JsonResponseSpec<S extends z.ZodType = z.ZodType> {
  kind: 'json';
  schema: S;
  description: string;
}
export interface EmptyResponseSpec {
  kind: 'empty';
  description: string;
}
export interface BinaryResponseSpec {
  kind: 'binary';
  description: string;
  /** Documented media types (default `application/octet-stream`). */
  contentTypes?: string[];
}
/** A bare zod schema means a JSON response described as "OK". */
export type ResponseSpec = z.ZodType | JsonResponseSpec | EmptyResponseSpec | BinaryResponseSpec;
export type Responses = Record<number, ResponseSpec>;

export const jsonResponse = <S extends z.ZodType>(schema: S, description: string): JsonResponseSpec<S> => ({
  kind: 'json',
  schema,
  description,
});
export const emptyResponse = (description: string): EmptyResponseSpec => ({ kind: 'empty', description });
export const binaryResponse = (description: string, contentTypes?: string[]): BinaryResponseSpec => ({
  kind: 'binary',
  description,
  ...(contentTypes ? { contentTypes } : {}),
});

// ---------------------------------------------------------------------------------------------------------
// Handler results

export interface JsonResult<S extends number, T> {
  status: S;
  body: T;
  headers?: Record<string, string>;
}
export interface EmptyResult<S extends number> {
  status: S;
  headers?: Record<string, string>;
}
export interface BinaryContent {
  /** The bytes: a buffer, a Node stream, a web stream or any async iterable of chunks. */
  content: Uint8Array | Readable | ReadableStream | AsyncIterable<Uint8Array>;
  /** The stored content type; anything not shaped like `type/subtype` is sent as application/octet-stream. */
  contentType: string;
  /** Sent in `Content-Disposition` (RFC 6266 / 5987); path parts and control characters are removed. */
  fileName?: string;
  /** `inline` is honoured only for types a browser cannot execute (never HTML, SVG, XML or scripts). */
  disposition?: 'attachment' | 'inline';
  /** Bytes, when known (sets Content-Length). */
  size?: number;
}
export interface BinaryResult<S extends number> {
  status: S;
  binary: BinaryContent;
  headers?: Record<string, string>;
}

/**
 * Result builders. Use them instead of object literals: they keep the status a literal type, so the
 * compiler checks the status is declared in `responses` and the body matches that status' schema.
 */
export const json = <S extends number, T>(status: S, body: T, headers?: Record<string, string>): JsonResult<S, T> => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});
export const ok = <T>(body: T, headers?: Record<string, string>): JsonResult<200, T> => json(200, body, headers);
export const created = <T>(body: T, headers?: Record<string, string>): JsonResult<201, T> => json(201, body, headers);
export const noContent = (headers?: Record<string, string>): EmptyResult<204> => ({
  status: 204,
  ...(headers ? { headers } : {}),
});
export const file = (binary: BinaryContent, headers?: Record<string, string>): BinaryResult<200> => ({
  status: 200,
  binary,
  ...(headers ? { headers } : {}),
});

type ResultFor<R extends Responses> = {
  [K in keyof R]: K extends number
    ? R[K] extends z.ZodType
      ? JsonResult<K, z.input<R[K]>>
      : R[K] extends JsonResponseSpec<infer S>
        ? JsonResult<K, z.input<S>>
        : R[K] extends EmptyResponseSpec
          ? EmptyResult<K>
          : R[K] extends BinaryResponseSpec
            ? BinaryResult<K>
            : never
    : never;
}[keyof R];

// ---------------------------------------------------------------------------------------------------------
// Route definitions

export type RouteAuth = 'anonymous' | 'user';

export interface RouteDefinition<
  A extends RouteAuth,
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  R extends Responses,
> {
  /** The registered function name (kebab-case; the function file's name) and the OpenAPI operationId. */
  name: string;
  method: RouteMethod;
  /** Route template without the `api/` prefix, in Functions syntax: `email-accounts/{name}`. */
  route: string;
  auth: A;
  /** Any one of these roles is required (checked after authentication, before validation). */
  roles?: readonly ApiRole[];
  /** Path params: an object schema whose keys match the `{params}` of `route`. */
  params?: P;
  /** Query parameters: an object schema (values arrive as strings; use z.coerce / z.stringbool). */
  query?: Q;
  /** JSON request body. */
  body?: B;
  responses: R;
  /** Error codes this route can return beyond those the framework adds (e.g. `['CONFLICT']`). */
  errors?: readonly PublicErrorCode[];
  summary: string;
  description?: string;
  tags: readonly string[];
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

export interface RouteInput<P, Q, B> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: B extends z.ZodType ? z.output<B> : undefined;
  /** Request headers (e.g. `If-Match`). */
  headers: HttpRequest['headers'];
}

export interface RouteContext {
  logger: Logger;
  /** The invocation id: in every problem response and every log line of this request. */
  correlationId: string;
  invocation: InvocationContext;
  request: HttpRequest;
}

export type RouteHandler<
  A extends RouteAuth,
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  R extends Responses,
> = (
  input: RouteInput<P, Q, B>,
  principal: A extends 'user' ? Principal : undefined,
  context: RouteContext,
) => ResultFor<R> | Promise<ResultFor<R>>;

/** What the OpenAPI generator reads. */
export interface RouteSpec {
  name: string;
  method: RouteMethod;
  route: string;
  /** `/api/email-accounts/{name}` */
  path: string;
  auth: RouteAuth;
  roles: readonly ApiRole[];
  params: z.ZodType | undefined;
  query: z.ZodType | undefined;
  body: z.ZodType | undefined;
  responses: Record<number, JsonResponseSpec | EmptyResponseSpec | BinaryResponseSpec>;
  errors: readonly PublicErrorCode[];
  summary: string;
  description: string | undefined;
  tags: readonly string[];
}

export interface DefinedRoute {
  name: string;
  spec: RouteSpec;
  handler: HttpHandler;
  /** Pass to `app.http(route.name, route.options)`. */
  options: HttpFunctionOptions;
}

const registry = new Map<string, RouteSpec>();

/** Every route defined so far in this process (function files register on import). */
export function registeredRoutes(): RouteSpec[] {
  return [...registry.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Adds a route that does not use `defineRoute` (e.g. the health probe) to the OpenAPI document. */
export function registerRouteSpec(spec: RouteSpec): void {
  registry.set(spec.name, spec);
}

export function defineRoute<
  A extends RouteAuth,
  R extends Responses,
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  definition: RouteDefinition<A, P, Q, B, R>,
  handle: RouteHandler<NoInfer<A>, NoInfer<P>, NoInfer<Q>, NoInfer<B>, NoInfer<R>>,
): DefinedRoute {
  const spec = buildSpec(definition);
  registry.set(spec.name, spec);

  const handler: HttpHandler = async (request, invocation) => {
    const started = Date.now();
    const correlationId = invocation.invocationId;
    const logger = loggerFor(invocation, { function: spec.name, correlationId });
    let principal: Principal | undefined;
    let response: HttpResponseInit;
    let errorCode: string | undefined;
    try {
      if (spec.auth === 'user') {
        principal = await httpRuntime().tokenVerifier.verify(request.headers.get('authorization'), logger);
        if (spec.roles.length > 0 && !spec.roles.some((role) => principal?.roles.has(role))) {
          throw new AppError('FORBIDDEN', `This operation requires the ${spec.roles.join(' or ')} role.`);
        }
      }
      const input = await parseInput(spec, request);
      const result = (await handle(input, principal as A extends 'user' ? Principal : undefined, {
        logger,
        correlationId,
        invocation,
        request,
      })) as JsonResult<number, unknown> | EmptyResult<number> | BinaryResult<number>;
      response = renderResult(spec, result, correlationId);
    } catch (error) {
      const { status, headers, problem } = toProblem(error, correlationId);
      errorCode = problem.code;
      if (status >= 500) {
        logger.error('request failed', { code: problem.code, error: describeError(error) });
      }
      response = {
        status,
        headers: { ...commonHeaders(correlationId), ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE },
        body: JSON.stringify(problem),
      };
    }
    logger.info('request', {
      method: spec.method,
      route: spec.route,
      status: response.status,
      code: errorCode,
      caller: principal?.oid,
      durationMs: Date.now() - started,
    });
    return response;
  };

  return {
    name: spec.name,
    spec,
    handler,
    options: { methods: [spec.method], route: spec.route, authLevel: 'anonymous', handler },
  };
}

type AnyRouteDefinition = RouteDefinition<
  RouteAuth,
  z.ZodType | undefined,
  z.ZodType | undefined,
  z.ZodType | undefined,
  Responses
>;

function buildSpec(definition: AnyRouteDefinition): RouteSpec {
  const { name, method, route } = definition;
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name)) throw new Error(`route ${name}: name must be kebab-case`);
  if (route.startsWith('/') || route.startsWith(`${ROUTE_PREFIX}/`)) {
    throw new Error(`route ${name}: give the route without a leading slash or "${ROUTE_PREFIX}/"`);
  }
  const templateParams = [...route.matchAll(/\{([A-Za-z0-9_]+)[^}]*\}/g)].map((m) => m[1] as string).sort();
  const params = strictObject(definition.params);
  const schemaParams = params instanceof z.ZodObject ? Object.keys(params.shape).sort() : [];
  if (templateParams.join(',') !== schemaParams.join(',')) {
    throw new Error(
      `route ${name}: params schema keys (${schemaParams.join(', ')}) must match the route's {params} (${templateParams.join(', ')})`,
    );
  }
  if (definition.body && (method === 'GET' || method === 'DELETE')) {
    throw new Error(`route ${name}: ${method} routes take no body`);
  }
  const responses: RouteSpec['responses'] = {};
  for (const [status, response] of Object.entries(definition.responses)) {
    responses[Number(status)] =
      response instanceof z.ZodType ? { kind: 'json', schema: response, description: 'OK' } : response;
  }
  return {
    name,
    method,
    route,
    path: `/${ROUTE_PREFIX}/${route.replace(/\{([A-Za-z0-9_]+)[^}]*\}/g, '{$1}')}`,
    auth: definition.auth,
    roles: definition.roles ?? [],
    params,
    query: strictObject(definition.query),
    body: strictObject(definition.body),
    responses,
    errors: definition.errors ?? [],
    summary: definition.summary,
    description: definition.description,
    tags: definition.tags,
  };
}

/** Top-level object schemas are made strict (unknown keys refused); nested ones must be declared strict. */
function strictObject(schema: z.ZodType | undefined): z.ZodType | undefined {
  if (!(schema instanceof z.ZodObject)) return schema;
  const catchall = (schema.def as { catchall?: z.ZodType }).catchall;
  // Already strict: keep the instance (and its `.meta({ id })`).
  return catchall instanceof z.ZodNever ? schema : schema.strict();
}

// ---------------------------------------------------------------------------------------------------------
// Input

async function parseInput(spec: RouteSpec, request: HttpRequest): Promise<RouteInput<unknown, unknown, unknown>> {
  const errors: FieldError[] = [];
  const params = validate(spec.params, { ...request.params }, 'path', errors);

  const query: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [key, value] of request.query) {
    if (seen.has(key)) {
      errors.push({ field: `query.${key}`, message: 'must be given at most once' });
      continue;
    }
    seen.add(key);
    Object.defineProperty(query, key, { value, enumerable: true, configurable: true, writable: true });
  }
  const parsedQuery = validate(spec.query, query, 'query', errors);
  if (errors.length > 0) throw new AppError('VALIDATION_FAILED', 'The request has invalid parameters.', { errors });

  // GET requests carry no body (the host drops it); every other method's body is read under the cap.
  const raw = spec.method === 'GET' ? new Uint8Array(0) : await readBody(request);
  let body: unknown = undefined;
  if (raw.length > 0) {
    if (!spec.body) {
      throw new AppError('VALIDATION_FAILED', 'This operation takes no request body.', {
        errors: [{ field: '(body)', message: 'must be empty' }],
      });
    }
    requireJsonContentType(request.headers.get('content-type'));
    body = parseJson(raw);
  }
  if (spec.body) {
    if (body === undefined) {
      throw new AppError('VALIDATION_FAILED', 'This operation requires a JSON request body.', {
        errors: [{ field: '(body)', message: 'is required' }],
      });
    }
    body = validate(spec.body, body, 'body', errors);
    if (errors.length > 0) throw new AppError('VALIDATION_FAILED', 'The request body has invalid fields.', { errors });
  }
  return {
    params: (params ?? {}) as Record<string, never>,
    query: (parsedQuery ?? {}) as Record<string, never>,
    body: body as undefined,
    headers: request.headers,
  };
}

function validate(
  schema: z.ZodType | undefined,
  value: unknown,
  location: 'path' | 'query' | 'body',
  errors: FieldError[],
): unknown {
  if (!schema) {
    // No schema: nothing may be given.
    if (location !== 'body' && value && typeof value === 'object') {
      for (const key of Object.keys(value))
        errors.push({ field: `${location}.${key}`, message: 'is not a known parameter' });
    }
    return undefined;
  }
  const result = schema.safeParse(value, { error: requiredMessage });
  if (result.success) return result.data;
  errors.push(...fieldErrors(result.error.issues, location === 'body' ? '' : `${location}.`));
  return undefined;
}

/**
 * A missing value reads "is required" (decided on the input, not on zod's message text). As a per-parse error
 * map it yields to messages the schemas set themselves (e.g. `must be a date (YYYY-MM-DD)`).
 */
const requiredMessage = (issue: z.core.$ZodRawIssue): string | undefined =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined;

/** zod issues → per-field errors, with each unknown key listed by name. Input values are never echoed. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ field: prefix + [...path, key].join('.'), message: 'is not a known field' });
      continue;
    }
    const field = path.length > 0 ? prefix + path.join('.') : prefix ? prefix.slice(0, -1) : '(root)';
    out.push({ field, message: issue.message });
  }
  return out;
}

async function readBody(request: HttpRequest): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > MAX_BODY_BYTES) {
    throw tooLarge();
  }
  const stream = request.body;
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done) break;
    if (!value) continue;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

const tooLarge = (): AppError =>
  new AppError('PAYLOAD_TOO_LARGE', `The request body must be at most ${MAX_BODY_BYTES} bytes (1 MiB).`);

function requireJsonContentType(header: string | null): void {
  const [type, ...parameters] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  const isJson = type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type ?? '');
  const charset = parameters
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (!isJson || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new AppError('VALIDATION_FAILED', 'The request body must be JSON (Content-Type: application/json).', {
      status: 415,
      errors: [{ field: '(content-type)', message: 'must be application/json' }],
    });
  }
}

function parseJson(raw: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
  } catch {
    throw malformed('is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed('is not valid JSON');
  }
}

const malformed = (message: string): AppError =>
  new AppError('VALIDATION_FAILED', `The request body ${message}.`, { errors: [{ field: '(body)', message }] });

// ---------------------------------------------------------------------------------------------------------
// Output

function commonHeaders(correlationId: string): Record<string, string> {
  return {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Correlation-Id': correlationId,
  };
}

function renderResult(
  spec: RouteSpec,
  result: JsonResult<number, unknown> | EmptyResult<number> | BinaryResult<number>,
  correlationId: string,
): HttpResponseInit {
  const declared = spec.responses[result.status];
  if (!declared) throw new Error(`route ${spec.name} returned undeclared status ${result.status}`);
  const headers = { ...result.headers, ...commonHeaders(correlationId) };
  if (declared.kind === 'empty') return { status: result.status, headers };
  if (declared.kind === 'binary') {
    if (!('binary' in result))
      throw new Error(`route ${spec.name}: status ${result.status} must return binary content`);
    return renderBinary(result.status, result.binary, headers);
  }
  if (!('body' in result)) throw new Error(`route ${spec.name}: status ${result.status} must return a JSON body`);
  const parsed = declared.schema.safeParse(result.body);
  if (!parsed.success) {
    // A bug on our side: the handler built a body its own response schema rejects. Never send it.
    throw new Error(
      `route ${spec.name}: response ${result.status} does not match its schema: ${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'} ${i.code}`)
        .join('; ')}`,
    );
  }
  return {
    status: result.status,
    headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify(parsed.data),
  };
}

const SAFE_CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
/** Types a browser would render or run: always served as attachments. */
const ACTIVE_CONTENT =
  /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|text\/javascript|application\/javascript|application\/x-javascript|text\/xsl)$/;

function renderBinary(status: number, binary: BinaryContent, headers: Record<string, string>): HttpResponseInit {
  const type = binary.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const contentType = SAFE_CONTENT_TYPE.test(type) ? type : 'application/octet-stream';
  const disposition = binary.disposition === 'inline' && !ACTIVE_CONTENT.test(contentType) ? 'inline' : 'attachment';
  const out: Record<string, string> = {
    ...headers,
    'Content-Type': contentType,
    'Content-Disposition': contentDisposition(binary.fileName ?? 'download', disposition),
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
  if (binary.size !== undefined) out['Content-Length'] = String(binary.size);
  return { status, headers: out, body: binary.content as HttpResponseInit['body'] };
}

/**
 * `Content-Disposition` per RFC 6266 with an RFC 5987 `filename*` for non-ASCII names and a plain ASCII
 * `filename` fallback. Directory parts, control characters, quotes and backslashes are removed.
 */
export function contentDisposition(fileName: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const base = fileName.split(/[/\\]/).pop() ?? '';
  const cleaned =
    base
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f"]/g, '')
      .replace(/^[.\s]+/, '')
      .trim()
      .slice(0, 200) || 'download';
  const ascii = cleaned.replace(/[^\x20-\x7e]/g, '_').replace(/[%;]/g, '_');
  const encoded = encodeURIComponent(cleaned).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return ascii === cleaned && !/[%;]/.test(cleaned)
    ? `${type}; filename="${ascii}"`
    : `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { value: typeof error };
}
