/**
 * The API verifier accepts the user tokens the M365 simulator mints (its stand-in for Entra-issued API
 * tokens) when configured as `npm start` configures it, and refuses them for another audience or tenant.
 */
import { readFileSync } from 'node:fs';
import { startSimulator } from '../../../dev/m365-simulator/server';
import type { StartedSimulator } from '../../../dev/m365-simulator/contract';
import { createJwtVerifier } from '../../../shared/http/auth';
import { testStack } from '../../support/stack';

const AUDIENCE = 'api://m365-mail-sync-local';
let sim: StartedSimulator;
let tenantId: string;

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const mint = async (body: Record<string, unknown>, tenant = tenantId): Promise<string> =>
  (await post<{ accessToken: string }>(`/_sim/tenants/${tenant}/user-tokens`, { audience: AUDIENCE, ...body }))
    .accessToken;

beforeAll(async () => {
  const stack = testStack();
  sim = await startSimulator({ tls: { cert: readFileSync(stack.tlsCertPath), key: readFileSync(stack.tlsKeyPath) } });
  tenantId = (await post<{ id: string }>('/_sim/tenants', { displayName: 'Contoso' })).id;
});
afterAll(async () => {
  await sim.stop();
});

it('accepts a simulator user token with its roles', async () => {
  const verifier = createJwtVerifier({
    jwksUri: `${sim.url}/common/discovery/v2.0/keys`,
    issuers: [`${sim.url}/${tenantId}/v2.0`],
    audience: AUDIENCE,
  });
  const token = await mint({ preferredUsername: 'Sam@Contoso.test', roles: ['SystemManager'] });
  const principal = await verifier.verify(`Bearer ${token}`);
  expect(principal).toMatchObject({ username: 'sam@contoso.test', isSystemManager: true, isInboxUser: false });
  expect(principal.oid).toMatch(/^[0-9a-f-]{36}$/);
});

it('refuses a simulator token for another audience, another tenant, or expired', async () => {
  const otherTenant = (await post<{ id: string }>('/_sim/tenants', { displayName: 'Fabrikam' })).id;
  const verifier = createJwtVerifier({
    jwksUri: `${sim.url}/common/discovery/v2.0/keys`,
    issuers: [`${sim.url}/${tenantId}/v2.0`],
    audience: AUDIENCE,
  });
  const tokens = [
    await mint({ preferredUsername: 'a@contoso.test', audience: 'api://other' }),
    await mint({ preferredUsername: 'a@fabrikam.test' }, otherTenant),
    await mint({ preferredUsername: 'a@contoso.test', expiresInSeconds: -600 }),
  ];
  for (const token of tokens) {
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  }
});
