/** The health report's credential warnings: listed without changing the status, and never able to break it. */
import { silentLogger } from '../../../shared/domain/ports/logger';
import { checkHealth, type HealthProbe } from '../../../shared/use-cases/health';

const ok: HealthProbe = () => Promise.resolve();
const probes = { cosmos: ok, storage: ok };
const warning = {
  servicePrincipalName: 'Contoso',
  expiresAt: '2026-12-01T00:00:00.000Z',
  message: 'The client secret expires on 2026-12-01 (in 9 days).',
};

describe('checkHealth credential warnings', () => {
  it('lists the warnings (name, expiry and message only) and stays ok', async () => {
    const report = await checkHealth({
      probes,
      version: '1',
      logger: silentLogger,
      credentialWarnings: () => Promise.resolve([{ ...warning, tenantId: 'secret-tenant' } as typeof warning]),
    });
    expect(report.status).toBe('ok');
    expect(report.warnings).toEqual([warning]);
  });

  it('omits warnings when there are none', async () => {
    const report = await checkHealth({
      probes,
      version: '1',
      logger: silentLogger,
      credentialWarnings: () => Promise.resolve([]),
    });
    expect(report).not.toHaveProperty('warnings');
  });

  it('omits warnings that fail or hang past the deadline, without delaying the report', async () => {
    const failing = await checkHealth({
      probes,
      version: '1',
      logger: silentLogger,
      credentialWarnings: () => Promise.reject(new Error('cosmos down')),
    });
    expect(failing).toEqual(expect.objectContaining({ status: 'ok' }));
    expect(failing).not.toHaveProperty('warnings');

    const startedAt = Date.now();
    const hanging = await checkHealth({
      probes,
      version: '1',
      logger: silentLogger,
      timeoutMs: 100,
      credentialWarnings: () => new Promise(() => undefined),
    });
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(hanging).not.toHaveProperty('warnings');
  });
});
