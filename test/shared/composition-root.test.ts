/** The composition root builds each client once per process from the configuration, and forgets them on reset. */
import {
  getBlobServiceClient,
  getCosmosClient,
  getCosmosDatabase,
  getCredential,
  getQueueServiceClient,
  resetCompositionRootForTests,
} from '../../shared/composition-root';
import { resetConfigForTests } from '../../shared/config';
import { testStack } from '../support/stack';

const stack = testStack();
const base = {
  COSMOS_ENDPOINT: stack.cosmosEndpoint,
  COSMOS_KEY: stack.cosmosKey,
  COSMOS_DATABASE: 'compositionroot',
  AzureWebJobsStorage: stack.storageConnectionString,
  KEY_VAULT_URL: 'https://127.0.0.1:9/',
  API_AUTH_JWKS_URI: 'https://127.0.0.1:9/keys',
  API_AUTH_ISSUERS: 'https://127.0.0.1:9/t/v2.0',
  API_AUTH_AUDIENCE: 'api://test',
};
const saved = { ...process.env };

function configure(env: Record<string, string | undefined>): void {
  process.env = { ...saved, ...env };
  resetConfigForTests();
  resetCompositionRootForTests();
}

afterEach(() => configure({}));

describe('composition root', () => {
  it('creates each client lazily, once, from the configuration', async () => {
    configure(base);
    expect(getCosmosClient()).toBe(getCosmosClient());
    expect(getQueueServiceClient()).toBe(getQueueServiceClient());
    expect(getBlobServiceClient()).toBe(getBlobServiceClient());
    expect(getCosmosDatabase().id).toBe('compositionroot');
    expect(getQueueServiceClient().url).toBe(stack.queueEndpoint);
    const { resource } = await getCosmosClient().getDatabaseAccount();
    expect(resource).toBeDefined();
  });

  it('builds new clients after a reset (so tests can change settings)', () => {
    configure(base);
    const first = getQueueServiceClient();
    configure(base);
    expect(getQueueServiceClient()).not.toBe(first);
  });

  it('uses identity-based storage URIs when no connection string is set', () => {
    configure({
      ...base,
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__accountName: 'prodaccount',
      AzureWebJobsStorage__clientId: '11111111-1111-1111-1111-111111111111',
    });
    expect(getQueueServiceClient().url).toBe('https://prodaccount.queue.core.windows.net');
    expect(getBlobServiceClient().url).toBe('https://prodaccount.blob.core.windows.net/');
  });

  it('uses a client-secret credential against the configured authority when AZURE_CLIENT_SECRET is set', () => {
    configure({
      ...base,
      AZURE_TENANT_ID: 'tenant',
      AZURE_CLIENT_ID: 'client',
      AZURE_CLIENT_SECRET: 'secret',
      AZURE_AUTHORITY_HOST: 'https://127.0.0.1:8443',
    });
    expect(getCredential().constructor.name).toBe('ClientSecretCredential');
    configure({ ...base, AZURE_CLIENT_ID: 'mi-client' });
    expect(getCredential().constructor.name).toBe('DefaultAzureCredential');
  });
});
