/**
 * Contract testing for the HTTP API: every response a test receives is checked against the OpenAPI
 * document generated from the registered routes (status documented, content type, body valid under the
 * documented JSON Schema with Ajv 2020-12, `Cache-Control: no-store`, correlation id).
 *
 * Use `invokeRoute` in every API test: it builds the request, calls the route's handler directly (as the
 * Functions host would), reads the response and asserts the contract before returning it.
 *
 *   const res = await invokeRoute(emailAccountGet, { token, params: { name: 'M365-alice@contoso.test' } });
 *   expect(res.status).toBe(200);
 *   expect(res.json.accountName).toBe(...);
 */
import { randomUUID } from 'node:crypto';
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from '@azure/functions';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { appVersion } from '../../shared/config';
import { buildOpenApiDocument, type OpenApiDocument } from '../../shared/http/openapi';
import { registeredRoutes, type DefinedRoute } from '../../shared/http/route';

export interface InvokeRequest {
  /** Path params (URL-encoded into the URL; passed to the handler as the host would, decoded). */
  params?: Record<string, string>;
  /** Query parameters, or a raw query string (`a=1&a=2`). */
  query?: Record<string, string> | string;
  /** A JSON body (serialised, with `Content-Type: application/json` unless `headers` say otherwise). */
  body?: unknown;
  /** A raw body, sent as is. */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Skip the contract check (only for tests of the checker itself). */
  skipContract?: boolean;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  bytes: Buffer;
  /** The parsed body when it is JSON (application/json or problem+json), else undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary response fields
  json: any;
  /** Every log line the invocation wrote. */
  logs: string[];
}

export async function invokeRoute(route: DefinedRoute, request: InvokeRequest = {}): Promise<ApiResponse> {
  const params = request.params ?? {};
  const path = route.spec.route.replace(/\{([A-Za-z0-9_]+)[^}]*\}/g, (_m, name: string) =>
    encodeURIComponent(params[name] ?? ''),
  );
  const query =
    typeof request.query === 'string'
      ? request.query
      : new URLSearchParams(Object.entries(request.query ?? {})).toString();
  const headers: Record<string, string> = { ...request.headers };
  if (request.token !== undefined) headers['authorization'] = `Bearer ${request.token}`;
  let body: { string?: string; bytes?: Uint8Array } | undefined;
  if (request.rawBody !== undefined) {
    body = typeof request.rawBody === 'string' ? { string: request.rawBody } : { bytes: request.rawBody };
  } else if (request.body !== undefined) {
    body = { string: JSON.stringify(request.body) };
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  const httpRequest = new HttpRequest({
    method: route.spec.method,
    url: `https://localhost/api/${path}${query ? `?${query}` : ''}`,
    headers,
    params,
    ...(body ? { body } : {}),
  });
  const logs: string[] = [];
  const context = new InvocationContext({
    functionName: route.name,
    invocationId: randomUUID(),
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  const init = (await route.handler(httpRequest, context)) as HttpResponseInit;
  const response = new HttpResponse(init);
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  const contentType = response.headers.get('content-type') ?? '';
  const json: unknown = /json/.test(contentType) && text.length > 0 ? JSON.parse(text) : undefined;
  const result: ApiResponse = { status: response.status, headers: response.headers, text, bytes, json, logs };
  if (!request.skipContract) assertMatchesContract(route.name, result);
  return result;
}

// ---------------------------------------------------------------------------------------------------------

interface Contract {
  document: OpenApiDocument;
  ajv: Ajv2020;
  validators: Map<string, ValidateFunction>;
}
let cached: { key: string; contract: Contract } | undefined;
const DOCUMENT_ID = 'https://contract.test/openapi.json';

/** The OpenAPI document of every route registered so far (rebuilt when routes are added). */
export function currentOpenApiDocument(): OpenApiDocument {
  return contract().document;
}

function contract(): Contract {
  const routes = registeredRoutes();
  const key = routes.map((r) => r.name).join(',');
  if (cached?.key !== key) {
    const document = buildOpenApiDocument({ version: appVersion() }, routes);
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addSchema({ $id: DOCUMENT_ID, components: document.components });
    cached = { key, contract: { document, ajv, validators: new Map() } };
  }
  return cached.contract;
}

type OperationObject = { operationId: string; responses: Record<string, Record<string, unknown>> };

function findOperation(
  document: OpenApiDocument,
  name: string,
): { path: string; method: string; operation: OperationObject } {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if ((operation as OperationObject).operationId === name)
        return { path, method, operation: operation as OperationObject };
    }
  }
  throw new Error(`contract: no operation ${name} in the OpenAPI document`);
}

/** Asserts that a response of operation `name` is what the OpenAPI document promises. */
export function assertMatchesContract(
  name: string,
  response: Pick<ApiResponse, 'status' | 'headers' | 'text' | 'json'>,
): void {
  const { document, ajv, validators } = contract();
  const { operation } = findOperation(document, name);
  const fail = (message: string): never => {
    throw new Error(`contract: ${name} → ${response.status}: ${message}\nbody: ${response.text.slice(0, 2000)}`);
  };
  let declared = operation.responses[String(response.status)];
  if (!declared)
    return fail(
      `status ${response.status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`,
    );
  if (typeof declared['$ref'] === 'string') {
    const ref = declared['$ref'].replace('#/components/responses/', '');
    declared = document.components.responses[ref] as Record<string, unknown> | undefined;
    if (!declared) return fail(`dangling response $ref ${ref}`);
  }
  if (response.headers.get('cache-control') !== 'no-store') fail('Cache-Control must be no-store');
  const correlationId = response.headers.get('x-correlation-id');
  if (!correlationId) fail('X-Correlation-Id header missing');

  const content = declared['content'] as Record<string, { schema: Record<string, unknown> }> | undefined;
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (!content) {
    if (response.text.length > 0) fail('a body was sent where none is documented');
    return;
  }
  // OpenAPI media ranges: `*/*` documents any type (e.g. an attachment's own content type).
  const media = content[contentType] ?? content['*/*'];
  if (!media) return fail(`content type "${contentType}" is not documented (${Object.keys(content).join(', ')})`);
  if (!/json$/.test(contentType)) return; // binary: the media type is the contract

  const key = `${name} ${response.status} ${contentType}`;
  let validate = validators.get(key);
  if (!validate) {
    // Compile the documented schema with its component refs resolved against the document.
    const schema = JSON.parse(
      JSON.stringify(media.schema).replace(/"#\/components\//g, `"${DOCUMENT_ID}#/components/`),
    ) as object;
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  if (!validate(response.json)) {
    fail(`body does not match the documented schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
  }
  if (contentType === 'application/problem+json') {
    if (response.json.status !== response.status) fail('problem.status differs from the HTTP status');
    if (response.json.correlationId !== correlationId) fail('problem.correlationId differs from X-Correlation-Id');
    if (/\n\s+at /.test(response.text)) fail('a stack trace leaked into the response');
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Structural validation of an OpenAPI 3.1 document (no copy of the official meta-schema is available
 * offline): required top-level fields, every path template param declared, unique operationIds, every
 * `$ref` resolvable, every response described, every schema a valid JSON Schema 2020-12.
 * Returns the list of problems (empty when valid).
 */
export function openApiProblems(document: OpenApiDocument): string[] {
  const problems: string[] = [];
  if (document.openapi !== '3.1.0') problems.push('openapi must be 3.1.0');
  if (!document.info?.title || !document.info?.version) problems.push('info.title and info.version are required');
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  const checkSchema = (where: string, schema: unknown) => {
    if (typeof schema !== 'object' || schema === null) {
      problems.push(`${where}: schema must be an object`);
      return;
    }
    if (!ajv.validateSchema(schema)) problems.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
  };
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    let node: unknown = document;
    for (const part of ref.slice(2).split('/')) {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
    }
    return node;
  };
  const walkRefs = (node: unknown, where: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walkRefs(n, `${where}/${i}`));
    else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string' && resolve(v) === undefined)
          problems.push(`${where}: dangling $ref ${v}`);
        walkRefs(v, `${where}/${k}`);
      }
    }
  };
  walkRefs(document, '#');
  for (const [name, schema] of Object.entries(document.components.schemas))
    checkSchema(`components.schemas.${name}`, schema);
  const schemes = document.components.securitySchemes;
  const operationIds = new Set<string>();
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/')) problems.push(`${path}: paths must start with /`);
    const templateParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!methods.includes(method)) problems.push(`${where}: unknown method`);
      const operation = op as {
        operationId?: string;
        parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
        responses?: Record<string, Record<string, unknown>>;
        requestBody?: { content?: Record<string, { schema?: unknown }> };
        security?: Record<string, string[]>[];
      };
      if (!operation.operationId) problems.push(`${where}: operationId missing`);
      else if (operationIds.has(operation.operationId)) problems.push(`${where}: duplicate operationId`);
      else operationIds.add(operation.operationId);
      const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
      if (
        pathParams
          .map((p) => p.name)
          .sort()
          .join(',') !== templateParams.join(',')
      ) {
        problems.push(`${where}: path params do not match the template`);
      }
      for (const p of operation.parameters ?? []) {
        if (!['path', 'query', 'header', 'cookie'].includes(p.in))
          problems.push(`${where}: parameter ${p.name} has bad "in"`);
        if (p.in === 'path' && p.required !== true)
          problems.push(`${where}: path parameter ${p.name} must be required`);
        checkSchema(`${where} parameter ${p.name}`, p.schema);
      }
      for (const [media, content] of Object.entries(operation.requestBody?.content ?? {})) {
        checkSchema(`${where} requestBody ${media}`, content.schema);
      }
      const responses = operation.responses ?? {};
      if (Object.keys(responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of Object.entries(responses)) {
        if (!/^[1-5]\d\d$/.test(status)) problems.push(`${where}: bad status key ${status}`);
        if (typeof response['$ref'] !== 'string' && typeof response['description'] !== 'string') {
          problems.push(`${where} ${status}: description is required`);
        }
        for (const [media, content] of Object.entries(
          (response['content'] ?? {}) as Record<string, { schema?: unknown }>,
        )) {
          checkSchema(`${where} ${status} ${media}`, content.schema);
        }
      }
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement))
          if (!schemes[scheme]) problems.push(`${where}: unknown security scheme ${scheme}`);
      }
    }
  }
  return problems;
}
