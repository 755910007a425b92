/**
 * The OpenAPI 3.1 document, generated from the routes' own zod schemas (the ones that validate requests
 * and shape responses), so it cannot drift from the behaviour.
 *
 * - Request schemas are converted with `io: 'input'` (what a client may send: defaults make fields
 *   optional); response schemas with `io: 'output'` (what the API sends: every object is closed with
 *   `additionalProperties: false`, because the framework strips undeclared fields).
 * - Schemas carrying `.meta({ id })` become `#/components/schemas/{id}` (input variants that differ from
 *   the output are named `{id}Input`).
 * - Every error is `application/problem+json` (`#/components/schemas/Problem`); each operation lists the
 *   statuses the framework can produce for it plus those the route declares.
 */
import { z } from 'zod';
import { ERROR_CODES } from '../errors';
import { PROBLEM_CONTENT_TYPE, problemSchema, type PublicErrorCode } from './problem';
import { registeredRoutes, type RouteSpec } from './route';

export type JsonSchema = Record<string, unknown>;
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: {
    securitySchemes: Record<string, unknown>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, unknown>;
  };
}

export interface OpenApiOptions {
  version: string;
  title?: string;
}

const REF_PREFIX = '#/components/schemas/';

/** Error statuses every route can produce, by what the route declares. */
function errorCodesFor(route: RouteSpec): { status: number; codes: PublicErrorCode[] }[] {
  const codes = new Set<PublicErrorCode>(['VALIDATION_FAILED', 'INTERNAL', ...route.errors]);
  if (route.auth === 'user') {
    codes.add('UNAUTHENTICATED');
    codes.add('FORBIDDEN');
    codes.add('DEPENDENCY_UNAVAILABLE');
  }
  if (route.params) codes.add('NOT_FOUND');
  if (route.method !== 'GET') codes.add('PAYLOAD_TOO_LARGE');
  const byStatus = new Map<number, PublicErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  if (route.body) byStatus.set(415, ['VALIDATION_FAILED']);
  return [...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([status, list]) => ({ status, codes: list }));
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`VALIDATION_FAILED`, with per-field `errors`).',
  401: 'Missing, invalid or expired bearer token (`UNAUTHENTICATED`).',
  403: 'The caller lacks the required role or right (`FORBIDDEN`).',
  404: 'No such record, or the caller may not see it (`NOT_FOUND`).',
  409: 'Conflict: duplicate, stale ETag or record in use (`CONFLICT`, `details.reason`).',
  413: 'The request body is over 1 MiB (`PAYLOAD_TOO_LARGE`).',
  415: 'The request body is not `application/json` (`VALIDATION_FAILED`).',
  424: 'Entra ID refused the service principal (`CREDENTIAL_REJECTED`).',
  429: 'Too many requests (`RATE_LIMITED`); see `Retry-After`.',
  500: 'Unexpected error (`INTERNAL`); quote the `correlationId`.',
  503: 'A dependency is unavailable (`DEPENDENCY_UNAVAILABLE`); retry later.',
};

class SchemaCollector {
  readonly schemas: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
      cycles: 'ref',
      reused: 'inline',
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...rest } = json;
    const defs = ($defs ?? {}) as Record<string, JsonSchema>;
    const rename = new Map<string, string>();
    for (const id of Object.keys(defs)) {
      rename.set(id, io === 'input' ? `${id}Input` : id);
      if (io === 'input') this.inputVariants.set(`${id}Input`, id);
    }
    const rewrite = (value: JsonSchema): JsonSchema =>
      JSON.parse(
        JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_m, id: string) => {
          const target = rename.get(decodeURIComponent(id));
          if (!target) throw new Error(`openapi: unresolved $ref #/$defs/${id}`);
          return JSON.stringify(REF_PREFIX + target);
        }),
      ) as JsonSchema;
    for (const [id, def] of Object.entries(defs)) {
      const name = rename.get(id) as string;
      const content = rewrite(def);
      const existing = this.schemas[name];
      if (existing && JSON.stringify(existing) !== JSON.stringify(content)) {
        throw new Error(`openapi: two different schemas use the id "${id}" (${io})`);
      }
      this.schemas[name] = content;
    }
    return rewrite(rest);
  }

  /** Input variants (`{id}Input`) by their base id. */
  private readonly inputVariants = new Map<string, string>();

  /**
   * Drops `{id}Input` variants identical to `{id}` (or names them `{id}` when there is no output schema of
   * that id) and points their refs at the surviving name.
   */
  dedupe<T>(document: T): T {
    const renamed = new Map<string, string>();
    for (const [variant, base] of this.inputVariants) {
      const variantSchema = this.schemas[variant];
      if (!variantSchema) continue;
      const baseSchema = this.schemas[base];
      const asBase = JSON.stringify(variantSchema).split(`"${REF_PREFIX}${variant}"`).join(`"${REF_PREFIX}${base}"`);
      if (!baseSchema || JSON.stringify(baseSchema) === asBase) renamed.set(variant, base);
    }
    if (renamed.size === 0) return document;
    for (const [variant, base] of renamed) {
      const schema = this.schemas[variant] as JsonSchema;
      Reflect.deleteProperty(this.schemas, variant);
      this.schemas[base] ??= schema;
    }
    const text = JSON.stringify(document).replace(/"#\/components\/schemas\/([^"]+)"/g, (m, name: string) => {
      const target = renamed.get(name);
      return target ? JSON.stringify(REF_PREFIX + target) : m;
    });
    return JSON.parse(text) as T;
  }
}

function parametersOf(
  collector: SchemaCollector,
  schema: z.ZodType | undefined,
  location: 'path' | 'query',
): Record<string, unknown>[] {
  if (!schema) return [];
  const json = collector.convert(schema, 'input');
  const properties = (json['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

function operationFor(collector: SchemaCollector, route: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    if (response.kind === 'empty') {
      responses[status] = { description: response.description };
    } else if (response.kind === 'binary') {
      const types = response.contentTypes ?? ['application/octet-stream'];
      responses[status] = {
        description: response.description,
        headers: { 'Content-Disposition': { schema: { type: 'string' } } },
        content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }])),
      };
    } else {
      responses[status] = {
        description: response.description,
        content: { 'application/json': { schema: collector.convert(response.schema, 'output') } },
      };
    }
  }
  for (const { status, codes } of errorCodesFor(route)) {
    responses[String(status)] ??= { $ref: `#/components/responses/Error${status}`, summary: codes.join(', ') };
  }
  const roles = route.roles.length > 0 ? `\n\nRequires the ${route.roles.join(' or ')} role.` : '';
  const operation: Record<string, unknown> = {
    operationId: route.name,
    summary: route.summary,
    ...(route.description || roles ? { description: `${route.description ?? ''}${roles}`.trim() } : {}),
    tags: [...route.tags],
    parameters: [...parametersOf(collector, route.params, 'path'), ...parametersOf(collector, route.query, 'query')],
    responses,
    security: route.auth === 'anonymous' ? [] : [{ bearer: [] }],
  };
  if (route.roles.length > 0) operation['x-roles'] = [...route.roles];
  if (route.body) {
    operation['requestBody'] = {
      required: true,
      content: { 'application/json': { schema: collector.convert(route.body, 'input') } },
    };
  }
  return operation;
}

/** Builds the document from the given routes (default: every route registered in this process). */
export function buildOpenApiDocument(
  options: OpenApiOptions,
  routes: RouteSpec[] = registeredRoutes(),
): OpenApiDocument {
  const collector = new SchemaCollector();
  const problemRef = collector.convert(problemSchema, 'output');
  const paths: OpenApiDocument['paths'] = {};
  const operationIds = new Set<string>();
  const usedStatuses = new Set<number>();
  for (const route of routes) {
    if (operationIds.has(route.name)) throw new Error(`openapi: duplicate operationId ${route.name}`);
    operationIds.add(route.name);
    const item = (paths[route.path] ??= {});
    const method = route.method.toLowerCase();
    if (item[method]) throw new Error(`openapi: two routes for ${route.method} ${route.path}`);
    item[method] = operationFor(collector, route);
    for (const { status } of errorCodesFor(route)) usedStatuses.add(status);
  }
  const errorResponses: Record<string, unknown> = {};
  for (const status of [...usedStatuses].sort((a, b) => a - b)) {
    errorResponses[`Error${status}`] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error.',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problemRef } },
    };
  }
  const tags = [...new Set(routes.flatMap((r) => r.tags))].sort().map((name) => ({ name }));
  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'm365-mail-sync API',
      version: options.version,
      description:
        'Microsoft 365 mail sync. Every operation except the health probe and this document requires ' +
        '`Authorization: Bearer <JWT>` issued by Entra ID; app roles `SystemManager` and `InboxUser` widen access. ' +
        'Lists return `{ items, continuationToken }` and page with `limit` (1–200, default 50) and the opaque ' +
        '`continuationToken`. Errors are RFC 9457 `application/problem+json` with a stable `code`.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags,
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An Entra ID access token for this API (RS256), with app roles in the `roles` claim.',
        },
      },
      schemas: collector.schemas,
      responses: errorResponses,
    },
  };
  return collector.dedupe(document);
}
