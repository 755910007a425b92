/**
 * The identity timers end to end: handlers invoked as the host would, over the simulator's Entra ID and Key
 * Vault and the Cosmos stand-in.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import { refreshTokens } from '../../functions/refresh-tokens';
import { validateServicePrincipals } from '../../functions/validate-service-principals';
import { setIdentityServicesForTests, type IdentityServices } from '../../shared/adapters/identity/factory';
import type { ServicePrincipalRecord } from '../../shared/domain/records';
import { startIdentityTestStack, type IdentityTestStack } from '../shared/adapters/identity-test-stack';
import { closedPort } from '../support/stack-app';

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

function context(functionName: string): { context: InvocationContext; lines: string[] } {
  const lines: string[] = [];
  const ctx = new InvocationContext({
    functionName,
    invocationId: 'test-invocation',
    logHandler: (level, ...args) =>
      lines.push(`${level} ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
  });
  return { context: ctx, lines };
}

describe('identity timer functions', () => {
  let stack: IdentityTestStack;
  let services: IdentityServices;
  let refusedHost: string;
  const tenants: Record<string, { tenantId: string; appId: string; secrets: Array<{ id: string; value: string }> }> =
    {};

  beforeAll(async () => {
    stack = await startIdentityTestStack();
    refusedHost = `127.0.0.1:${await closedPort()}`;
    services = stack.newProcess({ allowedDevHosts: [...stack.allowedDevHosts, refusedHost] });
    setIdentityServicesForTests(services);
    const useCases = stack.useCases(services);
    for (const name of ['Good', 'Rotated', 'Refused', 'Unavailable']) {
      const tenant = await stack.createTenant(name);
      tenants[name] = tenant;
      const host = name === 'Refused' ? `https://${refusedHost}` : stack.sim.url;
      await useCases.createServicePrincipal(
        {
          servicePrincipalName: name,
          tenantId: tenant.tenantId,
          clientId: tenant.appId,
          clientSecret: tenant.secrets[0]!.value,
          authorityUrl: `${host}/${tenant.tenantId}`,
          graphApiEndpoint: `${host}/v1.0`,
        },
        'admin@example.com',
      );
    }
  });
  afterAll(async () => {
    setIdentityServicesForTests(undefined);
    await stack.stop();
  });

  const record = async (name: string): Promise<ServicePrincipalRecord> =>
    (await stack.repositories.servicePrincipals.get(name))!;

  it('refresh-tokens acquires a token for every enabled principal and records expiry; failures stay contained', async () => {
    const { context: ctx, lines } = context('refresh-tokens');
    await refreshTokens(timer, ctx);
    const good = await record('Good');
    expect(good.tokenCache).toBeDefined();
    expect(Date.parse(good.tokenExpiresAt!)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(good.lastTokenRefresh).toBeDefined();
    expect((await record('Refused')).tokenCache).toBeUndefined();
    const text = lines.join('\n');
    expect(text).toContain('token refresh finished');
    expect(text).toMatch(/"servicePrincipal":"Refused".*"code":"network_error".*"kind":"transient"/);
    expect(text).toMatch(/"refreshed":3/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });

  it('validate-service-principals disables on AADSTS7000215 and keeps principals enabled through connection refused and 503', async () => {
    const rotated = tenants['Rotated']!;
    await stack.control(
      'DELETE',
      `/_sim/tenants/${rotated.tenantId}/apps/${rotated.appId}/secrets/${rotated.secrets[0]!.id}`,
    );
    const unavailable = tenants['Unavailable']!;
    await stack.control('PUT', '/_sim/faults', {
      seed: 1,
      rules: [{ route: `^POST /${unavailable.tenantId}/oauth2/v2\\.0/token$`, rate: 1, status: 503 }],
    });
    try {
      const { context: ctx, lines } = context('validate-service-principals');
      await validateServicePrincipals(timer, ctx);

      const disabled = await record('Rotated');
      expect(disabled).toMatchObject({ enabled: false, validationError: { code: 'AADSTS7000215' } });
      expect(disabled.audit?.at(-1)).toMatchObject({ action: 'disabled', actor: 'system', code: 'AADSTS7000215' });

      const refused = await record('Refused');
      expect(refused).toMatchObject({ enabled: true, validationError: { code: 'network_error' } });
      expect(refused.audit?.at(-1)).toMatchObject({ action: 'validation-failed', code: 'network_error' });

      const outage = await record('Unavailable');
      expect(outage.enabled).toBe(true);
      expect(outage.validationError?.code).toBe('HTTP_503');
      expect(outage.audit?.at(-1)).toMatchObject({ action: 'validation-failed', code: 'HTTP_503' });

      const good = await record('Good');
      expect(good.enabled).toBe(true);
      expect(good.validationError).toBeUndefined();
      expect(good.lastValidatedAt).toBeDefined();

      const text = lines.join('\n');
      expect(text).toMatch(/"checked":4,"valid":1,"disabled":1,"failed":2/);
      expect(text).toMatch(/service principal disabled: credential rejected/);
    } finally {
      await stack.control('DELETE', '/_sim/faults');
    }
  });
});
