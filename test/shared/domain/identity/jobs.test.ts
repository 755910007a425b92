import { AppError, isAppError } from '../../../../shared/errors';
import {
  graphAccessForAccount,
  listCredentialWarnings,
  makeServicePrincipalUseCases,
  refreshAllTokens,
  validateServicePrincipals,
} from '../../../../shared/domain/identity';
import {
  CapturingLogger,
  FakeClock,
  FakeEmailAccounts,
  InMemoryServicePrincipals,
  InMemorySecretStore,
  ScriptedTokenProvider,
  msalServerError,
} from './fakes';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const HOUR = 3600_000;

async function setup(names: string[]) {
  const clock = new FakeClock();
  const servicePrincipals = new InMemoryServicePrincipals(clock);
  const logger = new CapturingLogger();
  const tokens = new ScriptedTokenProvider();
  const useCases = makeServicePrincipalUseCases({
    servicePrincipals,
    emailAccounts: new FakeEmailAccounts(),
    secrets: new InMemorySecretStore(),
    clock,
    logger,
    allowedDevHosts: [],
  });
  for (const name of names) {
    await useCases.createServicePrincipal(
      { servicePrincipalName: name, tenantId: TENANT, clientId: CLIENT, clientSecret: `s-${name}` },
      'admin',
    );
  }
  const token = (fromCache = false) => ({
    accessToken: 'eyJ.token',
    expiresOn: new Date(clock.now().getTime() + HOUR),
    fromCache,
  });
  return {
    clock,
    servicePrincipals,
    logger,
    tokens,
    useCases,
    token,
    deps: { servicePrincipals, tokens, clock, logger },
  };
}

describe('validateServicePrincipals', () => {
  it('disables only on a definitive credential error and keeps principals through outages', async () => {
    const s = await setup(['Good', 'Rotated', 'Refused', 'Unavailable', 'Throttled', 'NoConsent']);
    s.tokens.outcomes.set('Good', s.token());
    s.tokens.outcomes.set('Rotated', msalServerError('invalid_client', '7000215', 401));
    s.tokens.outcomes.set(
      'Refused',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      }),
    );
    s.tokens.outcomes.set('Unavailable', msalServerError('temporarily_unavailable', undefined, 503));
    s.tokens.outcomes.set('Throttled', msalServerError('', undefined, 429));
    s.tokens.outcomes.set('NoConsent', msalServerError('invalid_grant', '65001', 400));

    const summary = await validateServicePrincipals(s.deps);
    expect(summary).toMatchObject({ checked: 6, valid: 1, disabled: 1, failed: 4 });
    expect(s.tokens.calls.every((c) => c.options.forceRefresh === true)).toBe(true);

    const get = (name: string) => s.servicePrincipals.records.get(name.toLowerCase())!;
    expect(get('Rotated')).toMatchObject({
      enabled: false,
      lastValidatedAt: s.clock.now().toISOString(),
      validationError: { code: 'AADSTS7000215', at: s.clock.now().toISOString() },
    });
    expect(get('Rotated').audit?.at(-1)).toMatchObject({ action: 'disabled', actor: 'system', code: 'AADSTS7000215' });
    for (const name of ['Refused', 'Unavailable', 'Throttled', 'NoConsent']) {
      expect(get(name).enabled).toBe(true);
      expect(get(name).validationError).toBeDefined();
      expect(get(name).audit?.at(-1)?.action).toBe('validation-failed');
    }
    expect(get('Refused').validationError?.code).toBe('ECONNREFUSED');
    expect(get('Unavailable').validationError?.code).toBe('HTTP_503');
    expect(get('Good')).toMatchObject({ enabled: true, lastValidatedAt: s.clock.now().toISOString() });
    expect(get('Good').validationError).toBeUndefined();

    const disabledLog = s.logger.entries.find((e) => e.message.includes('disabled'));
    expect(disabledLog).toMatchObject({
      level: 'error',
      fields: { servicePrincipal: 'Rotated', code: 'AADSTS7000215', audit: 'service-principal-validation' },
    });
  });

  it('a disabled principal is skipped the next day; a recovered one gets its error cleared and audited', async () => {
    const s = await setup(['Flaky']);
    s.tokens.outcomes.set('Flaky', msalServerError('', undefined, 503));
    await validateServicePrincipals(s.deps);
    await validateServicePrincipals(s.deps); // same error again: no second audit entry
    expect(
      s.servicePrincipals.records.get('flaky')!.audit?.filter((a) => a.action === 'validation-failed'),
    ).toHaveLength(1);

    s.tokens.outcomes.set('Flaky', s.token());
    s.clock.advance(24 * HOUR);
    await validateServicePrincipals(s.deps);
    const record = s.servicePrincipals.records.get('flaky')!;
    expect(record.validationError).toBeUndefined();
    expect(record.audit?.at(-1)).toMatchObject({ action: 'validated', message: 'Valid again (was HTTP_503).' });

    s.tokens.outcomes.set('Flaky', msalServerError('invalid_client', '7000222', 401));
    await validateServicePrincipals(s.deps);
    const calls = s.tokens.calls.length;
    expect((await validateServicePrincipals(s.deps)).checked).toBe(0);
    expect(s.tokens.calls).toHaveLength(calls);
  });

  it('records a credential warning for secrets expiring within 30 days', async () => {
    const s = await setup([]);
    await s.useCases.createServicePrincipal(
      {
        servicePrincipalName: 'Soon',
        tenantId: TENANT,
        clientId: CLIENT,
        clientSecret: 'x',
        clientSecretExpiresAt: '2027-01-01T00:00:00Z',
      },
      'admin',
    );
    s.tokens.outcomes.set('Soon', s.token());
    expect((await validateServicePrincipals(s.deps)).results[0]?.credentialWarning).toBeUndefined();
    s.clock.advance(20 * 24 * HOUR);
    const summary = await validateServicePrincipals(s.deps);
    expect(summary.results[0]?.credentialWarning).toMatch(/expires on 2027-01-01/);
    expect(s.servicePrincipals.records.get('soon')!.credentialWarning).toMatch(/in 19 days/);
  });

  it('one principal whose record cannot be written does not stop the others', async () => {
    const s = await setup(['A', 'B']);
    s.tokens.outcomes.set('A', s.token());
    s.tokens.outcomes.set('B', s.token());
    const update = s.servicePrincipals.update.bind(s.servicePrincipals);
    s.servicePrincipals.update = async (name, mutate) => {
      if (name === 'A') throw new AppError('DEPENDENCY_UNAVAILABLE', 'Cosmos down');
      return update(name, mutate);
    };
    const summary = await validateServicePrincipals(s.deps);
    expect(summary.results.find((r) => r.servicePrincipal === 'A')).toMatchObject({
      outcome: 'failed',
      code: 'DEPENDENCY_UNAVAILABLE',
    });
    expect(summary.results.find((r) => r.servicePrincipal === 'B')).toMatchObject({ outcome: 'valid' });
  });
});

describe('refreshAllTokens', () => {
  it('refreshes tokens that expire before the next run, leaves fresh ones, and survives failures', async () => {
    const s = await setup(['Fresh', 'Stale', 'Broken', 'Off']);
    await s.useCases.updateServicePrincipal('Off', { enabled: false }, 'admin');
    const fresh = s.servicePrincipals.records.get('fresh')!;
    s.servicePrincipals.records.set('fresh', {
      ...fresh,
      tokenExpiresAt: new Date(s.clock.now().getTime() + 80 * 60_000).toISOString(),
    });
    s.tokens.outcomes.set('Fresh', s.token(true));
    s.tokens.outcomes.set('Stale', s.token());
    s.tokens.outcomes.set('Broken', msalServerError('', undefined, 503));

    const summary = await refreshAllTokens(s.deps);
    expect(summary).toMatchObject({ principals: 3, refreshed: 1, cached: 1, failed: 1 });
    const optionsOf = (name: string) => s.tokens.calls.find((c) => c.name === name)?.options;
    expect(optionsOf('Fresh')).toEqual({ forceRefresh: false });
    expect(optionsOf('Stale')).toEqual({ forceRefresh: true });
    expect(optionsOf('Off')).toBeUndefined();
    expect(
      s.logger.entries
        .filter((e) => e.message.startsWith('token refresh'))
        .map((e) => e.fields['servicePrincipal'])
        .sort(),
    ).toEqual(['Broken', 'Fresh', 'Stale']);
    expect(s.logger.text()).not.toContain('eyJ.token');
  });
});

describe('listCredentialWarnings', () => {
  it('lists enabled principals whose credential expires within 30 days, soonest first', async () => {
    const s = await setup([]);
    const add = (name: string, expires: string | undefined, enabled = true) =>
      s.useCases.createServicePrincipal(
        {
          servicePrincipalName: name,
          tenantId: TENANT,
          clientId: CLIENT,
          clientSecret: 'x',
          enabled,
          ...(expires ? { clientSecretExpiresAt: expires } : {}),
        },
        'admin',
      );
    await add('Later', '2026-12-20T00:00:00Z');
    await add('Expired', '2026-11-01T00:00:00Z');
    await add('Far', '2027-06-01T00:00:00Z');
    await add('Unknown', undefined);
    await add('Disabled', '2026-11-25T00:00:00Z', false);
    const warnings = await listCredentialWarnings(s.deps);
    expect(warnings.map((w) => [w.servicePrincipalName, w.expired, w.daysLeft])).toEqual([
      ['Expired', true, -22],
      ['Later', false, 27],
    ]);
  });
});

describe('graphAccessForAccount', () => {
  it('returns the principal, its Graph endpoint and a token', async () => {
    const s = await setup(['Contoso']);
    s.tokens.outcomes.set('Contoso', s.token(true));
    const access = await graphAccessForAccount(s.deps, { accountName: 'sales', servicePrincipal: 'contoso' });
    expect(access.graphApiEndpoint).toBe('https://graph.microsoft.com/v1.0');
    expect(access.token.accessToken).toBe('eyJ.token');
    expect(s.tokens.calls[0]?.options).toEqual({});
  });

  it('refuses missing and disabled principals with CREDENTIAL_REJECTED (not retryable)', async () => {
    const s = await setup(['Contoso']);
    await s.useCases.updateServicePrincipal('Contoso', { enabled: false }, 'admin');
    for (const [servicePrincipal, code] of [
      ['missing', 'PRINCIPAL_NOT_FOUND'],
      ['Contoso', 'PRINCIPAL_DISABLED'],
    ]) {
      const error: unknown = await graphAccessForAccount(s.deps, {
        accountName: 'sales',
        servicePrincipal: servicePrincipal!,
      }).catch((e: unknown) => e);
      expect(isAppError(error, 'CREDENTIAL_REJECTED')).toBe(true);
      expect((error as AppError).retryable).toBe(false);
      expect((error as AppError).details?.['tokenErrorCode']).toBe(code);
    }
    expect(s.tokens.calls).toHaveLength(0);
  });
});
