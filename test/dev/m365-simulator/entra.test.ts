import { ClientSecretCredential } from '@azure/identity';
import { ConfidentialClientApplication, type AuthError } from '@azure/msal-node';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { StartedSimulator } from '../../../dev/m365-simulator/contract';
import {
  GRAPH_SCOPE,
  VAULT_SCOPE,
  call,
  createTenant,
  decodeClaims,
  startTestSimulator,
  type TestTenant,
} from './helpers';
import { makeCertificate } from '../../support/certificates';

describe('M365 simulator: Entra ID', () => {
  let sim: StartedSimulator;
  let contoso: TestTenant;
  let knownAuthorities: string[];

  beforeAll(async () => {
    sim = await startTestSimulator();
    contoso = await createTenant(sim, { name: 'Contoso', roles: ['Mail.Read', 'User.Read.All'] });
    knownAuthorities = [new URL(sim.url).host];
  });
  afterAll(async () => {
    await sim.stop();
  });

  function msal(
    tenant: string,
    clientId: string,
    credential:
      | { clientSecret: string }
      | { clientCertificate: { thumbprintSha256?: string; thumbprint?: string; privateKey: string } },
    extra: { authorityMetadata?: string } = {},
  ): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: { clientId, authority: `${sim.url}/${tenant}`, knownAuthorities, ...credential, ...extra },
    });
  }

  async function msalError(
    app: ConfidentialClientApplication,
    scope = GRAPH_SCOPE,
  ): Promise<AuthError & { errorNo?: string | number }> {
    try {
      await app.acquireTokenByClientCredential({ scopes: [scope] });
    } catch (error) {
      return error as AuthError & { errorNo?: string | number };
    }
    throw new Error('expected the token request to fail');
  }

  it('issues a Graph token to MSAL Node with a client secret, then serves the second request from MSAL’s cache', async () => {
    await call(sim, 'POST', '/_sim/counters/reset');
    const app = msal(contoso.tenantId, contoso.appId, { clientSecret: contoso.secret });
    const first = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(first?.accessToken).toBeTruthy();
    const claims = decodeClaims(first?.accessToken ?? '');
    expect(claims).toMatchObject({
      aud: 'https://graph.microsoft.com',
      iss: `${sim.url}/${contoso.tenantId}/v2.0`,
      tid: contoso.tenantId,
      appid: contoso.appId,
      azp: contoso.appId,
      roles: ['Mail.Read', 'User.Read.All'],
      ver: '2.0',
      idtyp: 'app',
    });
    expect(claims['exp']).toBe((claims['iat'] as number) + 3599);
    const second = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(second?.accessToken).toBe(first?.accessToken);
    const counters = await call(sim, 'GET', '/_sim/counters');
    expect(counters.body.tokenRequestsByApp).toEqual({ [contoso.appId]: 1 });
  });

  it('accepts the tenant’s domain as authority and signs tokens verifiable with the published JWKS', async () => {
    const app = msal(contoso.domain, contoso.appId, { clientSecret: contoso.secret });
    const result = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    const config = await call(sim, 'GET', `/${contoso.domain}/v2.0/.well-known/openid-configuration`);
    expect(config.body).toMatchObject({
      issuer: `${sim.url}/${contoso.tenantId}/v2.0`,
      token_endpoint: `${sim.url}/${contoso.tenantId}/oauth2/v2.0/token`,
      authorization_endpoint: `${sim.url}/${contoso.tenantId}/oauth2/v2.0/authorize`,
      jwks_uri: `${sim.url}/${contoso.tenantId}/discovery/v2.0/keys`,
    });
    const jwks = await call<JSONWebKeySet>(sim, 'GET', '/common/discovery/v2.0/keys');
    const { payload, protectedHeader } = await jwtVerify(result?.accessToken ?? '', createLocalJWKSet(jwks.body), {
      issuer: `${sim.url}/${contoso.tenantId}/v2.0`,
      audience: 'https://graph.microsoft.com',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload['tid']).toBe(contoso.tenantId);
  });

  it('issues tokens for a certificate credential (SHA-256 thumbprint / PS256 and SHA-1 thumbprint / RS256)', async () => {
    const cert = makeCertificate({ days: 30, cn: 'sim-test-app' });
    const created = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
      displayName: 'cert app',
      roles: ['Mail.Read'],
      certificates: [{ certificatePem: cert.certPem }],
    });
    expect(created.status).toBe(201);
    expect(created.body.certificates[0].thumbprintSha256).toBe(cert.thumbprintSha256);
    const sha256 = msal(contoso.tenantId, String(created.body.appId), {
      clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.keyPem },
    });
    const token = await sha256.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(decodeClaims(token?.accessToken ?? '')['appid']).toBe(created.body.appId);
    const sha1 = msal(contoso.tenantId, String(created.body.appId), {
      clientCertificate: { thumbprint: cert.thumbprintSha1, privateKey: cert.keyPem },
    });
    expect((await sha1.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }))?.accessToken).toBeTruthy();

    const other = makeCertificate({ days: 30, cn: 'sim-test-app' });
    const wrongKey = msal(contoso.tenantId, String(created.body.appId), {
      clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: other.keyPem },
    });
    const error = await msalError(wrongKey);
    expect(error.errorCode).toBe('invalid_client');
    expect(error.errorMessage).toContain('AADSTS700027');
  });

  it('exchanges a federated assertion issued by the simulator itself (workload identity federation)', async () => {
    const managedIdentity = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
      displayName: 'managed identity',
      roles: ['Mail.Read'],
      secrets: [{}],
    });
    const miToken = await fetch(`${sim.url}/${contoso.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: managedIdentity.body.appId,
        client_secret: managedIdentity.body.secrets[0].value,
        scope: 'api://AzureADTokenExchange/.default',
      }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const miClaims = decodeClaims(miToken.access_token);
    const federated = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
      displayName: 'federated app',
      roles: ['Mail.Read'],
      federatedIssuers: [{ issuer: miClaims['iss'], subject: miClaims['sub'] }],
    });
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: federated.body.appId,
        authority: `${sim.url}/${contoso.tenantId}`,
        knownAuthorities,
        clientAssertion: () => Promise.resolve(miToken.access_token),
      },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(decodeClaims(result?.accessToken ?? '')['appid']).toBe(federated.body.appId);

    const forged = miToken.access_token.slice(0, -4) + (miToken.access_token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const forgedApp = new ConfidentialClientApplication({
      auth: {
        clientId: federated.body.appId,
        authority: `${sim.url}/${contoso.tenantId}`,
        knownAuthorities,
        clientAssertion: forged,
      },
    });
    expect((await msalError(forgedApp)).errorCode).toBe('invalid_client');
  });

  it('gives @azure/identity’s ClientSecretCredential a Key Vault token', async () => {
    const credential = new ClientSecretCredential(contoso.tenantId, contoso.appId, contoso.secret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
    const token = await credential.getToken(VAULT_SCOPE);
    const claims = decodeClaims(token.token);
    expect(claims['aud']).toBe('https://vault.azure.net');
    expect(claims['roles']).toBeUndefined();
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3000 * 1000);
  });

  describe('errors surface through MSAL with Entra’s codes', () => {
    it('wrong secret → 401 invalid_client AADSTS7000215', async () => {
      const error = await msalError(
        msal(contoso.tenantId, contoso.appId, { clientSecret: 'not-the-secret-value-at-all' }),
      );
      expect(error.errorCode).toBe('invalid_client');
      expect(String(error.errorNo)).toBe('7000215');
      expect(error.errorMessage).toContain('Description: AADSTS7000215: Invalid client secret provided');
    });

    it('expired secret → 401 invalid_client AADSTS7000222', async () => {
      const secret = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps/${contoso.appId}/secrets`, {
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
      });
      const error = await msalError(msal(contoso.tenantId, contoso.appId, { clientSecret: secret.body.value }));
      expect(error.errorCode).toBe('invalid_client');
      expect(String(error.errorNo)).toBe('7000222');
    });

    it('app not in the tenant → 400 unauthorized_client AADSTS700016', async () => {
      const fabrikam = await createTenant(sim, { name: 'Fabrikam' });
      const error = await msalError(msal(fabrikam.tenantId, contoso.appId, { clientSecret: contoso.secret }));
      expect(error.errorCode).toBe('unauthorized_client');
      expect(String(error.errorNo)).toBe('700016');
      const deleted = await call(sim, 'DELETE', `/_sim/tenants/${fabrikam.tenantId}/apps/${fabrikam.appId}`);
      expect(deleted.status).toBe(204);
      const gone = await msalError(msal(fabrikam.tenantId, fabrikam.appId, { clientSecret: fabrikam.secret }));
      expect(String(gone.errorNo)).toBe('700016');
    });

    it('unknown tenant → 400 invalid_request AADSTS90002 (and the discovery document answers invalid_tenant)', async () => {
      const unknown = '11111111-2222-3333-4444-555555555555';
      const discovery = await call(sim, 'GET', `/${unknown}/v2.0/.well-known/openid-configuration`);
      expect(discovery.status).toBe(400);
      expect(discovery.body).toMatchObject({ error: 'invalid_tenant', error_codes: [90002] });
      // MSAL needs the discovery document first; given it, the token endpoint's own error comes through.
      const metadata = JSON.stringify({
        token_endpoint: `${sim.url}/${unknown}/oauth2/v2.0/token`,
        authorization_endpoint: `${sim.url}/${unknown}/oauth2/v2.0/authorize`,
        issuer: `${sim.url}/${unknown}/v2.0`,
        jwks_uri: `${sim.url}/${unknown}/discovery/v2.0/keys`,
        end_session_endpoint: `${sim.url}/${unknown}/oauth2/v2.0/logout`,
      });
      const error = await msalError(
        msal(unknown, contoso.appId, { clientSecret: contoso.secret }, { authorityMetadata: metadata }),
      );
      expect(error.errorCode).toBe('invalid_request');
      expect(String(error.errorNo)).toBe('90002');
    });

    it('no application permissions granted → 400 invalid_grant AADSTS65001 (consent_required)', async () => {
      const created = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
        displayName: 'unconsented',
        roles: [],
        secrets: [{}],
      });
      const error = await msalError(
        msal(contoso.tenantId, String(created.body.appId), { clientSecret: created.body.secrets[0].value }),
      );
      expect(error.errorCode).toBe('invalid_grant');
      expect(String(error.errorNo)).toBe('65001');
      expect(error.subError).toBe('consent_required');
    });

    it('a scope without /.default → 400 invalid_scope AADSTS1002012', async () => {
      const error = await msalError(
        msal(contoso.tenantId, contoso.appId, { clientSecret: contoso.secret }),
        'https://graph.microsoft.com/Mail.Read',
      );
      expect(error.errorCode).toBe('invalid_scope');
      expect(String(error.errorNo)).toBe('1002012');
    });
  });

  it('answers in Entra’s error shape', async () => {
    const response = await fetch(`${sim.url}/${contoso.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'client-request-id': 'corr-123' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: contoso.appId,
        client_secret: 'x'.repeat(20),
        scope: GRAPH_SCOPE,
      }),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [7000215], correlation_id: 'corr-123' });
    expect(body['error_description']).toMatch(/^AADSTS7000215: /);
    expect(body['timestamp']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(body['trace_id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('issues user tokens for the product’s API, signed with the same keys', async () => {
    await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/users`, {
      userPrincipalName: `ann@${contoso.domain}`,
      displayName: 'Ann',
    });
    const issued = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/user-tokens`, {
      audience: 'api://mail-sync',
      preferredUsername: `ann@${contoso.domain}`,
      roles: ['SystemManager'],
    });
    expect(issued.status).toBe(200);
    const jwks = await call<JSONWebKeySet>(sim, 'GET', `/${contoso.tenantId}/discovery/v2.0/keys`);
    const { payload } = await jwtVerify(String(issued.body.accessToken), createLocalJWKSet(jwks.body), {
      audience: 'api://mail-sync',
      issuer: `${sim.url}/${contoso.tenantId}/v2.0`,
    });
    expect(payload).toMatchObject({
      preferred_username: `ann@${contoso.domain}`,
      name: 'Ann',
      roles: ['SystemManager'],
      tid: contoso.tenantId,
    });
    const expired = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/user-tokens`, {
      audience: 'api://mail-sync',
      preferredUsername: 'bob',
      expiresInSeconds: -60,
    });
    expect(decodeClaims(String(expired.body.accessToken))['exp']).toBeLessThan(Date.now() / 1000);
    const invalid = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/user-tokens`, { audience: 'x' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toContain('preferredUsername');
  });
});
