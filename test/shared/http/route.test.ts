/**
 * The route framework, through small routes defined here: authentication and roles, strict input
 * validation, body limits and content types, problem+json mapping, response shaping, binary responses,
 * headers and logging. Every response is checked against the generated OpenAPI document.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import { AppError, duplicate, notFound } from '../../../shared/errors';
import { recordName } from '../../../shared/domain/records';
import {
  binaryResponse,
  contentDisposition,
  defineRoute,
  emptyResponse,
  file,
  jsonResponse,
  MAX_BODY_BYTES,
  noContent,
  ok,
} from '../../../shared/http/route';
import { setHttpRuntimeForTests } from '../../../shared/http/runtime';
import { listEnvelope, pageQueryFields } from '../../../shared/http/pagination';
import { startTestIdentityProvider, type TestIdentityProvider } from '../../support/api-tokens';
import { invokeRoute } from '../../support/openapi-contract';

const LEAKY_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw';

// A tiny in-memory "widget" store the test routes work on.
const widgets = new Map<string, { name: string; size: number; secret: string }>();

const widgetView = z.object({ name: z.string(), size: z.number().int() }).meta({ id: 'TestWidget' });
const widgetBody = z
  .object({
    size: z.number().int().min(0).max(10),
    owner: z.email('must be a valid email address').optional(),
    since: z.iso.date('must be a date (YYYY-MM-DD)').optional(),
    tags: z
      .array(z.object({ label: z.string().max(20) }).strict())
      .max(3)
      .optional(),
  })
  .strict();

const putWidget = defineRoute(
  {
    name: 'test-widget-put',
    method: 'PUT',
    route: 'test-widgets/{name}',
    auth: 'user',
    params: z.object({ name: recordName }),
    body: widgetBody,
    responses: { 200: jsonResponse(widgetView, 'The widget') },
    errors: ['CONFLICT'],
    summary: 'Put a widget',
    tags: ['Test'],
  },
  ({ params, body }) => {
    if (params.name === 'taken') throw duplicate('A widget', 'name');
    const stored = { name: params.name, size: body.size, secret: 'hunter2' };
    widgets.set(params.name, stored);
    // The stored record carries a secret: the response schema must drop it.
    return ok(stored);
  },
);

const listWidgets = defineRoute(
  {
    name: 'test-widget-list',
    method: 'GET',
    route: 'test-widgets',
    auth: 'user',
    query: z.object({ ...pageQueryFields, minSize: z.coerce.number().int().optional() }),
    responses: { 200: listEnvelope(widgetView) },
    summary: 'List widgets',
    tags: ['Test'],
  },
  ({ query }) =>
    ok({
      items: [...widgets.values()].filter((w) => w.size >= (query.minSize ?? 0)).slice(0, query.limit),
      continuationToken: null,
    }),
);

const adminOnly = defineRoute(
  {
    name: 'test-admin-delete',
    method: 'DELETE',
    route: 'test-widgets/{name}',
    auth: 'user',
    roles: ['SystemManager'],
    params: z.object({ name: recordName }),
    responses: { 204: emptyResponse('Deleted') },
    summary: 'Delete a widget',
    tags: ['Test'],
  },
  ({ params }) => {
    if (!widgets.delete(params.name)) throw notFound('The widget');
    return noContent();
  },
);

const failing = defineRoute(
  {
    name: 'test-failing',
    method: 'GET',
    route: 'test-failing',
    auth: 'anonymous',
    query: z.object({ kind: z.enum(['crash', 'app-internal', 'config', 'rate', 'bad-response']) }),
    responses: { 200: z.object({ ok: z.boolean() }) },
    errors: ['RATE_LIMITED'],
    summary: 'Fails on purpose',
    tags: ['Test'],
  },
  ({ query }) => {
    if (query.kind === 'crash') {
      throw new Error(`db password=hunter2 exploded at /srv/app.js calling with Bearer ${LEAKY_TOKEN}`);
    }
    if (query.kind === 'app-internal') throw new AppError('INTERNAL', 'internal detail with secret');
    if (query.kind === 'config') throw new AppError('CONFIG_INVALID', 'COSMOS_KEY is bad');
    if (query.kind === 'rate')
      throw new AppError('RATE_LIMITED', 'Slow down.', { details: { retryAfterSeconds: 7.2 } });
    return ok({ ok: 'yes' } as unknown as { ok: boolean });
  },
);

const download = defineRoute(
  {
    name: 'test-download',
    method: 'GET',
    route: 'test-download',
    auth: 'anonymous',
    query: z.object({ name: z.string(), type: z.string(), inline: z.stringbool().optional() }),
    responses: { 200: binaryResponse('The file', ['application/octet-stream', 'text/plain', 'text/html']) },
    summary: 'Download',
    tags: ['Test'],
  },
  ({ query }) =>
    file({
      content: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
      contentType: query.type,
      fileName: query.name,
      disposition: query.inline ? 'inline' : 'attachment',
      size: 11,
    }),
);

let idp: TestIdentityProvider;
let token: string;
let adminToken: string;
beforeAll(async () => {
  idp = await startTestIdentityProvider();
  setHttpRuntimeForTests({ tokenVerifier: idp.verifier });
  token = await idp.tokenFor('alice');
  adminToken = await idp.tokenFor('admin');
});
afterAll(async () => {
  setHttpRuntimeForTests(undefined);
  await idp.close();
});
beforeEach(() => widgets.clear());

describe('authentication and roles', () => {
  it('answers 401 problem+json with WWW-Authenticate when no token is sent', async () => {
    const res = await invokeRoute(putWidget, { params: { name: 'w1' }, body: { size: 1 } });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="m365-mail-sync"');
    expect(res.json).toMatchObject({
      code: 'UNAUTHENTICATED',
      status: 401,
      type: 'https://m365-mail-sync.dev/problems/unauthenticated',
    });
    expect(widgets.size).toBe(0);
  });

  it('answers 401 with error="invalid_token" for a bad token, without echoing it', async () => {
    const bad = await idp.tokenFor('alice', { audience: 'api://elsewhere' });
    const res = await invokeRoute(putWidget, { token: bad, params: { name: 'w1' }, body: { size: 1 } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.text).not.toContain(bad);
    expect(res.logs.join('\n')).not.toContain(bad);
  });

  it('authenticates before validating input (anonymous bad input is still 401)', async () => {
    const res = await invokeRoute(putWidget, { params: { name: '../x' }, rawBody: '{oops' });
    expect(res.status).toBe(401);
  });

  it('answers 403 FORBIDDEN when the route needs a role the caller lacks', async () => {
    widgets.set('w1', { name: 'w1', size: 1, secret: 's' });
    const res = await invokeRoute(adminOnly, { token, params: { name: 'w1' } });
    expect(res.status).toBe(403);
    expect(res.json.code).toBe('FORBIDDEN');
    expect(widgets.has('w1')).toBe(true);
    const ok = await invokeRoute(adminOnly, { token: adminToken, params: { name: 'w1' } });
    expect(ok.status).toBe(204);
    expect(ok.text).toBe('');
    expect(widgets.has('w1')).toBe(false);
  });
});

describe('input validation', () => {
  it('accepts a valid request and returns only the fields the response schema declares', async () => {
    const res = await invokeRoute(putWidget, {
      token,
      params: { name: 'w1' },
      body: { size: 3, tags: [{ label: 'a' }] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: 'w1', size: 3 });
    expect(res.text).not.toContain('hunter2');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  const badBodies: [string, Partial<Parameters<typeof invokeRoute>[1]>, number, string[]][] = [
    ['malformed JSON', { rawBody: '{"size": 1', headers: { 'content-type': 'application/json' } }, 400, ['(body)']],
    [
      'invalid UTF-8',
      { rawBody: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } },
      400,
      ['(body)'],
    ],
    ['a JSON array instead of an object', { body: [1, 2] }, 400, ['(root)']],
    ['a wrong type', { body: { size: 'three' } }, 400, ['size']],
    ['a missing required field', { body: {} }, 400, ['size']],
    ['an unknown top-level field', { body: { size: 1, colour: 'red', admin: true } }, 400, ['colour', 'admin']],
    ['an unknown nested field', { body: { size: 1, tags: [{ label: 'a', x: 1 }] } }, 400, ['tags.0.x']],
    [
      'a __proto__ key',
      { rawBody: '{"size":1,"__proto__":{"isAdmin":true}}', headers: { 'content-type': 'application/json' } },
      400,
      ['__proto__'],
    ],
    ['an invalid email', { body: { size: 1, owner: 'not-an-email' } }, 400, ['owner']],
    ['an invalid date', { body: { size: 1, since: '2024-02-30' } }, 400, ['since']],
    ['an out-of-range number', { body: { size: 11 } }, 400, ['size']],
    ['no body at all', {}, 400, ['(body)']],
    [
      'a non-JSON content type',
      { rawBody: 'size=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      ['(content-type)'],
    ],
    ['a JSON body without a content type', { rawBody: '{"size":1}' }, 415, ['(content-type)']],
    [
      'a non-UTF-8 charset',
      { rawBody: '{"size":1}', headers: { 'content-type': 'application/json; charset=latin1' } },
      415,
      ['(content-type)'],
    ],
  ];

  it.each(badBodies)('refuses %s and writes nothing', async (_name, request, status, fields) => {
    const res = await invokeRoute(putWidget, { token, params: { name: 'w1' }, ...request });
    expect(res.status).toBe(status);
    expect(res.json.code).toBe('VALIDATION_FAILED');
    const errors = res.json.errors as { field: string }[];
    expect(errors.map((e) => e.field).sort()).toEqual([...fields].sort());
    expect(widgets.size).toBe(0);
  });

  it('accepts application/json with a charset and +json media types', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const res = await invokeRoute(putWidget, {
        token,
        params: { name: 'w1' },
        rawBody: '{"size":2}',
        headers: { 'content-type': type },
      });
      expect(res.status).toBe(200);
    }
  });

  it.each([
    ['../etc/passwd'],
    ['%2e%2e'],
    ['..'],
    ['<script>alert(1)</script>'],
    ["' OR 1=1 --"],
    ['name\u0000null'],
    ['line\nbreak'],
    ['a/b'],
    ['a\\b'],
    ['x'.repeat(201)],
    [' '],
  ])('refuses the path name %j with 400 and writes nothing', async (name) => {
    const res = await invokeRoute(putWidget, { token, params: { name }, body: { size: 1 } });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('VALIDATION_FAILED');
    expect(res.json.errors[0].field).toBe('path.name');
    expect(res.text).not.toContain('<script>');
    expect(widgets.size).toBe(0);
  });

  it('refuses unknown, repeated and malformed query parameters', async () => {
    const unknown = await invokeRoute(listWidgets, { token, query: { colour: 'red' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.errors).toEqual([{ field: 'query.colour', message: 'is not a known field' }]);
    const repeated = await invokeRoute(listWidgets, { token, query: 'limit=1&limit=2' });
    expect(repeated.status).toBe(400);
    expect(repeated.json.errors[0].field).toBe('query.limit');
    for (const limit of ['0', '201', 'ten', '1.5', '']) {
      const res = await invokeRoute(listWidgets, { token, query: { limit } });
      expect(res.status).toBe(400);
      expect(res.json.errors[0].field).toBe('query.limit');
    }
  });

  it('pages with limit (default 50) and returns the list envelope', async () => {
    for (let i = 0; i < 60; i += 1) widgets.set(`w${i}`, { name: `w${i}`, size: i % 5, secret: 's' });
    const first = await invokeRoute(listWidgets, { token });
    expect(first.json.items).toHaveLength(50);
    expect(first.json.continuationToken).toBeNull();
    const some = await invokeRoute(listWidgets, { token, query: { limit: '200', minSize: '4' } });
    expect(some.json.items).toHaveLength(12);
  });

  it('refuses a body on an operation that takes none', async () => {
    widgets.set('w1', { name: 'w1', size: 1, secret: 's' });
    const res = await invokeRoute(adminOnly, { token: adminToken, params: { name: 'w1' }, body: { force: true } });
    expect(res.status).toBe(400);
    expect(widgets.has('w1')).toBe(true);
  });
});

describe('body size limit', () => {
  it('refuses a declared Content-Length over 1 MiB with 413 without reading the body', async () => {
    const res = await invokeRoute(putWidget, {
      token,
      params: { name: 'w1' },
      rawBody: '{"size":1}',
      headers: { 'content-type': 'application/json', 'content-length': String(MAX_BODY_BYTES + 1) },
    });
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('PAYLOAD_TOO_LARGE');
    expect(widgets.size).toBe(0);
  });

  it('refuses a streamed body over 1 MiB with 413', async () => {
    const big = JSON.stringify({ size: 1, pad: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await invokeRoute(putWidget, {
      token,
      params: { name: 'w1' },
      rawBody: big,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(widgets.size).toBe(0);
  });

  it('accepts a body of exactly 1 MiB as far as size goes (then validates it)', async () => {
    const prefix = '{"size":1,"pad":"';
    const body = prefix + 'x'.repeat(MAX_BODY_BYTES - prefix.length - 2) + '"}';
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const res = await invokeRoute(putWidget, {
      token,
      params: { name: 'w1' },
      rawBody: body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'pad', message: 'is not a known field' }]);
  });
});

describe('errors', () => {
  it('maps AppErrors to their status, code and problem type', async () => {
    const res = await invokeRoute(putWidget, { token, params: { name: 'taken' }, body: { size: 1 } });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({
      type: 'https://m365-mail-sync.dev/problems/conflict',
      code: 'CONFLICT',
      details: { reason: 'duplicate', field: 'name' },
    });
    expect(res.json.correlationId).toBe(res.headers.get('x-correlation-id'));
  });

  it('maps NOT_FOUND to 404', async () => {
    const res = await invokeRoute(adminOnly, { token: adminToken, params: { name: 'nope' } });
    expect(res.status).toBe(404);
    expect(res.json.code).toBe('NOT_FOUND');
  });

  it.each(['crash', 'app-internal', 'config', 'bad-response'])(
    'maps %s to 500 INTERNAL with a correlation id and nothing else',
    async (kind) => {
      const res = await invokeRoute(failing, { query: { kind } });
      expect(res.status).toBe(500);
      expect(res.json.code).toBe('INTERNAL');
      expect(res.json.detail).toContain(res.json.correlationId);
      for (const leak of ['hunter2', 'password', 'COSMOS_KEY', 'secret', '/srv/app.js', ' at ', 'yes', LEAKY_TOKEN]) {
        expect(res.text).not.toContain(leak);
      }
      // The server log has what is needed to debug it, with tokens redacted.
      const logs = res.logs.join('\n');
      expect(logs).toContain(res.json.correlationId);
      expect(logs).toMatch(/request failed/);
      expect(logs).not.toContain(LEAKY_TOKEN);
      expect(logs).not.toContain(token);
    },
  );

  it('sends Retry-After with RATE_LIMITED', async () => {
    const res = await invokeRoute(failing, { query: { kind: 'rate' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('8');
  });
});

describe('headers and logging', () => {
  it('sets no-store, nosniff and a correlation id on every response', async () => {
    for (const res of [
      await invokeRoute(listWidgets, { token }),
      await invokeRoute(listWidgets, {}),
      await invokeRoute(failing, { query: { kind: 'crash' } }),
    ]) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('logs one line per request with status and caller oid, never the token', async () => {
    const res = await invokeRoute(listWidgets, { token });
    const line = res.logs.find((l) => l.includes('request {'));
    expect(line).toMatch(/"status":200/);
    expect(line).toContain('11111111-1111-4111-8111-111111111111');
    expect(res.logs.join('\n')).not.toContain(token);
  });
});

describe('binary responses', () => {
  it('streams content with its type, length and a safe Content-Disposition', async () => {
    const res = await invokeRoute(download, { query: { name: 'report.txt', type: 'text/plain' } });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world');
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('content-length')).toBe('11');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="report.txt"');
  });

  it('never serves active content inline and replaces unsafe content types', async () => {
    const html = await invokeRoute(download, { query: { name: 'x.html', type: 'text/html', inline: 'true' } });
    expect(html.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(html.headers.get('content-security-policy')).toContain('sandbox');
    const text = await invokeRoute(download, { query: { name: 'x.txt', type: 'text/plain', inline: 'true' } });
    expect(text.headers.get('content-disposition')).toMatch(/^inline;/);
    const weird = await invokeRoute(download, { query: { name: 'x', type: 'text/plain\r\nX-Evil: 1' } });
    expect(weird.headers.get('content-type')).toBe('application/octet-stream');
    expect(weird.headers.get('x-evil')).toBeNull();
  });
});

describe('contentDisposition', () => {
  it.each([
    ['plain.pdf', 'attachment; filename="plain.pdf"'],
    ['Résumé 2024.pdf', `attachment; filename="R_sum_ 2024.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%202024.pdf`],
    ['../../etc/passwd', 'attachment; filename="passwd"'],
    ['C:\\Users\\x\\evil.exe', 'attachment; filename="evil.exe"'],
    ['a"b\r\nSet-Cookie: x.txt', 'attachment; filename="abSet-Cookie: x.txt"'],
    ["it's (1)*.txt", `attachment; filename="it's (1)*.txt"`],
    ['100%; x.txt', `attachment; filename="100__ x.txt"; filename*=UTF-8''100%25%3B%20x.txt`],
    ['', 'attachment; filename="download"'],
    ['...', 'attachment; filename="download"'],
    ['日本.txt', `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`],
  ])('%j → %s', (name, header) => {
    expect(contentDisposition(name)).toBe(header);
  });
});

describe('route definitions', () => {
  it('refuse params schemas that do not match the route template', () => {
    expect(() =>
      defineRoute(
        {
          name: 'test-bad',
          method: 'GET',
          route: 'x/{id}',
          auth: 'anonymous',
          params: z.object({ name: z.string() }),
          responses: { 204: emptyResponse('x') },
          summary: 'x',
          tags: [],
        },
        () => noContent(),
      ),
    ).toThrow(/must match/);
  });
});
