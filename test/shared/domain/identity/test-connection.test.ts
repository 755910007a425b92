import {
  makeServicePrincipalUseCases,
  rolesOfToken,
  testServicePrincipalConnection,
  type GraphProbe,
  type GraphProbeResponse,
} from '../../../../shared/domain/identity';
import {
  CapturingLogger,
  FakeClock,
  FakeEmailAccounts,
  InMemoryServicePrincipals,
  InMemorySecretStore,
  ScriptedTokenProvider,
  fakeJwt,
  msalServerError,
} from './fakes';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

class ScriptedProbe implements GraphProbe {
  readonly calls: string[] = [];
  responses: Array<[RegExp, GraphProbeResponse]> = [];
  get(graphApiEndpoint: string, _token: string, pathAndQuery: string): Promise<GraphProbeResponse> {
    this.calls.push(graphApiEndpoint + pathAndQuery);
    return Promise.resolve(this.responses.find(([re]) => re.test(pathAndQuery))?.[1] ?? { status: 200 });
  }
}

async function setup(roles: string[] = ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read', 'Mail.Send']) {
  const clock = new FakeClock();
  const servicePrincipals = new InMemoryServicePrincipals(clock);
  const emailAccounts = new FakeEmailAccounts();
  const logger = new CapturingLogger();
  const tokens = new ScriptedTokenProvider();
  const graphProbe = new ScriptedProbe();
  await makeServicePrincipalUseCases({
    servicePrincipals,
    emailAccounts,
    secrets: new InMemorySecretStore(),
    clock,
    logger,
    allowedDevHosts: [],
  }).createServicePrincipal(
    { servicePrincipalName: 'Contoso', tenantId: TENANT, clientId: CLIENT, clientSecret: 'x' },
    'admin',
  );
  const accessToken = fakeJwt({ roles, tid: TENANT });
  tokens.outcomes.set('Contoso', { accessToken, expiresOn: new Date('2026-11-22T11:00:00.000Z'), fromCache: false });
  const deps = { servicePrincipals, emailAccounts, tokens, graphProbe, clock, logger };
  return { deps, tokens, graphProbe, emailAccounts, servicePrincipals, logger, accessToken };
}

describe('testServicePrincipalConnection', () => {
  it('passes every check with a good principal and probes the accounts using it', async () => {
    const s = await setup();
    s.emailAccounts.accounts.push(
      { accountName: 'sales', emailAddress: 'sales@contoso.com', servicePrincipal: 'Contoso', enabled: true },
      { accountName: 'old', emailAddress: 'old@contoso.com', servicePrincipal: 'Contoso', enabled: false },
      { accountName: 'other', emailAddress: 'x@fabrikam.com', servicePrincipal: 'Fabrikam', enabled: true },
    );
    const result = await testServicePrincipalConnection(s.deps, 'contoso');
    expect(result).toEqual({
      ok: true,
      servicePrincipalName: 'Contoso',
      tokenExpiresAt: '2026-11-22T11:00:00.000Z',
      checks: [
        { name: 'token', ok: true, code: 'OK', message: expect.any(String) },
        {
          name: 'permissions',
          ok: true,
          code: 'OK',
          message: 'Granted: Mail.Read, Mail.Send, MailboxSettings.Read, User.Read.All.',
        },
        { name: 'directory', ok: true, code: 'OK', message: expect.any(String) },
        { name: 'mailbox:sales@contoso.com', ok: true, code: 'OK', message: 'The inbox can be read.' },
      ],
    });
    expect(s.tokens.calls[0]?.options).toEqual({ forceRefresh: true });
    expect(s.graphProbe.calls).toEqual([
      'https://graph.microsoft.com/v1.0/users?$top=1&$select=id',
      'https://graph.microsoft.com/v1.0/users/sales%40contoso.com/mailFolders/inbox?$select=id',
    ]);
    expect(JSON.stringify(result) + s.logger.text()).not.toContain(s.accessToken);
    expect(s.servicePrincipals.records.get('contoso')?.lastValidatedAt).toBe('2026-11-22T10:00:00.000Z');
  });

  it.each([
    ['wrong secret', msalServerError('invalid_client', '7000215', 401), 'AADSTS7000215', /Secret ID/],
    ['expired secret', msalServerError('invalid_client', '7000222', 401), 'AADSTS7000222', /new client secret/],
    ['app not in tenant', msalServerError('unauthorized_client', '700016', 400), 'AADSTS700016', /admin consent/],
    ['consent missing', msalServerError('invalid_grant', '65001', 400), 'AADSTS65001', /Grant admin consent/],
  ])('explains a token failure: %s', async (_label, error, code, remedy) => {
    const s = await setup();
    s.tokens.outcomes.set('Contoso', error);
    const result = await testServicePrincipalConnection(s.deps, 'Contoso');
    expect(result.ok).toBe(false);
    expect(result.tokenExpiresAt).toBeUndefined();
    expect(result.checks).toEqual([
      { name: 'token', ok: false, code, message: expect.any(String), remedy: expect.stringMatching(remedy) },
    ]);
    expect(s.graphProbe.calls).toHaveLength(0);
    const record = s.servicePrincipals.records.get('contoso')!;
    expect(record.validationError?.code).toBe(code);
    expect(record.enabled).toBe(true); // a test never disables
  });

  it('reports missing admin consent and missing application permissions from the token', async () => {
    const none = await setup([]);
    const result = await testServicePrincipalConnection(none.deps, 'Contoso');
    expect(result.checks.find((c) => c.name === 'permissions')).toMatchObject({
      ok: false,
      code: 'ADMIN_CONSENT_MISSING',
      remedy: expect.stringMatching(/Grant admin consent/),
    });

    const noMail = await setup(['User.Read.All']);
    const second = await testServicePrincipalConnection(noMail.deps, 'Contoso');
    expect(second.checks.find((c) => c.name === 'permissions')).toMatchObject({
      ok: false,
      code: 'MISSING_APPLICATION_PERMISSION',
    });
    expect(second.ok).toBe(false);
  });

  it('maps Graph probe errors to remedies: directory permission, mailbox scoping, unknown mailbox, outage', async () => {
    const s = await setup();
    s.graphProbe.responses = [
      [/^\/users\?/, { status: 403, errorCode: 'Authorization_RequestDenied' }],
      [/scoped%40/, { status: 403, errorCode: 'ErrorAccessDenied' }],
      [/ghost%40/, { status: 404, errorCode: 'ErrorInvalidUser' }],
      [/onprem%40/, { status: 404, errorCode: 'MailboxNotEnabledForRESTAPI' }],
      [/busy%40/, { status: 503 }],
      [/offline%40/, { status: 0, errorCode: 'ECONNREFUSED' }],
    ];
    const result = await testServicePrincipalConnection(s.deps, 'Contoso', {
      mailboxes: [
        'scoped@contoso.com',
        'ghost@contoso.com',
        'onprem@contoso.com',
        'busy@contoso.com',
        'offline@contoso.com',
        'ok@contoso.com',
      ],
    });
    const byName = Object.fromEntries(result.checks.map((c) => [c.name, c]));
    expect(byName['directory']).toMatchObject({
      ok: false,
      code: 'Authorization_RequestDenied',
      remedy: expect.stringMatching(/User\.Read\.All/),
    });
    expect(byName['mailbox:scoped@contoso.com']).toMatchObject({
      code: 'ErrorAccessDenied',
      remedy: expect.stringMatching(/Application Access Policy/),
    });
    expect(byName['mailbox:ghost@contoso.com']).toMatchObject({
      code: 'ErrorInvalidUser',
      remedy: expect.stringMatching(/email address/),
    });
    expect(byName['mailbox:onprem@contoso.com']).toMatchObject({ code: 'MailboxNotEnabledForRESTAPI' });
    expect(byName['mailbox:busy@contoso.com']).toMatchObject({
      code: 'HTTP_503',
      remedy: expect.stringMatching(/Temporary/),
    });
    expect(byName['mailbox:offline@contoso.com']).toMatchObject({ code: 'ECONNREFUSED' });
    expect(byName['mailbox:ok@contoso.com']).toMatchObject({ ok: true });
    expect(result.ok).toBe(false);
  });

  it('NOT_FOUND for an unknown principal; VALIDATION_FAILED for bad options', async () => {
    const s = await setup();
    await expect(testServicePrincipalConnection(s.deps, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(testServicePrincipalConnection(s.deps, 'Contoso', { mailboxes: 'x' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('rolesOfToken reads roles and tolerates opaque tokens', () => {
    expect(rolesOfToken(fakeJwt({ roles: ['Mail.Read'] }))).toEqual(['Mail.Read']);
    expect(rolesOfToken(fakeJwt({}))).toEqual([]);
    expect(rolesOfToken('opaque')).toBeUndefined();
  });
});
