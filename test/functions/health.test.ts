/** GET /api/health: 200 with both dependencies up; 503 naming the unreachable one, without leaking details. */
import net from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { QueueServiceClient } from '@azure/storage-queue';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { health } from '../../functions/health';
import { resetCompositionRootForTests } from '../../shared/composition-root';
import { resetConfigForTests } from '../../shared/config';
import { testStack, uniqueName } from '../support/stack';

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
const database = uniqueName('health');
const queue = uniqueName('health-sync');
const cosmos = new CosmosClient({ endpoint: stack.cosmosEndpoint, key: stack.cosmosKey });

function configure(overrides: Record<string, string> = {}): void {
  Object.assign(process.env, {
    COSMOS_ENDPOINT: stack.cosmosEndpoint,
    COSMOS_KEY: stack.cosmosKey,
    COSMOS_DATABASE: database,
    AzureWebJobsStorage: stack.storageConnectionString,
    SYNC_QUEUE_NAME: queue,
    KEY_VAULT_URL: 'https://127.0.0.1:9/',
    API_AUTH_JWKS_URI: 'https://127.0.0.1:9/keys',
    API_AUTH_ISSUERS: 'https://127.0.0.1:9/tenant/v2.0',
    API_AUTH_AUDIENCE: 'api://m365-mail-sync-test',
    ...overrides,
  });
  resetConfigForTests();
  resetCompositionRootForTests();
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const call = async () => {
  const response = await health(
    new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health' }),
    new InvocationContext({ functionName: 'health', logHandler: () => undefined }),
  );
  return { status: response.status, body: response.jsonBody as HealthBody };
};

beforeAll(async () => {
  await cosmos.databases.createIfNotExists({ id: database });
  await QueueServiceClient.fromConnectionString(stack.storageConnectionString).createQueue(queue);
});

afterAll(async () => {
  resetCompositionRootForTests();
  await cosmos.database(database).delete();
  await QueueServiceClient.fromConnectionString(stack.storageConnectionString).deleteQueue(queue);
  cosmos.dispose();
});

describe('health', () => {
  it('answers 200 "ok" with the version and the latency of each dependency when both are up', async () => {
    configure();
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
    configure({ COSMOS_ENDPOINT: `https://127.0.0.1:${await closedPort()}/` });
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
    configure({ SYNC_QUEUE_NAME: uniqueName('missing') });
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
    configure({ COSMOS_ENDPOINT: 'not a url' });
    const { status, body } = await call();
    expect(status).toBe(503);
    expect(body.checks.cosmos.error).toBe('configuration is invalid');
    expect(body.checks.storage.error).toBe('configuration is invalid');
  });
});
