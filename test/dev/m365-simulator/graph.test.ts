import { PassThrough } from 'node:stream';
import { Client, GraphError } from '@microsoft/microsoft-graph-client';
import type { StartedSimulator } from '../../../dev/m365-simulator/contract';
import { VAULT_SCOPE, appToken, call, createTenant, startTestSimulator, type TestTenant } from './helpers';

/** Streams handed out by the test-only streaming route, ended by the test. */
const openStreams: PassThrough[] = [];

describe('M365 simulator: Graph users, auth pipeline and Outlook limits', () => {
  let sim: StartedSimulator;
  let contoso: TestTenant;
  let fabrikam: TestTenant;
  let token: string;
  const upn = (alias: string): string => `${alias}@${contoso.domain}`;

  beforeAll(async () => {
    sim = await startTestSimulator({
      extraRoutes: (router) => {
        router.add(
          'GET',
          '/v1.0/users/{user}/testStream',
          () => {
            const stream = new PassThrough();
            stream.write('{"chunk":');
            openStreams.push(stream);
            return { status: 200, headers: { 'content-type': 'application/json' }, body: stream };
          },
          { auth: 'graph', anyOf: ['Mail.Read'] },
        );
      },
    });
    const users = ['alice', 'shared', 'disabled', 'outside', 'bob', 'carol'];
    contoso = await createTenant(sim, {
      name: 'Contoso',
      roles: ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'],
      users: users.map((alias) => ({
        alias,
        ...(alias === 'shared' ? { userPurpose: 'shared' } : {}),
        ...(alias === 'disabled' ? { mailboxEnabled: false } : {}),
      })),
    });
    // Scope by UPN (in any case) and by object id.
    const scope = ['ALICE', 'shared', 'disabled', 'bob'].map((a) => upn(a));
    scope.push(contoso.users.find((u) => u.userPrincipalName.startsWith('carol'))?.id ?? '');
    expect(
      (await call(sim, 'PATCH', `/_sim/tenants/${contoso.tenantId}/apps/${contoso.appId}`, { mailboxScope: scope }))
        .status,
    ).toBe(200);
    fabrikam = await createTenant(sim, { name: 'Fabrikam', users: [{ alias: 'frank' }] });
    token = await appToken(sim, contoso.tenantId, contoso.appId, contoso.secret);
  });
  afterAll(async () => {
    openStreams.forEach((s) => s.destroy());
    await sim.stop();
  });

  const graph = (path: string, headers: Record<string, string> = {}, bearer: string | null = token) =>
    call(
      sim,
      'GET',
      `/v1.0${path}`,
      undefined,
      bearer === null ? headers : { authorization: `Bearer ${bearer}`, ...headers },
    );

  it('lists users through the Graph JS client (Client.init), paging with an absolute nextLink', async () => {
    const client = Client.init({
      baseUrl: `${sim.url}/`,
      customHosts: new Set(['127.0.0.1']),
      authProvider: (done) => done(null, token),
    });
    const first = (await client.api('/users').top(4).select('id,mail,userPrincipalName').get()) as {
      value: { mail: string; displayName?: string }[];
      '@odata.nextLink'?: string;
    };
    expect(first.value).toHaveLength(4);
    expect(first.value[0]).not.toHaveProperty('displayName');
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${sim.url}/v1.0/users\\?`));
    const second = (await client.api(first['@odata.nextLink'] ?? '').get()) as {
      value: { mail: string }[];
      '@odata.nextLink'?: string;
    };
    expect(second.value).toHaveLength(2);
    expect(second['@odata.nextLink']).toBeUndefined();
    expect([...first.value, ...second.value].map((u) => u.mail)).not.toContain(`frank@${fabrikam.domain}`);
    const filtered = (await client
      .api('/users')
      .filter(`mail eq '${upn('bob').toUpperCase()}'`)
      .get()) as { value: { id: string }[] };
    expect(filtered.value.map((u) => u.id)).toEqual([
      contoso.users.find((u) => u.userPrincipalName === upn('bob'))?.id,
    ]);
  });

  it('hands a user’s mailbox seed to the mail module, whose Graph routes then serve it', async () => {
    const created = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/users`, {
      userPrincipalName: upn('seeded'),
      mailbox: { seed: 5, folders: { Inbox: 3 } },
    });
    expect(created.status).toBe(201);
    const folders = await call<{ displayName: string; totalItemCount: number }[]>(
      sim,
      'GET',
      `/_sim/mailboxes/${upn('seeded')}/folders`,
    );
    expect(folders.body.find((f) => f.displayName === 'Inbox')?.totalItemCount).toBe(3);
    await call(sim, 'PATCH', `/_sim/tenants/${contoso.tenantId}/apps/${contoso.appId}`, { mailboxScope: null });
    try {
      const messages = await graph(`/users/${upn('seeded')}/mailFolders/inbox/messages`);
      expect(messages.status).toBe(200);
      expect(messages.body.value).toHaveLength(3);
    } finally {
      const scope = ['alice', 'shared', 'disabled', 'bob'].map((a) => upn(a));
      scope.push(contoso.users.find((u) => u.userPrincipalName.startsWith('carol'))?.id ?? '');
      await call(sim, 'PATCH', `/_sim/tenants/${contoso.tenantId}/apps/${contoso.appId}`, { mailboxScope: scope });
    }
    const badSeed = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/users`, {
      userPrincipalName: upn('badseed'),
      mailbox: { folders: { Inbox: -1 } },
    });
    expect(badSeed.status).toBe(400);
    expect(badSeed.body.error.message).toContain('mailbox.seed');
  });

  it('reads mailbox settings and userPurpose through Client.initWithMiddleware', async () => {
    const client = Client.initWithMiddleware({
      baseUrl: `${sim.url}/`,
      customHosts: new Set(['127.0.0.1']),
      authProvider: { getAccessToken: () => Promise.resolve(token) },
    });
    expect(await client.api(`/users/${upn('shared')}/mailboxSettings/userPurpose`).get()).toMatchObject({
      value: 'shared',
    });
    const settings = (await client.api(`/users/${upn('alice')}/mailboxSettings`).get()) as Record<string, unknown>;
    expect(settings).toMatchObject({ userPurpose: 'user', timeZone: 'UTC' });
    const error = (await client
      .api(`/users/nobody@${contoso.domain}/mailboxSettings`)
      .get()
      .catch((e: unknown) => e)) as GraphError;
    expect(error).toBeInstanceOf(GraphError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('ErrorInvalidUser');
  });

  it('resolves {user} by id or UPN in any case and answers with Graph’s headers', async () => {
    const alice = contoso.users.find((u) => u.userPrincipalName === upn('alice'));
    const byId = await graph(`/users/${alice?.id}`, { 'client-request-id': 'my-request' });
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: alice?.id, userPrincipalName: upn('alice'), mail: upn('alice') });
    expect(byId.headers.get('content-type')).toContain('application/json');
    expect(byId.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(byId.headers.get('client-request-id')).toBe('my-request');
    const byUpn = await graph(`/users/${upn('alice').toUpperCase()}/mailboxSettings/userPurpose`, {
      prefer: 'odata.maxpagesize=5, IdType="ImmutableId"',
    });
    expect(byUpn.status).toBe(200);
    expect(byUpn.headers.get('preference-applied')).toBe('odata.maxpagesize=5, IdType="ImmutableId"');
  });

  it('refuses missing, forged, expired and wrong-audience tokens with 401 InvalidAuthenticationToken', async () => {
    const missing = await graph(`/users/${upn('alice')}/mailboxSettings`, {}, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Access token is empty.' });
    expect(Object.keys(missing.body.error.innerError as object)).toEqual(['date', 'request-id', 'client-request-id']);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');

    const [header, payload] = token.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), roles: ['Mail.ReadWrite'] }),
    ).toString('base64url');
    const forged = await graph(
      `/users/${upn('alice')}/mailboxSettings`,
      {},
      `${header}.${forgedPayload}.${token.split('.')[2]}`,
    );
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toBe('Access token validation failure.');

    const expired = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/user-tokens`, {
      audience: 'https://graph.microsoft.com',
      preferredUsername: upn('alice'),
      expiresInSeconds: -600,
    });
    const expiredResponse = await graph(`/users/${upn('alice')}/mailboxSettings`, {}, String(expired.body.accessToken));
    expect(expiredResponse.body.error.message).toBe('Lifetime validation failed, the token is expired.');

    const vaultToken = await appToken(sim, contoso.tenantId, contoso.appId, contoso.secret, VAULT_SCOPE);
    const wrongAudience = await graph(`/users/${upn('alice')}/mailboxSettings`, {}, vaultToken);
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.body.error.message).toBe('Access token validation failure. Invalid audience.');
  });

  it('answers Exchange’s mailbox errors: unknown user, wrong tenant, out of scope, not enabled, missing permission', async () => {
    const unknown = await graph(`/users/nobody@${contoso.domain}/mailboxSettings`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({
      code: 'ErrorInvalidUser',
      message: `The requested user 'nobody@${contoso.domain}' is invalid.`,
    });

    const otherTenant = await graph(`/users/frank@${fabrikam.domain}/mailboxSettings`);
    expect(otherTenant.status).toBe(404);
    expect(otherTenant.body.error.code).toBe('ErrorInvalidUser');
    const fabrikamToken = await appToken(sim, fabrikam.tenantId, fabrikam.appId, fabrikam.secret);
    expect((await graph(`/users/${upn('alice')}/mailboxSettings`, {}, fabrikamToken)).status).toBe(404);
    expect((await graph(`/users/frank@${fabrikam.domain}/mailboxSettings`, {}, fabrikamToken)).status).toBe(200);

    const outside = await graph(`/users/${upn('outside')}/mailboxSettings`);
    expect(outside.status).toBe(403);
    expect(outside.body.error).toMatchObject({ code: 'ErrorAccessDenied', message: 'Access to OData is disabled.' });
    expect((await graph(`/users/${upn('carol')}/mailboxSettings`)).status).toBe(200);

    const disabled = await graph(`/users/${upn('disabled')}/mailboxSettings`);
    expect(disabled.status).toBe(404);
    expect(disabled.body.error).toMatchObject({
      code: 'MailboxNotEnabledForRESTAPI',
      message: 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    });
    // The directory still knows the user (directory reads are not mailbox-scoped).
    expect((await graph(`/users/${upn('outside')}`)).status).toBe(200);
    const missingUser = await graph(`/users/nobody@${contoso.domain}`);
    expect(missingUser.body.error.code).toBe('Request_ResourceNotFound');

    const limited = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
      displayName: 'mail only',
      roles: ['Mail.Read'],
      secrets: [{}],
    });
    const limitedToken = await appToken(
      sim,
      contoso.tenantId,
      String(limited.body.appId),
      String(limited.body.secrets[0].value),
    );
    const denied = await graph(`/users/${upn('alice')}/mailboxSettings`, {}, limitedToken);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({
      code: 'ErrorAccessDenied',
      message: 'Access is denied. Check credentials and try again.',
    });
    const deniedDirectory = await graph('/users', {}, limitedToken);
    expect(deniedDirectory.body.error.code).toBe('Authorization_RequestDenied');
  });

  it('throttles the fifth concurrent request to one mailbox (MailboxConcurrency) while another mailbox is unaffected', async () => {
    await call(sim, 'POST', '/_sim/counters/reset');
    await call(sim, 'PUT', '/_sim/faults', { seed: 1, rules: [{ mailbox: upn('alice'), rate: 0, latencyMs: 700 }] });
    try {
      const path = `/users/${upn('alice')}/mailboxSettings`;
      const slow = Array.from({ length: 4 }, () => graph(path));
      await new Promise((r) => setTimeout(r, 150));
      const fifth = await graph(path);
      const other = await graph(`/users/${upn('bob')}/mailboxSettings`);
      expect(fifth.status).toBe(429);
      expect(fifth.body.error).toMatchObject({
        code: 'ApplicationThrottled',
        message: 'Application is over its MailboxConcurrency limit.',
      });
      expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(other.status).toBe(200);
      expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect((await graph(path)).status).toBe(200);
      const counters = await call(sim, 'GET', '/_sim/counters');
      expect(counters.body.peakConcurrencyByMailbox[upn('alice')]).toBe(4);
      expect(counters.body.throttled).toBe(1);
      expect(counters.body.requestsByMailbox[upn('alice')]).toBe(6);
      expect(counters.body.requestsByRoute['GET /v1.0/users/{user}/mailboxSettings']).toBe(7);
    } finally {
      await call(sim, 'DELETE', '/_sim/faults');
    }
  });

  it('holds the concurrency slot until a streamed body is completely sent', async () => {
    const path = `/users/${upn('bob')}/testStream`;
    const streams = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${sim.url}/v1.0${path}`, { headers: { authorization: `Bearer ${token}` } }),
      ),
    );
    expect(streams.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await graph(path)).status).toBe(429);
    for (const stream of openStreams.splice(0)) stream.end('1}');
    expect(await Promise.all(streams.map((r) => r.json()))).toEqual([
      { chunk: 1 },
      { chunk: 1 },
      { chunk: 1 },
      { chunk: 1 },
    ]);
    const again = fetch(`${sim.url}/v1.0${path}`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((r) => setTimeout(r, 50));
    openStreams.splice(0).forEach((s) => s.end('2}'));
    expect((await again).status).toBe(200);
  });

  it('enforces the per-mailbox request window (configurable) with Retry-After', async () => {
    expect((await call(sim, 'PUT', '/_sim/limits', { mailboxRequestsPerWindow: 3, windowSeconds: 60 })).status).toBe(
      200,
    );
    try {
      const path = `/users/${upn('shared')}/mailboxSettings/userPurpose`;
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await graph(path)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await graph(path);
      expect(refused.body.error.code).toBe('ApplicationThrottled');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(62);
      expect((await graph(`/users/${upn('bob')}/mailboxSettings/userPurpose`)).status).toBe(200);
    } finally {
      await call(sim, 'PUT', '/_sim/limits', { mailboxRequestsPerWindow: 10_000, windowSeconds: 600 });
    }
  });
});
