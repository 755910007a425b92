/**
 * `GET /api/openapi.json`: a valid OpenAPI 3.1 document describing every route, generated from the same
 * schemas that validate requests.
 */
import { openApi } from '../../functions/openapi';
import { registeredRoutes } from '../../shared/http/route';
import { invokeRoute, openApiProblems } from '../support/openapi-contract';
import type { OpenApiDocument } from '../../shared/http/openapi';

let document: OpenApiDocument;
beforeAll(async () => {
  const res = await invokeRoute(openApi);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  document = res.json;
});

type Operation = {
  operationId: string;
  security: Record<string, string[]>[];
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, Record<string, unknown>>;
};
const operations = (): [string, string, Operation][] =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => [path, method, op as Operation] as [string, string, Operation]),
  );

it('is a structurally valid OpenAPI 3.1 document with valid JSON Schemas', () => {
  expect(document.openapi).toBe('3.1.0');
  expect(openApiProblems(document)).toEqual([]);
});

it('describes every registered route, including the health probe, and every function file’s route', () => {
  const documented = new Set(operations().map(([, , op]) => op.operationId));
  for (const route of registeredRoutes()) expect(documented.has(route.name)).toBe(true);
  for (const name of [
    'health',
    'openapi',
    'email-accounts-list',
    'email-account-get',
    'email-account-update',
    'email-account-delete',
    'email-account-folders-set',
    'email-account-sync-logs',
    'email-accounts-enable-sync',
    'shared-mailboxes-list',
    'shared-mailbox-create',
    'communications-list',
    'communication-get',
    'communication-update',
    'contacts-list',
  ]) {
    expect(documented.has(name)).toBe(true);
  }
  expect(document.paths['/api/email-accounts/{name}']).toEqual(
    expect.objectContaining({ get: expect.anything(), patch: expect.anything(), delete: expect.anything() }),
  );
});

it('requires the bearer scheme everywhere except the health probe and this document', () => {
  expect(document.components.securitySchemes['bearer']).toMatchObject({
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  for (const [path, , op] of operations()) {
    if (path === '/api/health' || path === '/api/openapi.json') expect(op.security).toEqual([]);
    else {
      expect(op.security).toEqual([{ bearer: [] }]);
      expect(op.responses['401']).toBeDefined();
      expect(op.responses['403']).toBeDefined();
    }
  }
});

it('documents errors as problem+json with a stable code', () => {
  const problem = document.components.schemas['Problem'] as { properties: Record<string, unknown>; required: string[] };
  expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
  for (const response of Object.values(document.components.responses) as { content: Record<string, unknown> }[]) {
    expect(Object.keys(response.content)).toEqual(['application/problem+json']);
  }
  for (const [, , op] of operations()) {
    expect(op.responses['400']).toBeDefined();
    expect(op.responses['500']).toBeDefined();
  }
});

it('documents paging on every list (limit 1–200, default 50; continuationToken) and the list envelope', () => {
  const lists = operations().filter(
    ([path, method]) =>
      method === 'get' &&
      [
        '/api/email-accounts',
        '/api/shared-mailboxes',
        '/api/communications',
        '/api/contacts',
        '/api/email-accounts/{name}/sync-logs',
      ].includes(path),
  );
  expect(lists).toHaveLength(5);
  for (const [, , op] of lists) {
    const limit = op.parameters.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    });
    expect(op.parameters.find((p) => p.name === 'continuationToken')).toMatchObject({ in: 'query', required: false });
    const schema = (op.responses['200']!['content'] as Record<string, { schema: Record<string, unknown> }>)[
      'application/json'
    ]!.schema;
    expect(schema).toMatchObject({
      type: 'object',
      required: ['items', 'continuationToken'],
      properties: { items: { type: 'array' }, continuationToken: { type: ['string', 'null'] } },
    });
  }
});

it('refuses unknown fields at every level of every request body (additionalProperties: false)', () => {
  const resolve = (schema: Record<string, unknown>): Record<string, unknown> => {
    const ref = schema['$ref'];
    if (typeof ref !== 'string') return schema;
    return document.components.schemas[ref.replace('#/components/schemas/', '')] as Record<string, unknown>;
  };
  const open: string[] = [];
  const walk = (raw: unknown, where: string, depth = 0): void => {
    if (depth > 20 || typeof raw !== 'object' || raw === null) return;
    const schema = resolve(raw as Record<string, unknown>);
    if (schema['type'] === 'object' && schema['properties'] && schema['additionalProperties'] !== false)
      open.push(where);
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'properties') {
        for (const [name, sub] of Object.entries(value as Record<string, unknown>))
          walk(sub, `${where}.${name}`, depth + 1);
      } else if (['items', 'anyOf', 'oneOf', 'allOf'].includes(key)) {
        for (const sub of Array.isArray(value) ? value : [value]) walk(sub, `${where}[]`, depth + 1);
      }
    }
  };
  let bodies = 0;
  for (const [path, method, op] of operations()) {
    const schema = op.requestBody?.content['application/json']?.schema;
    if (!schema) continue;
    bodies += 1;
    walk(schema, `${method.toUpperCase()} ${path}`);
  }
  expect(bodies).toBeGreaterThanOrEqual(5);
  expect(open).toEqual([]);
});

it('declares every path parameter as required, with the record-name rules', () => {
  const op = document.paths['/api/email-accounts/{name}']!['get'] as Operation;
  expect(op.parameters).toEqual([
    expect.objectContaining({
      name: 'name',
      in: 'path',
      required: true,
      schema: expect.objectContaining({ type: 'string', maxLength: 200 }),
    }),
  ]);
});
