/**
 * `GET /api/openapi.json`: the OpenAPI 3.1 document of every route, built from the routes' own schemas and kept
 * until more routes register. The host loads every function file at startup, so every route is registered
 * before the first request; a host that loads files lazily (or a test importing one function file) gets the
 * other function files loaded here first. `functions/health.ts` is a plain `app.http` function, described by
 * `registerHealth`.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { appVersion } from '../config';
import { buildOpenApiDocument } from '../http/openapi';
import { registeredRoutes, registerRouteSpec } from '../http/route';
import { healthReportView } from './schemas';

/** Requires every function module in `functionsDir` but `self` (each registers its routes on load). */
function loadFunctionModules(functionsDir: string, self: string): void {
  for (const file of readdirSync(functionsDir)) {
    if (file === basename(self) || file.endsWith('.d.ts') || !/\.(js|ts)$/.test(file)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- function files register routes on load
    require(join(functionsDir, file));
  }
}

/** Describes `GET /api/health` (an anonymous plain `app.http` function) in the document. */
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
      200: { kind: 'json', schema: healthReportView, description: 'Every dependency answered.' },
      503: { kind: 'json', schema: healthReportView, description: 'A dependency is unreachable.' },
    },
    errors: [],
    summary: 'Health of the service and its dependencies',
    description: undefined,
    tags: ['Operations'],
  });
}

let cached: { routes: number; document: Record<string, unknown> } | undefined;

/** The document of every route, loading the function modules of `functionsDir` (all but `self`) on first use. */
export function openApiDocument(functionsDir: string, self: string): Record<string, unknown> {
  if (!cached) {
    loadFunctionModules(functionsDir, self);
    registerHealth();
  }
  const routes = registeredRoutes();
  if (cached?.routes !== routes.length) {
    cached = { routes: routes.length, document: { ...buildOpenApiDocument({ version: appVersion() }, routes) } };
  }
  return cached.document;
}
