/** The health use case: parallel probes with a deadline, and failure descriptions safe for anonymous callers. */
import { AppError } from '../../../shared/errors';
import { silentLogger } from '../../../shared/domain/ports/logger';
import { checkHealth, describeProbeFailure, type HealthProbe } from '../../../shared/use-cases/health';

const ok: HealthProbe = () => Promise.resolve();

describe('checkHealth', () => {
  it('is ok when every probe succeeds', async () => {
    const report = await checkHealth({ probes: { cosmos: ok, storage: ok }, version: '1.2.3', logger: silentLogger });
    expect(report).toEqual({
      status: 'ok',
      version: '1.2.3',
      checks: {
        cosmos: { ok: true, latencyMs: expect.any(Number) },
        storage: { ok: true, latencyMs: expect.any(Number) },
      },
    });
  });

  it('gives up on a hanging probe at the deadline and aborts it', async () => {
    let aborted = false;
    const hanging: HealthProbe = (signal) =>
      new Promise(() => signal.addEventListener('abort', () => (aborted = true)));
    const startedAt = Date.now();
    const report = await checkHealth({
      probes: { cosmos: hanging, storage: ok },
      version: '1',
      logger: silentLogger,
      timeoutMs: 100,
    });
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(report.status).toBe('degraded');
    expect(report.checks.cosmos).toEqual({ ok: false, latencyMs: expect.any(Number), error: 'timed out after 100 ms' });
    expect(aborted).toBe(true);
  });

  it('runs the probes in parallel', async () => {
    const slow: HealthProbe = () => new Promise((r) => setTimeout(r, 150));
    const startedAt = Date.now();
    await checkHealth({ probes: { cosmos: slow, storage: slow }, version: '1', logger: silentLogger });
    expect(Date.now() - startedAt).toBeLessThan(290);
  });
});

describe('describeProbeFailure', () => {
  it('keeps codes and statuses, never messages', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:443 key=abc'), { code: 'ECONNREFUSED' });
    expect(describeProbeFailure(refused)).toBe('unreachable (ECONNREFUSED)');
    expect(describeProbeFailure({ statusCode: 403, code: 'AuthorizationFailure', message: 'sig=secret' })).toBe(
      'responded with HTTP 403 (AuthorizationFailure)',
    );
    expect(describeProbeFailure({ code: 401, body: { message: 'bad key' } })).toBe('responded with HTTP 401');
    expect(describeProbeFailure({ code: 'has spaces and https://x' })).toBe('unavailable');
    expect(describeProbeFailure(new AppError('CONFIG_INVALID', 'COSMOS_KEY is bad'))).toBe('configuration is invalid');
    expect(describeProbeFailure(new Error('anything'))).toBe('unavailable');
  });
});
