/**
 * GET /api/health lists service principal credentials that expire within 30 days (or have expired): still
 * 200, since the service works until they expire, but operators see it on the probe they already watch.
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { health } from '../../functions/health';
import { registerHealth } from '../../shared/api/openapi-document';
import { createCosmosRepositories } from '../../shared/adapters/cosmos';
import { systemClock } from '../../shared/domain/ports/clock';
import type { Credential } from '../../shared/domain/records';
import { assertMatchesContract } from '../support/openapi-contract';
import { useStackApp } from '../support/stack-app';

// The function files register themselves with `app.http`; let them register with the local stand-in.
jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../dev/functions-host/functions-core'), {
  virtual: true,
});

const app = useStackApp('health-warnings');
const DAY = 24 * 3600_000;
const inDays = (days: number): string => new Date(Date.now() + days * DAY).toISOString();

beforeAll(async () => {
  app.configure();
  const repositories = createCosmosRepositories(app.cosmos.database(app.database), { clock: systemClock });
  const principals: Array<[string, boolean, Credential]> = [
    ['Expiring', true, { kind: 'clientSecret', secretRef: { name: 'sp-expiring' }, expiresAt: inDays(10) }],
    ['Expired', true, { kind: 'clientSecret', secretRef: { name: 'sp-expired' }, expiresAt: inDays(-2) }],
    ['Fresh', true, { kind: 'clientSecret', secretRef: { name: 'sp-fresh' }, expiresAt: inDays(200) }],
    ['Dormant', false, { kind: 'clientSecret', secretRef: { name: 'sp-dormant' }, expiresAt: inDays(5) }],
    ['Federated', true, { kind: 'federated', audience: 'api://AzureADTokenExchange' }],
  ];
  for (const [name, enabled, credential] of principals) {
    await repositories.servicePrincipals.create({
      servicePrincipalName: name,
      tenantId: '9e7a1d2b-0000-4000-8000-00000000c0de',
      tenantName: `${name} Corp`,
      clientId: '9e7a1d2b-0000-4000-8000-00000000abcd',
      cloud: 'global',
      authorityUrl: 'https://login.microsoftonline.com/9e7a1d2b-0000-4000-8000-00000000c0de',
      graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
      scopes: 'https://graph.microsoft.com/.default',
      enabled,
      credential,
    });
  }
});

it('answers 200 with a warning per enabled principal whose credential expires within 30 days, soonest first', async () => {
  const init = await health(
    new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health' }),
    new InvocationContext({ functionName: 'health', logHandler: () => undefined }),
  );
  expect(init.status).toBe(200);
  const body = init.jsonBody as { status: string; warnings?: Array<Record<string, string>> };
  expect(body.status).toBe('ok');
  expect(body.warnings).toEqual([
    { servicePrincipalName: 'Expired', expiresAt: expect.any(String), message: expect.stringMatching(/expired on/) },
    {
      servicePrincipalName: 'Expiring',
      expiresAt: expect.any(String),
      message: expect.stringMatching(/expires on .* \(in (9|10) days\)\. Create a new client secret/),
    },
  ]);
  // Anonymous callers learn nothing more: no tenant ids, no secret references.
  expect(JSON.stringify(body)).not.toMatch(/9e7a1d2b|sp-expir/);

  // The body is what the OpenAPI document promises. Health is a plain `app.http` function (described in the
  // document by `registerHealth`) that sets no correlation id; the rest of the contract is checked as is.
  registerHealth();
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json');
  headers.set('x-correlation-id', 'not-set-by-health');
  assertMatchesContract('health', { status: init.status ?? 200, headers, text: JSON.stringify(body), json: body });
});
