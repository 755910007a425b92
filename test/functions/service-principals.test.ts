/**
 * The service principal routes end to end through their handlers, with the real identity use cases over the
 * M365 simulator (Entra ID token endpoint, Graph, Key Vault) and the Cosmos stand-in. Every response is
 * checked against the OpenAPI document, and every response and log line of the file is scanned for the
 * secrets, certificate keys and tokens that passed through.
 */
import { servicePrincipalCreate } from '../../functions/service-principal-create';
import { servicePrincipalDelete } from '../../functions/service-principal-delete';
import { servicePrincipalGet } from '../../functions/service-principal-get';
import { servicePrincipalTest } from '../../functions/service-principal-test';
import { servicePrincipalUpdate } from '../../functions/service-principal-update';
import { servicePrincipalsList } from '../../functions/service-principals-list';
import { setIdentityServicesForTests, type IdentityServices } from '../../shared/adapters/identity/factory';
import { setApiDependenciesForTests } from '../../shared/api/dependencies';
import { systemClock } from '../../shared/domain/ports/clock';
import type { ServicePrincipalRecord } from '../../shared/domain/records';
import type { DefinedRoute } from '../../shared/http/route';
import { setHttpRuntimeForTests } from '../../shared/http/runtime';
import { makeCertificate, type TestCertificate } from '../support/certificates';
import { startIdentityTestStack, type IdentityTestStack } from '../shared/adapters/identity-test-stack';
import { startTestIdentityProvider, type TestIdentityProvider } from '../support/api-tokens';
import { invokeRoute, type ApiResponse, type InvokeRequest } from '../support/openapi-contract';

// The function files register themselves with `app.http`; let them register with the local stand-in.
jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../dev/functions-host/functions-core'), {
  virtual: true,
});

/** One field of each item of a JSON array. */
const pluck = (items: unknown, key: string): unknown[] => (items as Record<string, unknown>[]).map((item) => item[key]);

type Tenant = Awaited<ReturnType<IdentityTestStack['createTenant']>>;

let stack: IdentityTestStack;
let services: IdentityServices;
let idp: TestIdentityProvider;
let adminToken: string;
let aliceToken: string;
let contoso: Tenant;
let certificate: TestCertificate;
/** Every response text and log line of this file, for the leak scan at the end. */
const transcript: string[] = [];
/** Every secret that went in: none may ever come out. */
const secretsSent: string[] = [];

async function call(route: DefinedRoute, request: InvokeRequest = {}): Promise<ApiResponse> {
  const res = await invokeRoute(route, request);
  transcript.push(res.text, ...res.logs);
  return res;
}
const asAdmin = (route: DefinedRoute, request: InvokeRequest = {}) => call(route, { ...request, token: adminToken });

function principalBody(name: string, tenant: Tenant, credential: Record<string, unknown>, extra = {}) {
  return {
    servicePrincipalName: name,
    tenantId: tenant.tenantId,
    clientId: tenant.appId,
    authorityUrl: `${stack.sim.url}/${tenant.tenantId}`,
    graphApiEndpoint: `${stack.sim.url}/v1.0`,
    ...credential,
    ...extra,
  };
}

const record = async (name: string): Promise<ServicePrincipalRecord | undefined> =>
  stack.repositories.servicePrincipals.get(name);

beforeAll(async () => {
  stack = await startIdentityTestStack();
  services = stack.newProcess();
  setIdentityServicesForTests(services);
  setApiDependenciesForTests({ repositories: stack.repositories, clock: systemClock });
  idp = await startTestIdentityProvider();
  setHttpRuntimeForTests({ tokenVerifier: idp.verifier });
  adminToken = await idp.tokenFor('admin');
  aliceToken = await idp.tokenFor('alice');
  certificate = makeCertificate({ days: 200 });
  contoso = await stack.createTenant('Contoso', { secrets: [{}, {}] });
  secretsSent.push(...contoso.secrets.map((s) => s.value));
});

afterAll(async () => {
  setIdentityServicesForTests(undefined);
  setApiDependenciesForTests(undefined);
  setHttpRuntimeForTests(undefined);
  await idp.close();
  await stack.stop();
});

describe('service principal routes', () => {
  it('create: 201 with Location and ETag; the secret is in Key Vault, never in the response or Cosmos', async () => {
    const expiresAt = new Date(Date.now() + 10 * 24 * 3600_000).toISOString();
    const res = await asAdmin(servicePrincipalCreate, {
      body: principalBody(
        'Contoso',
        contoso,
        { clientSecret: contoso.secrets[0]!.value, clientSecretExpiresAt: expiresAt },
        { tenantName: 'Contoso Ltd', company: 'Contoso', description: 'Main tenant' },
      ),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/api/service-principals/Contoso');
    expect(res.headers.get('etag')).toBe(res.json.etag);
    expect(res.json).toMatchObject({
      servicePrincipalName: 'Contoso',
      tenantId: contoso.tenantId,
      tenantName: 'Contoso Ltd',
      clientId: contoso.appId,
      cloud: 'global',
      enabled: true,
      hasTokenCache: false,
      credential: { kind: 'clientSecret', expiresAt },
      createdBy: 'sam.admin@contoso.test',
      audit: [expect.objectContaining({ action: 'created', actor: 'sam.admin@contoso.test' })],
    });
    expect(res.json.credentialWarning).toMatch(/expires on/);
    expect(res.json.credential).not.toHaveProperty('secretRef');

    const stored = (await record('Contoso'))!;
    expect(stored.credential.kind).toBe('clientSecret');
    const ref = stored.credential.kind === 'clientSecret' ? stored.credential.secretRef : undefined;
    expect((await services.secrets.get(ref!.name))?.value).toBe(contoso.secrets[0]!.value);
    expect(JSON.stringify(await stack.rawServicePrincipalDocuments())).not.toContain(contoso.secrets[0]!.value);
  });

  it('create with a certificate: 201 with the thumbprint, never the PEM; test connection signs with it', async () => {
    const certified = await stack.createTenant('Certified', {
      secrets: [],
      certificates: [{ certificatePem: certificate.certPem }],
    });
    const res = await asAdmin(servicePrincipalCreate, {
      body: principalBody('Certified', certified, { certificate: { pem: certificate.combinedPem } }),
    });
    expect(res.status).toBe(201);
    expect(res.json.credential).toEqual({
      kind: 'certificate',
      expiresAt: expect.any(String),
      thumbprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/i),
    });
    const test = await asAdmin(servicePrincipalTest, { params: { name: 'Certified' } });
    expect(test.status).toBe(200);
    expect(test.json.checks[0]).toMatchObject({ name: 'token', ok: true });
  });

  it('refuses a duplicate name (409) and bad credentials (400) without echoing the secret or the key', async () => {
    const duplicate = await asAdmin(servicePrincipalCreate, {
      body: principalBody('contoso', contoso, { clientSecret: contoso.secrets[0]!.value }),
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json).toMatchObject({ code: 'CONFLICT', details: { reason: 'duplicate' } });

    const both = await asAdmin(servicePrincipalCreate, {
      body: principalBody('Both', contoso, {
        clientSecret: contoso.secrets[1]!.value,
        certificate: { pem: certificate.combinedPem },
      }),
    });
    expect(both.status).toBe(400);
    expect(pluck(both.json.errors, 'field').sort()).toEqual(['certificate', 'clientSecret']);

    const keyOnly = await asAdmin(servicePrincipalCreate, {
      body: principalBody('KeyOnly', contoso, { certificate: { pem: certificate.keyPem } }),
    });
    expect(keyOnly.status).toBe(400);
    expect(keyOnly.json.code).toBe('VALIDATION_FAILED');

    const notEnabledHost = await asAdmin(servicePrincipalCreate, {
      body: {
        ...principalBody('Elsewhere', contoso, { clientSecret: contoso.secrets[1]!.value }),
        authorityUrl: 'https://login.evil.test/tenant',
      },
    });
    expect(notEnabledHost.status).toBe(400);
    expect(await record('Both')).toBeUndefined();
    expect(await record('KeyOnly')).toBeUndefined();
    expect(await record('Elsewhere')).toBeUndefined();
  });

  it('list: System Managers see every field but secrets; others only enabled principals, name and tenant name', async () => {
    const dormant = await asAdmin(servicePrincipalCreate, {
      body: principalBody('Dormant', contoso, { federated: {} }, { tenantName: 'Dormant Ltd', enabled: false }),
    });
    expect(dormant.status).toBe(201);

    const admin = await asAdmin(servicePrincipalsList);
    expect(admin.status).toBe(200);
    expect(pluck(admin.json.items, 'servicePrincipalName')).toEqual(['Certified', 'Contoso', 'Dormant']);
    expect(admin.json.items[2]).toMatchObject({ enabled: false, credential: { kind: 'federated' } });

    const alice = await call(servicePrincipalsList, { token: aliceToken });
    expect(alice.status).toBe(200);
    expect(alice.json).toEqual({
      items: [{ servicePrincipalName: 'Certified' }, { servicePrincipalName: 'Contoso', tenantName: 'Contoso Ltd' }],
      continuationToken: null,
    });
    const aliceDisabled = await call(servicePrincipalsList, { token: aliceToken, query: { enabled: 'false' } });
    expect(aliceDisabled.json.items).toEqual([]);

    const page = await asAdmin(servicePrincipalsList, { query: { limit: '2', enabled: 'true' } });
    expect(page.json.items).toHaveLength(2);
    expect(page.json.continuationToken).toBeNull();
  });

  it('get: the record with its ETag; 404 for an unknown name', async () => {
    const res = await asAdmin(servicePrincipalGet, { params: { name: 'CONTOSO' } });
    expect(res.status).toBe(200);
    expect(res.json.servicePrincipalName).toBe('Contoso');
    expect(res.headers.get('etag')).toBe(res.json.etag);
    const missing = await asAdmin(servicePrincipalGet, { params: { name: 'Nowhere' } });
    expect(missing.status).toBe(404);
  });

  it('test connection with a good secret: ok, with the token, permission, directory and mailbox checks', async () => {
    const user = await stack.createUser(contoso.tenantId, `ada@${contoso.domain}`);
    const res = await asAdmin(servicePrincipalTest, {
      params: { name: 'Contoso' },
      query: { mailboxes: user.userPrincipalName },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ ok: true, servicePrincipalName: 'Contoso', tokenExpiresAt: expect.any(String) });
    expect((res.json.checks as Array<{ name: string; ok: boolean }>).map((c) => [c.name, c.ok])).toEqual([
      ['token', true],
      ['permissions', true],
      ['directory', true],
      [`mailbox:${user.userPrincipalName}`, true],
    ]);
    expect((await record('Contoso'))?.lastValidatedAt).toBeDefined();
  });

  it('test connection refuses bad mailbox lists (400) and unknown principals (404)', async () => {
    const tooMany = Array.from({ length: 11 }, (_, i) => `u${i}@contoso.test`).join(',');
    const res = await asAdmin(servicePrincipalTest, { params: { name: 'Contoso' }, query: { mailboxes: tooMany } });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'query.mailboxes', message: 'must list at most 10 mailboxes' }]);
    const empty = await asAdmin(servicePrincipalTest, { params: { name: 'Contoso' }, query: { mailboxes: ' , ' } });
    expect(empty.status).toBe(400);
    const missing = await asAdmin(servicePrincipalTest, { params: { name: 'Nowhere' } });
    expect(missing.status).toBe(404);
  });

  it('patch: rotates the secret and changes settings; a stale If-Match is 409 and changes nothing', async () => {
    const before = (await record('Contoso'))!;
    const stale = await asAdmin(servicePrincipalUpdate, {
      params: { name: 'Contoso' },
      headers: { 'if-match': '"not-the-etag"' },
      body: { clientSecret: contoso.secrets[1]!.value },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.details).toEqual({ reason: 'stale' });
    expect((await record('Contoso'))!.etag).toBe(before.etag);

    const res = await asAdmin(servicePrincipalUpdate, {
      params: { name: 'Contoso' },
      headers: { 'if-match': before.etag! },
      body: { clientSecret: contoso.secrets[1]!.value, description: null, company: 'Contoso Group' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ company: 'Contoso Group', hasTokenCache: false });
    expect(res.json).not.toHaveProperty('description');
    expect(pluck(res.json.audit, 'action')).toEqual(['created', 'credential-rotated', 'updated']);
    expect(res.headers.get('etag')).toBe(res.json.etag);

    const test = await asAdmin(servicePrincipalTest, { params: { name: 'Contoso' } });
    expect(test.json.ok).toBe(true);
  });

  it('test connection with a deleted secret: 200, ok false, AADSTS7000215 with a remedy', async () => {
    const rotated = await stack.createTenant('Rotated');
    secretsSent.push(rotated.secrets[0]!.value);
    expect(
      (
        await asAdmin(servicePrincipalCreate, {
          body: principalBody('Rotated', rotated, { clientSecret: rotated.secrets[0]!.value }),
        })
      ).status,
    ).toBe(201);
    await stack.control(
      'DELETE',
      `/_sim/tenants/${rotated.tenantId}/apps/${rotated.appId}/secrets/${rotated.secrets[0]!.id}`,
    );
    const res = await asAdmin(servicePrincipalTest, { params: { name: 'Rotated' } });
    expect(res.status).toBe(200);
    expect(res.json.ok).toBe(false);
    expect(res.json.checks).toEqual([
      { name: 'token', ok: false, code: 'AADSTS7000215', message: expect.any(String), remedy: expect.any(String) },
    ]);
    expect(res.json.checks[0].remedy).toMatch(/secret/i);
    expect((await record('Rotated'))?.validationError?.code).toBe('AADSTS7000215');
  });

  it('delete: 409 while an account uses it, 409 on a stale If-Match, then 204 and its secret is gone', async () => {
    await stack.repositories.emailAccounts.create({
      accountName: 'M365-ada@contoso.test',
      accountType: 'User Mailbox',
      emailAddress: 'ada@contoso.test',
      user: 'ada@contoso.test',
      enabled: true,
      servicePrincipal: 'Contoso',
      folderFilter: [],
      autoCreateContact: true,
      syncAttachments: true,
      maxAttachmentSize: 10,
      linkingRules: [],
    });
    const inUse = await asAdmin(servicePrincipalDelete, { params: { name: 'Contoso' } });
    expect(inUse.status).toBe(409);
    expect(inUse.json).toMatchObject({ code: 'CONFLICT', details: { reason: 'in-use', emailAccounts: 1 } });
    expect(await record('Contoso')).toBeDefined();

    await stack.repositories.emailAccounts.delete('M365-ada@contoso.test');
    const stale = await asAdmin(servicePrincipalDelete, {
      params: { name: 'Contoso' },
      headers: { 'if-match': '"not-the-etag"' },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.details).toEqual({ reason: 'stale' });

    const stored = (await record('Contoso'))!;
    const ref = stored.credential.kind === 'clientSecret' ? stored.credential.secretRef : undefined;
    const deleted = await asAdmin(servicePrincipalDelete, {
      params: { name: 'Contoso' },
      headers: { 'if-match': stored.etag! },
    });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(await record('Contoso')).toBeUndefined();
    expect(await services.secrets.get(ref!.name)).toBeUndefined();
    expect((await asAdmin(servicePrincipalGet, { params: { name: 'Contoso' } })).status).toBe(404);
    expect((await asAdmin(servicePrincipalDelete, { params: { name: 'Contoso' } })).status).toBe(404);
  });

  it('no response or log line ever held a client secret, a private key or a token', () => {
    const text = [...transcript, stack.logger.text()].join('\n');
    expect(transcript.length).toBeGreaterThan(40);
    for (const secret of secretsSent) expect(text).not.toContain(secret);
    // Neither the key nor the certificate of the uploaded PEM (only its thumbprint).
    const pemBody = certificate.combinedPem.split('\n').filter((line) => line.length > 40);
    expect(pemBody.length).toBeGreaterThan(10);
    for (const line of pemBody) expect(text).not.toContain(line);
    expect(text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
