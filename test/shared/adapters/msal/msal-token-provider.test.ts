/**
 * The MSAL token provider against the simulator's Entra ID and Key Vault and the Cosmos stand-in, with the
 * real SDKs: secret, certificate and federated credentials, the encrypted persisted cache reused by another
 * process with zero token requests, concurrent refreshes, endpoint safety, tenants kept apart, and a scan
 * of everything stored and logged for secrets and tokens.
 */
import { MsalTokenProvider } from '../../../../shared/adapters/msal/msal-token-provider';
import {
  graphAccessForAccount,
  makeServicePrincipalUseCases,
  refreshAllTokens,
  type AccessToken,
} from '../../../../shared/domain/identity';
import type { ServicePrincipalRecord } from '../../../../shared/domain/records';
import { isAppError } from '../../../../shared/errors';
import { makeCertificate } from '../../../support/certificates';
import { claimsOf, startIdentityTestStack, type IdentityTestStack } from '../identity-test-stack';

const ACTOR = 'admin@example.com';

describe('MsalTokenProvider (simulator + Cosmos stand-in)', () => {
  let stack: IdentityTestStack;
  /** Everything any code wrote to the console or stdout/stderr during the suite. */
  const consoleOutput: string[] = [];
  const issuedTokens: string[] = [];
  const secretValues: string[] = [];
  const restore: Array<() => void> = [];

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const spy = jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleOutput.push(args.map(String).join(' '));
      });
      restore.push(() => spy.mockRestore());
    }
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = (chunk: unknown, ...rest: unknown[]) => {
        consoleOutput.push(String(chunk));
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      };
      restore.push(() => (stream.write = original));
    }
    stack = await startIdentityTestStack();
    secretValues.push(stack.hostApp.secrets[0]!.value);
  });
  afterAll(async () => {
    await stack.stop();
    restore.forEach((r) => r());
  });

  const remember = (token: AccessToken): AccessToken => {
    issuedTokens.push(token.accessToken);
    return token;
  };

  async function principalFor(
    name: string,
    tenant: { tenantId: string; appId: string },
    credential: Record<string, unknown>,
    services = stack.newProcess(),
  ): Promise<ServicePrincipalRecord> {
    await stack.useCases(services).createServicePrincipal(
      {
        servicePrincipalName: name,
        tenantId: tenant.tenantId,
        clientId: tenant.appId,
        authorityUrl: `${stack.sim.url}/${tenant.tenantId}`,
        graphApiEndpoint: `${stack.sim.url}/v1.0`,
        ...credential,
      },
      ACTOR,
    );
    return (await stack.repositories.servicePrincipals.get(name))!;
  }

  it('client secret: acquires a token, then persists the cache encrypted with refresh and expiry times', async () => {
    const tenant = await stack.createTenant('Contoso');
    secretValues.push(tenant.secrets[0]!.value);
    const processA = stack.newProcess();
    const principal = await principalFor('Contoso', tenant, { clientSecret: tenant.secrets[0]!.value }, processA);

    const before = Date.now();
    const token = remember(await processA.tokens.getToken(principal));
    expect(token.fromCache).toBe(false);
    expect(claimsOf(token.accessToken)).toMatchObject({
      tid: tenant.tenantId,
      appid: tenant.appId,
      aud: 'https://graph.microsoft.com',
    });
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);

    const stored = (await stack.repositories.servicePrincipals.get('Contoso'))!;
    expect(stored.tokenCache).toEqual({
      keyId: expect.any(String),
      iv: expect.any(String),
      tag: expect.any(String),
      ciphertext: expect.any(String),
    });
    expect(Date.parse(stored.lastTokenRefresh!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Math.abs(Date.parse(stored.tokenExpiresAt!) - token.expiresOn.getTime())).toBeLessThan(2000);
    expect(stored.tokenCache!.keyId).toBe((await processA.secrets.get('token-cache-key'))!.version);

    // Same process: served from memory, no request.
    expect((await processA.tokens.getToken(stored)).accessToken).toBe(token.accessToken);
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);
  });

  it('a second process (new MSAL instance) reuses the persisted encrypted cache with zero token requests', async () => {
    const tenant = await stack.createTenant('Reuse');
    secretValues.push(tenant.secrets[0]!.value);
    const first = stack.newProcess();
    const principal = await principalFor('Reuse', tenant, { clientSecret: tenant.secrets[0]!.value }, first);
    const original = remember(await first.tokens.getToken(principal));
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);

    for (let i = 0; i < 3; i++) {
      const second = stack.newProcess(); // new cipher (key read from Key Vault), new MSAL client, empty memory
      const reused = await second.tokens.getToken((await second.servicePrincipals.get('Reuse'))!);
      expect(reused).toMatchObject({ accessToken: original.accessToken, fromCache: true });
      expect(second.tokens.clientCount).toBe(1);
    }
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);
  });

  it('certificate: signs a client assertion with the key from Key Vault', async () => {
    const cert = makeCertificate({ days: 200 });
    const tenant = await stack.createTenant('CertCo', {
      secrets: [],
      certificates: [{ certificatePem: cert.certPem }],
    });
    const processA = stack.newProcess();
    const principal = await principalFor('CertCo', tenant, { certificate: { pem: cert.combinedPem } }, processA);
    expect(principal.credential).toMatchObject({
      kind: 'certificate',
      thumbprintSha256: expect.stringMatching(/^[0-9A-F]{64}$/),
    });

    const token = remember(await processA.tokens.getToken(principal));
    expect(claimsOf(token.accessToken)).toMatchObject({ tid: tenant.tenantId, appid: tenant.appId });
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);
    const again = await stack.newProcess().tokens.getToken(principal);
    expect(again).toMatchObject({ accessToken: token.accessToken, fromCache: true });
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);
    secretValues.push(cert.keyPem.split('\n').slice(1, 3).join('\n')); // a slice of the private key for the scan
  });

  it('federated: a managed identity token is the client assertion; no secret exists at all', async () => {
    // The "managed identity": an app in the host tenant; its token for api://AzureADTokenExchange is the assertion.
    const miToken = await stack.hostCredential.getToken('api://AzureADTokenExchange/.default');
    const { iss, sub } = claimsOf(miToken!.token) as { iss: string; sub: string };
    const tenant = await stack.createTenant('Federated', {
      secrets: [],
      federatedIssuers: [{ issuer: iss, subject: sub }],
    });
    const processA = stack.newProcess({ federatedCredential: () => stack.hostCredential });
    const principal = await principalFor('Federated', tenant, { federated: {} }, processA);
    const token = remember(await processA.tokens.getToken(principal));
    expect(claimsOf(token.accessToken)).toMatchObject({ tid: tenant.tenantId, appid: tenant.appId });
    expect(JSON.stringify(principal.credential)).not.toContain('secretRef');
  });

  it('concurrent refreshes from several processes never corrupt the stored cache or lose other edits', async () => {
    const tenant = await stack.createTenant('Busy');
    secretValues.push(tenant.secrets[0]!.value);
    const admin = stack.newProcess();
    await principalFor('Busy', tenant, { clientSecret: tenant.secrets[0]!.value }, admin);
    const processes = [stack.newProcess(), stack.newProcess(), stack.newProcess()];
    const principal = (await stack.repositories.servicePrincipals.get('Busy'))!;

    const results = await Promise.all([
      ...processes.flatMap((p) => [
        p.tokens.getToken(principal, { forceRefresh: true }),
        p.tokens.getToken(principal, { forceRefresh: true }),
      ]),
      stack.useCases(admin).updateServicePrincipal('Busy', { description: 'edited while refreshing' }, ACTOR),
    ]);
    const tokens = results.slice(0, 6) as AccessToken[];
    tokens.forEach(remember);

    const stored = (await stack.repositories.servicePrincipals.get('Busy'))!;
    expect(stored.description).toBe('edited while refreshing');
    const latest = Math.max(...tokens.map((t) => t.expiresOn.getTime()));
    expect(Math.abs(Date.parse(stored.tokenExpiresAt!) - latest)).toBeLessThan(1000);
    // The stored cache decrypts and serves a valid token to a brand-new process without a request.
    const requests = await stack.tokenRequests(tenant.appId);
    const fresh = await stack.newProcess().tokens.getToken(stored);
    expect(fresh.fromCache).toBe(true);
    expect(tokens.map((t) => t.accessToken)).toContain(fresh.accessToken);
    expect(await stack.tokenRequests(tenant.appId)).toBe(requests);
  });

  it('concurrent callers in one process share one token request', async () => {
    const tenant = await stack.createTenant('Crowd');
    secretValues.push(tenant.secrets[0]!.value);
    const processA = stack.newProcess();
    const principal = await principalFor('Crowd', tenant, { clientSecret: tenant.secrets[0]!.value }, processA);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => processA.tokens.getToken(principal)));
    tokens.forEach(remember);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(await stack.tokenRequests(tenant.appId)).toBe(1);
  });

  it('rotating the secret builds a new client with the new secret; the old token cache is dropped', async () => {
    const tenant = await stack.createTenant('Rotate');
    const oldSecret = tenant.secrets[0]!;
    secretValues.push(oldSecret.value);
    const processA = stack.newProcess();
    const principal = await principalFor('Rotate', tenant, { clientSecret: oldSecret.value }, processA);
    remember(await processA.tokens.getToken(principal));

    const added = await stack.control<{ id: string; value: string }>(
      'POST',
      `/_sim/tenants/${tenant.tenantId}/apps/${tenant.appId}/secrets`,
      {},
    );
    secretValues.push(added.value);
    await stack.useCases(processA).updateServicePrincipal('Rotate', { clientSecret: added.value }, ACTOR);
    await stack.control('DELETE', `/_sim/tenants/${tenant.tenantId}/apps/${tenant.appId}/secrets/${oldSecret.id}`);

    const rotated = (await stack.repositories.servicePrincipals.get('Rotate'))!;
    expect(rotated.tokenCache).toBeUndefined();
    const token = remember(await processA.tokens.getToken(rotated));
    expect(token.fromCache).toBe(false);
    expect(await stack.tokenRequests(tenant.appId)).toBe(2);
  });

  it('refuses to send a credential to a host that is not allowed, before any request', async () => {
    const tenant = await stack.createTenant('Guarded');
    secretValues.push(tenant.secrets[0]!.value);
    const principal = await principalFor('Guarded', tenant, { clientSecret: tenant.secrets[0]!.value });

    // Same vault and database, but the simulator is no longer an allowed host for principals.
    const services = stack.newProcess();
    const strict = new MsalTokenProvider({
      repository: services.servicePrincipals,
      secrets: services.secrets,
      cipher: services.cipher,
      clock: services.clock,
      logger: stack.logger,
      allowedDevHosts: [],
      federatedCredential: () => stack.hostCredential,
    });
    const error: unknown = await strict.getToken(principal).catch((e: unknown) => e);
    expect(isAppError(error, 'CREDENTIAL_REJECTED')).toBe(true);
    expect((error as { details: Record<string, unknown> }).details['tokenErrorCode']).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await stack.tokenRequests(tenant.appId)).toBe(0);

    const created = await makeServicePrincipalUseCases({ ...services, logger: stack.logger, allowedDevHosts: [] })
      .createServicePrincipal(
        {
          servicePrincipalName: 'Elsewhere',
          tenantId: tenant.tenantId,
          clientId: tenant.appId,
          clientSecret: 'x',
          authorityUrl: `${stack.sim.url}/${tenant.tenantId}`,
        },
        ACTOR,
      )
      .catch((e: unknown) => e);
    expect(isAppError(created, 'VALIDATION_FAILED')).toBe(true);
  });

  it('a wrong secret is CREDENTIAL_REJECTED AADSTS7000215 with a remedy, and nothing is cached', async () => {
    const tenant = await stack.createTenant('Wrong');
    secretValues.push('not-the-right-secret');
    const principal = await principalFor('Wrong', tenant, { clientSecret: 'not-the-right-secret' });
    const error: unknown = await stack
      .newProcess()
      .tokens.getToken(principal)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'CREDENTIAL_REJECTED',
      details: { tokenErrorCode: 'AADSTS7000215', definitive: true, remedy: expect.stringMatching(/Secret ID/) },
    });
    expect((await stack.repositories.servicePrincipals.get('Wrong'))!.tokenCache).toBeUndefined();
  });

  it('two tenants sync side by side with separate tokens and caches; one failing tenant does not stop the other', async () => {
    const [a, b] = await Promise.all([stack.createTenant('Alpha'), stack.createTenant('Beta')]);
    secretValues.push(a.secrets[0]!.value, b.secrets[0]!.value);
    const userA = await stack.createUser(a.tenantId, `sales@${a.domain}`);
    const userB = await stack.createUser(b.tenantId, `sales@${b.domain}`);
    const services = stack.newProcess();
    await principalFor('Alpha', a, { clientSecret: a.secrets[0]!.value }, services);
    await principalFor('Beta', b, { clientSecret: b.secrets[0]!.value }, services);
    const deps = { servicePrincipals: services.servicePrincipals, tokens: services.tokens };

    const [accessA, accessB] = await Promise.all([
      graphAccessForAccount(deps, { accountName: 'alpha-sales', servicePrincipal: 'Alpha' }),
      graphAccessForAccount(deps, { accountName: 'beta-sales', servicePrincipal: 'Beta' }),
    ]);
    remember(accessA.token);
    remember(accessB.token);
    expect(accessA.token.accessToken).not.toBe(accessB.token.accessToken);
    expect(claimsOf(accessA.token.accessToken)['tid']).toBe(a.tenantId);
    expect(claimsOf(accessB.token.accessToken)['tid']).toBe(b.tenantId);

    const inbox = (access: typeof accessA, upn: string) =>
      fetch(`${access.graphApiEndpoint}/users/${encodeURIComponent(upn)}/mailFolders/inbox`, {
        headers: { authorization: `Bearer ${access.token.accessToken}` },
      }).then((r) => r.status);
    expect(
      await Promise.all([inbox(accessA, userA.userPrincipalName), inbox(accessB, userB.userPrincipalName)]),
    ).toEqual([200, 200]);
    // A token of one tenant never opens the other tenant's mailbox.
    expect(await inbox(accessA, userB.userPrincipalName)).not.toBe(200);

    // Each principal's cache is its own: Alpha's blob does not decrypt as Beta's.
    const [recA, recB] = await Promise.all([
      services.servicePrincipals.get('Alpha'),
      services.servicePrincipals.get('Beta'),
    ]);
    expect(recA!.tokenCache!.ciphertext).not.toBe(recB!.tokenCache!.ciphertext);
    await expect(services.cipher.decrypt(recA!.tokenCache!, recB!.id)).rejects.toMatchObject({
      name: 'TokenCacheUnreadableError',
    });

    // Alpha's secret is rotated away in Entra: the hourly refresh still refreshes Beta.
    await stack.control('DELETE', `/_sim/tenants/${a.tenantId}/apps/${a.appId}/secrets/${a.secrets[0]!.id}`);
    const summary = await refreshAllTokens(
      { ...deps, clock: services.clock, logger: stack.logger },
      { refreshWithinMs: 24 * 3600_000 },
    );
    const byName = Object.fromEntries(summary.results.map((r) => [r.servicePrincipal, r]));
    expect(byName['Alpha']).toMatchObject({ ok: false, code: 'AADSTS7000215' });
    expect(byName['Beta']).toMatchObject({ ok: true, outcome: 'refreshed' });
  });

  it('Cosmos documents and every captured log hold neither secrets nor access tokens', async () => {
    expect(issuedTokens.length).toBeGreaterThan(10);
    const raw = (await stack.rawServicePrincipalDocuments()) as Array<{ tokenCache?: { ciphertext: string } }>;
    // Ciphertext must not be an encoding of the cache either.
    const decoded = raw
      .map((d) => (d.tokenCache ? Buffer.from(d.tokenCache.ciphertext, 'base64').toString('latin1') : ''))
      .join('\n');
    expect(raw.filter((d) => d.tokenCache).length).toBeGreaterThan(8);
    const documents = JSON.stringify(raw) + decoded;
    expect(decoded).not.toContain('AccessToken');
    const logs = stack.logger.text() + consoleOutput.join('\n');
    for (const [where, text] of [
      ['Cosmos', documents],
      ['logs', logs],
    ] as const) {
      for (const secret of secretValues)
        expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
      for (const token of issuedTokens) {
        expect({ where, leaked: text.includes(token) || text.includes(token.split('.')[2]!) }).toEqual({
          where,
          leaked: false,
        });
      }
      // Nothing shaped like a JWT at all.
      expect({ where, jwt: /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/.test(text) }).toEqual({ where, jwt: false });
      expect({ where, key: text.includes('PRIVATE KEY') }).toEqual({ where, key: false });
    }
  });
});
