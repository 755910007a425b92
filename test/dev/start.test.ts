/** `npm start` options and settings: the environment always wins; embedded values fill only what is unset. */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, SETTING_NAMES } from '../../shared/config';
import {
  computeAppSettings,
  LOCAL_IDENTITY,
  parseStartArgs,
  PLACEHOLDER_SETTINGS,
  STACK_ONLY_PORTS,
  UsageError,
} from '../../dev/start';

const root = path.resolve(__dirname, '../..');

const embedded = {
  cosmos: { endpoint: 'https://127.0.0.1:1234', key: 'c3RhbmQtaW4=' },
  storage: {
    connectionString:
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;',
  },
};

describe('npm start options', () => {
  it('defaults to the demo on port 7071 and accepts --no-demo and --port', () => {
    expect(parseStartArgs([])).toEqual({ demo: true, port: 7071, stackOnly: false, help: false });
    expect(parseStartArgs(['--no-demo', '--port', '0'])).toEqual({
      demo: false,
      port: 0,
      stackOnly: false,
      help: false,
    });
    expect(parseStartArgs(['--stack-only']).stackOnly).toBe(true);
    expect(parseStartArgs(['--port=8080']).port).toBe(8080);
  });

  it('rejects unknown flags and bad ports with a clear message', () => {
    expect(() => parseStartArgs(['--demo-please'])).toThrow(new UsageError('Unknown option "--demo-please"'));
    expect(() => parseStartArgs(['--port'])).toThrow(/--port needs a port number/);
    expect(() => parseStartArgs(['--port', '70000'])).toThrow(/--port needs a port number/);
  });
});

describe('local app settings', () => {
  it('fills every setting the app needs from the embedded stack, placeholders and defaults', () => {
    const { settings, sources } = computeAppSettings({}, embedded);
    expect(settings).toMatchObject({
      COSMOS_ENDPOINT: embedded.cosmos.endpoint,
      COSMOS_KEY: embedded.cosmos.key,
      AzureWebJobsStorage: embedded.storage.connectionString,
      ...PLACEHOLDER_SETTINGS,
      SYNC_QUEUE_NAME: 'mailbox-sync',
      SYNC_SCHEDULE: '0 */5 * * * *',
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsFeatureFlags: 'EnableWorkerIndexing',
    });
    expect(new Set(Object.values(sources))).toEqual(new Set(['embedded']));
    expect(() => loadConfig(settings)).not.toThrow();
  });

  it('keeps what the environment sets and never mixes a real endpoint with the stand-in key or storage', () => {
    const env = {
      COSMOS_ENDPOINT: 'https://prod.documents.azure.com:443/',
      AzureWebJobsStorage__accountName: 'prodstorage',
      SYNC_QUEUE_NAME: 'custom-sync',
      PATH: '/usr/bin',
    };
    const { settings, sources } = computeAppSettings(env, embedded);
    expect(settings['COSMOS_ENDPOINT']).toBe(env.COSMOS_ENDPOINT);
    expect(settings).not.toHaveProperty('COSMOS_KEY');
    expect(settings).not.toHaveProperty('AzureWebJobsStorage');
    expect(settings['AzureWebJobsStorage__accountName']).toBe('prodstorage');
    expect(settings['SYNC_QUEUE_NAME']).toBe('custom-sync');
    expect(sources['SYNC_QUEUE_NAME']).toBe('environment');
    expect(settings).not.toHaveProperty('PATH');
    expect(loadConfig(settings).storage.kind).toBe('identity');
  });

  it('uses the simulator settings when the simulator runs, unless the environment sets Key Vault / API auth', () => {
    const simulator = {
      KEY_VAULT_URL: 'https://127.0.0.1:8443',
      AZURE_CLIENT_SECRET: 'sim-secret',
      API_AUTH_JWKS_URI: 'https://127.0.0.1:8443/common/discovery/v2.0/keys',
      API_AUTH_ISSUERS: 'https://127.0.0.1:8443/t/v2.0',
      API_AUTH_AUDIENCE: 'api://local',
    };
    expect(computeAppSettings({}, { ...embedded, simulator }).settings).toMatchObject(simulator);
    const own = computeAppSettings(
      { KEY_VAULT_URL: 'https://kv.vault.azure.net/', API_AUTH_ISSUERS: 'https://login.microsoftonline.com/t/v2.0' },
      { ...embedded, simulator },
    ).settings;
    expect(own['KEY_VAULT_URL']).toBe('https://kv.vault.azure.net/');
    expect(own).not.toHaveProperty('AZURE_CLIENT_SECRET');
    expect(own['API_AUTH_ISSUERS']).toBe('https://login.microsoftonline.com/t/v2.0');
    expect(own).not.toHaveProperty('API_AUTH_JWKS_URI');
  });
});

describe('local.settings.sample.json and docs/configuration.md', () => {
  const sample = JSON.parse(fs.readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };

  it('the sample lists every setting plus the worker settings, and parses', () => {
    for (const name of [...SETTING_NAMES, 'FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags']) {
      expect(Object.keys(sample.Values)).toContain(name);
    }
    expect(sample.Values['FUNCTIONS_WORKER_RUNTIME']).toBe('node');
    expect(sample.Values['AzureWebJobsFeatureFlags']).toBe('EnableWorkerIndexing');
    expect(() => loadConfig(sample.Values)).not.toThrow();
  });

  it('the sample points at the stand-ins as `npm start -- --stack-only` runs them', () => {
    const config = loadConfig(sample.Values);
    expect(new URL(config.cosmos.endpoint).port).toBe(String(STACK_ONLY_PORTS.cosmos));
    expect(new URL(config.keyVault.url).port).toBe(String(STACK_ONLY_PORTS.simulator));
    expect(config.identity).toEqual({
      clientId: LOCAL_IDENTITY.clientId,
      tenantId: LOCAL_IDENTITY.tenantId,
      clientSecret: LOCAL_IDENTITY.clientSecret,
      authorityHost: `https://127.0.0.1:${STACK_ONLY_PORTS.simulator}`,
    });
    expect(config.apiAuth.issuers).toEqual([
      `https://127.0.0.1:${STACK_ONLY_PORTS.simulator}/${LOCAL_IDENTITY.tenantId}/v2.0`,
    ]);
  });

  it('the configuration document has a row for every setting', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/configuration.md'), 'utf8');
    const rows = new Set([...doc.matchAll(/^\| `([^`]+)`\s*\|/gm)].map((m) => m[1]));
    for (const name of SETTING_NAMES) expect(rows).toContain(name);
  });
});
