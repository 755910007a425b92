/**
 * For tests that run functions against the embedded stack through the composition root (`getConfig()` and the
 * process's clients): a Cosmos database and a sync queue of the test file's own, created in `beforeAll` and
 * deleted in `afterAll`, and the app settings that point the app at them. Key Vault and the API's token issuer
 * are unreachable loopback addresses unless a test overrides them.
 *
 *   const app = useStackApp('health');
 *   app.configure({ COSMOS_ENDPOINT: 'https://127.0.0.1:1/' });   // then call the handler
 */
import net from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { QueueServiceClient } from '@azure/storage-queue';
import { ensureDatabase } from '../../shared/adapters/cosmos';
import { resetCompositionRootForTests } from '../../shared/composition-root';
import { resetConfigForTests } from '../../shared/config';
import { testStack, uniqueName } from './stack';

export interface StackApp {
  /** The database (`COSMOS_DATABASE`) and sync queue (`SYNC_QUEUE_NAME`) names. */
  database: string;
  queue: string;
  /** A Cosmos client of the test's own, to seed and inspect (the app uses the composition root's). */
  cosmos: CosmosClient;
  /** Sets the app settings (these, then `overrides`) and forgets the cached configuration and clients. */
  configure(overrides?: Record<string, string>): void;
}

export function useStackApp(prefix: string): StackApp {
  const stack = testStack();
  const queues = QueueServiceClient.fromConnectionString(stack.storageConnectionString);
  const app: StackApp = {
    database: uniqueName(prefix),
    queue: uniqueName(`${prefix}-sync`),
    cosmos: new CosmosClient({ endpoint: stack.cosmosEndpoint, key: stack.cosmosKey }),
    configure(overrides = {}) {
      Object.assign(process.env, {
        COSMOS_ENDPOINT: stack.cosmosEndpoint,
        COSMOS_KEY: stack.cosmosKey,
        COSMOS_DATABASE: app.database,
        AzureWebJobsStorage: stack.storageConnectionString,
        SYNC_QUEUE_NAME: app.queue,
        KEY_VAULT_URL: 'https://127.0.0.1:9/',
        API_AUTH_JWKS_URI: 'https://127.0.0.1:9/keys',
        API_AUTH_ISSUERS: 'https://127.0.0.1:9/tenant/v2.0',
        API_AUTH_AUDIENCE: 'api://m365-mail-sync-test',
        ...overrides,
      });
      resetConfigForTests();
      resetCompositionRootForTests();
    },
  };
  beforeAll(async () => {
    await ensureDatabase(app.cosmos, app.database);
    await queues.createQueue(app.queue);
  });
  afterAll(async () => {
    resetCompositionRootForTests();
    await app.cosmos.database(app.database).delete();
    await queues.deleteQueue(app.queue);
    app.cosmos.dispose();
  });
  return app;
}

/** A loopback port with nothing listening (connection refused). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
