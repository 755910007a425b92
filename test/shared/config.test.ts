import { loadConfig, SETTING_NAMES } from '../../shared/config';
import { isAppError } from '../../shared/errors';

const valid = {
  COSMOS_ENDPOINT: 'https://127.0.0.1:8081',
  COSMOS_KEY: 'c2VjcmV0',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  KEY_VAULT_URL: 'https://127.0.0.1:9443',
  API_AUTH_JWKS_URI: 'https://127.0.0.1:9443/common/discovery/v2.0/keys',
  API_AUTH_ISSUERS: 'https://a.example/v2.0, https://b.example/v2.0',
  API_AUTH_AUDIENCE: 'api://m365-mail-sync',
};

function configError(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (isAppError(error, 'CONFIG_INVALID')) return error.message;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadConfig', () => {
  it('fills documented defaults', () => {
    const config = loadConfig(valid);
    expect(config.cosmos.database).toBe('m365mail');
    expect(config.sync).toEqual({
      schedule: '0 */5 * * * *',
      queueName: 'mailbox-sync',
      pageSize: 100,
      timeBudgetSeconds: 480,
      leaseSeconds: 600,
      maxConcurrencyPerMailbox: 4,
    });
    expect(config.apiAuth.issuers).toEqual(['https://a.example/v2.0', 'https://b.example/v2.0']);
    expect(config.storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
  });

  it('accepts identity-based storage and Cosmos without a key (managed identity)', () => {
    const { AzureWebJobsStorage: _s, COSMOS_KEY: _k, ...rest } = valid;
    const config = loadConfig({ ...rest, AzureWebJobsStorage__accountName: 'stmail', AZURE_CLIENT_ID: 'mi-client' });
    expect(config.cosmos.key).toBeUndefined();
    expect(config.storage).toEqual({
      kind: 'identity',
      accountName: 'stmail',
      queueServiceUri: 'https://stmail.queue.core.windows.net',
      blobServiceUri: 'https://stmail.blob.core.windows.net',
      clientId: 'mi-client',
    });
  });

  it('names every missing or invalid setting at once, without echoing values', () => {
    const message = configError({
      ...valid,
      COSMOS_ENDPOINT: undefined,
      SYNC_PAGE_SIZE: '5000',
      SYNC_SCHEDULE: '*/5 * * * *',
      COSMOS_KEY: 'super-secret-value',
      KEY_VAULT_URL: 'not a url',
    });
    expect(message).toMatch(/COSMOS_ENDPOINT is required/);
    expect(message).toMatch(/SYNC_PAGE_SIZE must be a whole number from 1 to 1000/);
    expect(message).toMatch(/SYNC_SCHEDULE must be an NCRONTAB expression with six fields/);
    expect(message).toMatch(/KEY_VAULT_URL/);
    expect(message).not.toContain('super-secret-value');
  });

  it('requires some storage setting', () => {
    const { AzureWebJobsStorage: _s, ...rest } = valid;
    expect(configError(rest)).toMatch(/AzureWebJobsStorage is required/);
  });

  it('rejects a malformed ALLOWED_DEV_HOSTS entry', () => {
    expect(configError({ ...valid, ALLOWED_DEV_HOSTS: '127.0.0.1:8443,evil.example' })).toMatch(/ALLOWED_DEV_HOSTS/);
    expect(loadConfig({ ...valid, ALLOWED_DEV_HOSTS: '127.0.0.1:8443, LocalHost:9000' }).allowedDevHosts).toEqual([
      '127.0.0.1:8443',
      'localhost:9000',
    ]);
  });

  it('lists the setting names it reads', () => {
    expect(SETTING_NAMES).toEqual(expect.arrayContaining(['COSMOS_ENDPOINT', 'SYNC_SCHEDULE', 'API_AUTH_AUDIENCE']));
  });
});
