/** GET /api/health: 200 with both dependencies up; 503 naming the unreachable one, without leaking details. */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { health } from '../../functions/health';
import { testStack, uniqueName } from '../support/stack';
import { closedPort, useStackApp } from '../support/stack-app';

// The module registers itself with `app.http`; let it register with the local stand-in rather than warn.
jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../dev/functions-host/functions-core'), {
  virtual: true,
});

interface HealthBody {
  status: string;
  version: string;
  checks: Record<'cosmos' | 'storage', { ok: boolean; latencyMs: number; error?: string }>;
}

const stack = testStack();
const app = useStackApp('health');
const call = async () => {
  const response = await health(
    new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health' }),
    new InvocationContext({ functionName: 'health', logHandler: () => undefined }),
  );
  return { status: response.status, body: response.jsonBody as HealthBody };
};

describe('health', () => {
  it('answers 200 "ok" with the version and the latency of each dependency when both are up', async () => {
    app.configure();
    const { status, body } = await call();
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      checks: {
        cosmos: { ok: true, latencyMs: expect.any(Number) },
        storage: { ok: true, latencyMs: expect.any(Number) },
      },
    });
  });

  it('answers 503 "degraded" within the probe deadline when Cosmos is unreachable, without leaking details', async () => {
    app.configure({ COSMOS_ENDPOINT: `https://127.0.0.1:${await closedPort()}/` });
    const startedAt = Date.now();
    const { status, body } = await call();
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(status).toBe(503);
    expect(body.status).toBe('degraded');
    expect(body.checks.storage).toEqual({ ok: true, latencyMs: expect.any(Number) });
    expect(body.checks.cosmos).toEqual({ ok: false, latencyMs: expect.any(Number), error: expect.any(String) });
    expect(body.checks.cosmos.error).toMatch(/^unreachable \(ECONNREFUSED\)$|^timed out/);
    const text = JSON.stringify(body);
    expect(text).not.toContain(stack.cosmosKey);
    expect(text).not.toMatch(/\bat .+:\d+:\d+/); // no stack frames
    expect(text).not.toContain('127.0.0.1');
  });

  it('reports storage as failing when the sync queue does not exist', async () => {
    app.configure({ SYNC_QUEUE_NAME: uniqueName('missing') });
    const { status, body } = await call();
    expect(status).toBe(503);
    expect(body.checks.cosmos.ok).toBe(true);
    expect(body.checks.storage).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      error: 'responded with HTTP 404 (QueueNotFound)',
    });
  });

  it('reports a configuration problem as such, not as a crash', async () => {
    app.configure({ COSMOS_ENDPOINT: 'not a url' });
    const { status, body } = await call();
    expect(status).toBe(503);
    expect(body.checks.cosmos.error).toBe('configuration is invalid');
    expect(body.checks.storage.error).toBe('configuration is invalid');
  });
});
