/**
 * Test helpers for the M365 simulator's core: start one in-process, talk to its control API, make tokens
 * (certificates: `test/support/certificates.ts`).
 */
import fs from 'node:fs';
import type { StartedSimulator } from '../../../dev/m365-simulator/contract';
import { startSimulator, type CoreSimulatorOptions } from '../../../dev/m365-simulator/server';
import { testStack } from '../../support/stack';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const VAULT_SCOPE = 'https://vault.azure.net/.default';

export function tls(): { cert: Buffer; key: Buffer } {
  const stack = testStack();
  return { cert: fs.readFileSync(stack.tlsCertPath), key: fs.readFileSync(stack.tlsKeyPath) };
}

export async function startTestSimulator(options: Omit<CoreSimulatorOptions, 'tls'> = {}): Promise<StartedSimulator> {
  return startSimulator({ ...options, tls: tls() });
}

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request to the simulator (control API or any route). */
export async function call<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  sim: StartedSimulator,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${sim.url}${pathAndQuery}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  if (text !== '' && (response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export interface TestTenant {
  tenantId: string;
  domain: string;
  appId: string;
  secret: string;
  users: { id: string; userPrincipalName: string }[];
}

/** Creates a tenant with one app (given roles and scope, one secret) and the given users. */
export async function createTenant(
  sim: StartedSimulator,
  options: {
    name: string;
    roles?: string[];
    mailboxScope?: string[] | null;
    users?: { alias: string; userPurpose?: string; mailboxEnabled?: boolean }[];
  },
): Promise<TestTenant> {
  const domain = `${options.name.toLowerCase()}.example.com`;
  const tenant = await call(sim, 'POST', '/_sim/tenants', { displayName: options.name, domain });
  expect(tenant.status).toBe(201);
  const app = await call(sim, 'POST', `/_sim/tenants/${tenant.body.id}/apps`, {
    displayName: `${options.name} sync`,
    roles: options.roles ?? ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'],
    mailboxScope: options.mailboxScope ?? null,
    secrets: [{}],
  });
  expect(app.status).toBe(201);
  const users = [];
  for (const user of options.users ?? []) {
    const created = await call(sim, 'POST', `/_sim/tenants/${tenant.body.id}/users`, {
      userPrincipalName: `${user.alias}@${domain}`,
      ...(user.userPurpose ? { userPurpose: user.userPurpose } : {}),
      ...(user.mailboxEnabled === undefined ? {} : { mailboxEnabled: user.mailboxEnabled }),
    });
    expect(created.status).toBe(201);
    users.push({ id: created.body.id as string, userPrincipalName: created.body.userPrincipalName as string });
  }
  return { tenantId: tenant.body.id, domain, appId: app.body.appId, secret: app.body.secrets[0].value, users };
}

/** A client-credentials token straight from the token endpoint (no MSAL). */
export async function appToken(
  sim: StartedSimulator,
  tenant: string,
  appId: string,
  secret: string,
  scope = GRAPH_SCOPE,
): Promise<string> {
  const response = await fetch(`${sim.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: appId, client_secret: secret, scope }),
  });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token request failed: ${response.status} ${body.error_description}`);
  return body.access_token;
}

export function decodeClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
