import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { StartedSimulator } from '../../../dev/m365-simulator/contract';
import { VAULT_SCOPE, appToken, call, createTenant, startTestSimulator, type TestTenant } from './helpers';

describe('M365 simulator: Key Vault secrets', () => {
  let sim: StartedSimulator;
  let home: TestTenant;
  let client: SecretClient;

  beforeAll(async () => {
    sim = await startTestSimulator();
    // A customer tenant created first: the vault's tenant is the service's home tenant, set explicitly.
    await createTenant(sim, { name: 'Customer' });
    home = await createTenant(sim, { name: 'Home', roles: ['User.Read.All'] });
    expect((await call(sim, 'PUT', '/_sim/keyvault', { tenantId: home.tenantId })).status).toBe(200);
    const credential = new ClientSecretCredential(home.tenantId, home.appId, home.secret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
    client = new SecretClient(sim.url, credential, { disableChallengeResourceVerification: true });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('answers an unauthenticated request with the bearer challenge naming the vault tenant', async () => {
    const response = await call(sim, 'GET', '/secrets/anything?api-version=7.6');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer authorization="${sim.url}/${home.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(response.body.error.code).toBe('Unauthorized');
  });

  it('sets, gets (latest and by version), updates and lists secrets through SecretClient', async () => {
    const first = await client.setSecret('tenant-a-secret', 'value-1', {
      contentType: 'text/plain',
      tags: { kind: 'client-secret' },
    });
    expect(first.value).toBe('value-1');
    expect(first.properties.id).toBe(`${sim.url}/secrets/tenant-a-secret/${first.properties.version}`);
    expect(first.properties.vaultUrl).toBe(sim.url);
    const expiresOn = new Date(Date.now() + 86_400_000);
    expiresOn.setMilliseconds(0);
    const second = await client.setSecret('tenant-a-secret', 'value-2', { expiresOn });
    expect(second.properties.version).not.toBe(first.properties.version);

    expect((await client.getSecret('tenant-a-secret')).value).toBe('value-2');
    const old = await client.getSecret('tenant-a-secret', { version: first.properties.version ?? '' });
    expect(old.value).toBe('value-1');
    expect(old.properties.contentType).toBe('text/plain');
    expect(old.properties.tags).toEqual({ kind: 'client-secret' });
    expect((await client.getSecret('tenant-a-secret')).properties.expiresOn?.getTime()).toBe(expiresOn.getTime());

    for (const name of ['list-b', 'list-c', 'list-d']) await client.setSecret(name, `v-${name}`);
    const pages: string[][] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) {
      pages.push(page.map((p) => p.name));
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flat()).toEqual(expect.arrayContaining(['tenant-a-secret', 'list-b', 'list-c', 'list-d']));
    const versions: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions('tenant-a-secret')) versions.push(p.version ?? '');
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());
  });

  it('deletes a secret (soft delete, the poller completes), then reports SecretNotFound; purge frees the name', async () => {
    await client.setSecret('to-delete', 'bye');
    const poller = await client.beginDeleteSecret('to-delete', { intervalInMs: 10 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${sim.url}/deletedsecrets/to-delete`);
    await expect(client.getSecret('to-delete')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    await expect(client.setSecret('to-delete', 'again')).rejects.toMatchObject({ statusCode: 409 });
    expect((await client.getDeletedSecret('to-delete')).name).toBe('to-delete');
    await client.purgeDeletedSecret('to-delete');
    expect((await client.setSecret('to-delete', 'again')).value).toBe('again');
  });

  it('answers SecretNotFound for a missing secret and BadParameter for an invalid name', async () => {
    await expect(client.getSecret('never-set')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    const token = await appToken(sim, home.tenantId, home.appId, home.secret, VAULT_SCOPE);
    const bad = await call(
      sim,
      'PUT',
      '/secrets/bad_name?api-version=7.6',
      { value: 'x' },
      { authorization: `Bearer ${token}` },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BadParameter');
    const graphToken = await appToken(sim, home.tenantId, home.appId, home.secret);
    const wrongAudience = await call(sim, 'GET', '/secrets/x?api-version=7.6', undefined, {
      authorization: `Bearer ${graphToken}`,
    });
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.body.error.message).toContain('AKV10022');
  });
});
