/** `GET /api/openapi.json` (anonymous): the OpenAPI 3.1 document, generated from the routes' own schemas. */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { app } from '@azure/functions';
import { z } from 'zod';
import { appVersion } from '../shared/config';
import { buildOpenApiDocument } from '../shared/http/openapi';
import { defineRoute, ok, registeredRoutes, registerRouteSpec } from '../shared/http/route';

/**
 * The host loads every function file at startup, so every route is registered before the first request.
 * Load any that are not (a host that loads files lazily, or a test importing this file alone).
 */
function loadAllFunctionModules(): void {
  const self = basename(__filename);
  for (const file of readdirSync(__dirname)) {
    if (file === self || file.endsWith('.d.ts') || !/\.(js|ts)$/.test(file)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- function files register routes on load
    require(join(__dirname, file));
  }
}

/** `functions/health.ts` is a plain `app.http` function; describe it here so the document is complete. */
const healthReport = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() })),
  warnings: z
    .array(z.object({ servicePrincipalName: z.string(), expiresAt: z.string(), message: z.string() }))
    .optional()
    .meta({ description: 'Service principal credentials expiring within 30 days (or expired); absent when none.' }),
});

export function registerHealth(): void {
  if (registeredRoutes().some((route) => route.name === 'health')) return;
  registerRouteSpec({
    name: 'health',
    method: 'GET',
    route: 'health',
    path: '/api/health',
    auth: 'anonymous',
    roles: [],
    params: undefined,
    query: undefined,
    body: undefined,
    responses: {
      200: { kind: 'json', schema: healthReport, description: 'Every dependency answered.' },
      503: { kind: 'json', schema: healthReport, description: 'A dependency is unreachable.' },
    },
    errors: [],
    summary: 'Health of the service and its dependencies',
    description: undefined,
    tags: ['Operations'],
  });
}

let cached: { routes: number; document: unknown } | undefined;

export const openApi = defineRoute(
  {
    name: 'openapi',
    method: 'GET',
    route: 'openapi.json',
    auth: 'anonymous',
    responses: { 200: z.record(z.string(), z.unknown()).meta({ description: 'An OpenAPI 3.1 document.' }) },
    summary: 'This API’s OpenAPI 3.1 document',
    tags: ['Operations'],
  },
  () => {
    if (!cached) {
      loadAllFunctionModules();
      registerHealth();
    }
    const routes = registeredRoutes();
    if (cached?.routes !== routes.length) {
      cached = { routes: routes.length, document: buildOpenApiDocument({ version: appVersion() }, routes) };
    }
    return ok(cached.document as Record<string, unknown>);
  },
);

export const handler = openApi.handler;
app.http(openApi.name, openApi.options);
