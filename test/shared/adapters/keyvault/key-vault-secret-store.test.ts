import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultSecretStore } from '../../../../shared/adapters/keyvault/key-vault-secret-store';
import { isAppError } from '../../../../shared/errors';
import { startIdentityTestStack, type IdentityTestStack } from '../identity-test-stack';

describe('KeyVaultSecretStore (simulator Key Vault, real SDK)', () => {
  let stack: IdentityTestStack;
  let store: KeyVaultSecretStore;

  beforeAll(async () => {
    stack = await startIdentityTestStack();
    store = new KeyVaultSecretStore({
      vaultUrl: stack.sim.url,
      credential: stack.hostCredential,
      allowedDevHosts: stack.allowedDevHosts,
    });
  });
  afterAll(() => stack.stop());

  it('writes versions, reads the latest or a pinned one, and reports expiry', async () => {
    const expiresOn = new Date('2027-01-01T00:00:00.000Z');
    const first = await store.set('sp-test-client-secret', 'value-one', {
      expiresOn,
      contentType: 'text/plain',
      tags: { a: 'b' },
    });
    const second = await store.set('sp-test-client-secret', 'value-two');
    expect(first.version).toMatch(/^[0-9a-f]{32}$/);
    expect(second.version).not.toBe(first.version);
    expect(first.expiresOn?.toISOString()).toBe(expiresOn.toISOString());
    expect(await store.get('sp-test-client-secret')).toMatchObject({ value: 'value-two', version: second.version });
    expect(await store.get('sp-test-client-secret', first.version)).toMatchObject({
      value: 'value-one',
      version: first.version,
    });
  });

  it('answers undefined for a missing secret or version, and deletes idempotently', async () => {
    expect(await store.get('never-written')).toBeUndefined();
    await store.set('to-delete', 'x');
    expect(await store.get('to-delete', '0123456789abcdef0123456789abcdef')).toBeUndefined();
    await store.delete('to-delete');
    expect(await store.get('to-delete')).toBeUndefined();
    await expect(store.delete('to-delete')).resolves.toBeUndefined();
    await expect(store.delete('never-written')).resolves.toBeUndefined();
  });

  it('maps a refused credential to an error that carries no secret value', async () => {
    const wrong = new ClientSecretCredential(stack.hostTenantId, stack.hostApp.appId, 'not-the-secret', {
      authorityHost: stack.sim.url,
      disableInstanceDiscovery: true,
    });
    const refused = new KeyVaultSecretStore({
      vaultUrl: stack.sim.url,
      credential: wrong,
      allowedDevHosts: stack.allowedDevHosts,
    });
    const error: unknown = await refused.set('x', 'super-secret-value').catch((e: unknown) => e);
    expect(isAppError(error)).toBe(true);
    expect(JSON.stringify(error) + String(error) + JSON.stringify((error as Error).cause ?? null)).not.toContain(
      'super-secret-value',
    );
    expect((error as Error).cause).toBeUndefined();
  });

  it('an unreachable vault is DEPENDENCY_UNAVAILABLE', async () => {
    const closed = new KeyVaultSecretStore({
      vaultUrl: 'https://127.0.0.1:1',
      credential: stack.hostCredential,
      allowedDevHosts: ['127.0.0.1:1'],
      maxRetries: 0,
    });
    await expect(closed.get('x')).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
  });

  it('refuses vault hosts that are neither Key Vault nor allowed dev hosts, and http', () => {
    const codeFor = (vaultUrl: string): string => {
      try {
        new KeyVaultSecretStore({ vaultUrl, credential: stack.hostCredential, allowedDevHosts: [] });
        return 'ok';
      } catch (error) {
        return isAppError(error) ? error.code : 'unexpected';
      }
    };
    expect(codeFor(stack.sim.url)).toBe('CONFIG_INVALID');
    expect(codeFor('https://vault.evil.example')).toBe('CONFIG_INVALID');
    expect(codeFor('http://myvault.vault.azure.net')).toBe('CONFIG_INVALID');
    expect(codeFor('https://myvault.vault.azure.net')).toBe('ok');
    expect(codeFor('https://myvault.vault.usgovcloudapi.net')).toBe('ok');
    expect(codeFor('https://myvault.vault.azure.cn')).toBe('ok');
  });
});
