import { conflictReason, isAppError, type AppError } from '../../../../shared/errors';
import {
  createServicePrincipalInput,
  makeServicePrincipalUseCases,
  toPublicServicePrincipal,
  type ServicePrincipalUseCases,
} from '../../../../shared/domain/identity';
import { makeCertificate } from '../../../support/certificates';
import { CapturingLogger, FakeClock, FakeEmailAccounts, InMemoryServicePrincipals, InMemorySecretStore } from './fakes';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'Q~very-secret-value-1234567890';
const ACTOR = 'admin@contoso.com';

function setup(allowedDevHosts: string[] = []) {
  const clock = new FakeClock();
  const secrets = new InMemorySecretStore();
  const servicePrincipals = new InMemoryServicePrincipals(clock);
  const emailAccounts = new FakeEmailAccounts();
  const logger = new CapturingLogger();
  const useCases: ServicePrincipalUseCases = makeServicePrincipalUseCases({
    servicePrincipals,
    emailAccounts,
    secrets,
    clock,
    logger,
    allowedDevHosts,
  });
  return { clock, secrets, servicePrincipals, emailAccounts, logger, useCases };
}

const secretInput = (overrides: Record<string, unknown> = {}) => ({
  servicePrincipalName: 'Contoso',
  tenantId: TENANT,
  clientId: CLIENT,
  clientSecret: SECRET,
  ...overrides,
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error) && error.code === code) return error;
    throw error;
  }
  throw new Error(`expected ${code}`);
}

describe('createServicePrincipal', () => {
  it('stores the secret in the secret store and only a reference in the record', async () => {
    const { useCases, secrets, servicePrincipals, logger } = setup();
    const created = await useCases.createServicePrincipal(secretInput({ tenantName: 'Contoso Ltd' }), ACTOR);

    expect(created).toMatchObject({
      servicePrincipalName: 'Contoso',
      tenantId: TENANT,
      tenantName: 'Contoso Ltd',
      clientId: CLIENT,
      cloud: 'global',
      authorityUrl: `https://login.microsoftonline.com/${TENANT}`,
      graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
      scopes: 'https://graph.microsoft.com/.default',
      enabled: true,
      credential: { kind: 'clientSecret' },
      hasTokenCache: false,
      createdBy: ACTOR,
    });
    expect(created.audit).toEqual([expect.objectContaining({ action: 'created', actor: ACTOR })]);

    const record = servicePrincipals.records.get('contoso');
    expect(record?.credential.kind).toBe('clientSecret');
    const ref = record?.credential.kind === 'clientSecret' ? record.credential.secretRef : undefined;
    expect(ref?.name).toMatch(/^sp-[0-9a-f]{12}-[0-9a-f]{8}-client-secret$/);
    expect((await secrets.get(ref!.name, ref!.version))?.value).toBe(SECRET);

    for (const text of [JSON.stringify(record), JSON.stringify(created), logger.text()]) {
      expect(text).not.toContain(SECRET);
    }
    expect(JSON.stringify(created)).not.toContain(ref!.name);
  });

  it('records a known secret expiry and warns when it is near', async () => {
    const { useCases } = setup();
    const created = await useCases.createServicePrincipal(
      secretInput({ clientSecretExpiresAt: '2026-12-10T00:00:00Z' }),
      ACTOR,
    );
    expect(created.credential.expiresAt).toBe('2026-12-10T00:00:00.000Z');
    expect(created.credentialWarning).toMatch(/expires on 2026-12-10 \(in 17 days\)/);
  });

  it('stores a certificate PEM in the secret store with its thumbprint and notAfter', async () => {
    const { useCases, secrets, servicePrincipals } = setup();
    const cert = makeCertificate({ days: 20 });
    const created = await useCases.createServicePrincipal(
      { servicePrincipalName: 'Fabrikam', tenantId: TENANT, clientId: CLIENT, certificate: { pem: cert.combinedPem } },
      ACTOR,
    );
    expect(created.credential).toMatchObject({
      kind: 'certificate',
      thumbprintSha256: expect.stringMatching(/^[0-9A-F]{64}$/),
    });
    expect(created.credentialWarning).toMatch(/certificate expires/);
    const record = servicePrincipals.records.get('fabrikam');
    const ref = record?.credential.kind === 'certificate' ? record.credential.secretRef : undefined;
    expect(ref?.name).toMatch(/-certificate$/);
    expect((await secrets.get(ref!.name))?.value).toContain('BEGIN PRIVATE KEY');
    expect(JSON.stringify(record)).not.toContain('PRIVATE KEY');
  });

  it('federated credentials store no secret at all', async () => {
    const { useCases, secrets } = setup();
    const mi = '99999999-8888-7777-6666-555555555555';
    const created = await useCases.createServicePrincipal(
      {
        servicePrincipalName: 'NoSecret',
        tenantId: TENANT,
        clientId: CLIENT,
        federated: { managedIdentityClientId: mi },
      },
      ACTOR,
    );
    expect(created.credential).toEqual({ kind: 'federated', managedIdentityClientId: mi });
    expect(secrets.versions.size).toBe(0);
  });

  it('requires exactly one credential and lists every bad field', async () => {
    const { useCases, secrets } = setup();
    const none = await expectCode(
      useCases.createServicePrincipal({ servicePrincipalName: 'x', tenantId: 'nope', clientId: CLIENT }, ACTOR),
      'VALIDATION_FAILED',
    );
    expect(none.errors!.map((e) => e.field).sort()).toEqual(['clientSecret', 'tenantId']);
    const two = await expectCode(
      useCases.createServicePrincipal(secretInput({ federated: {} }), ACTOR),
      'VALIDATION_FAILED',
    );
    expect(two.errors!.map((e) => e.field).sort()).toEqual(['clientSecret', 'federated']);
    expect(secrets.versions.size).toBe(0);
  });

  it('rejects an authority on a non-Microsoft host unless it is an allowed dev host, before storing anything', async () => {
    const { useCases, secrets } = setup();
    const error = await expectCode(
      useCases.createServicePrincipal(secretInput({ authorityUrl: `https://login.evil.example/${TENANT}` }), ACTOR),
      'VALIDATION_FAILED',
    );
    expect(error.errors).toEqual([
      { field: 'authorityUrl', message: expect.stringContaining('login.microsoftonline.com') },
    ]);
    expect(secrets.versions.size).toBe(0);

    const dev = setup(['127.0.0.1:8443']);
    const created = await dev.useCases.createServicePrincipal(
      secretInput({
        authorityUrl: `https://127.0.0.1:8443/${TENANT}`,
        graphApiEndpoint: 'https://127.0.0.1:8443/v1.0',
      }),
      ACTOR,
    );
    expect(created.authorityUrl).toBe(`https://127.0.0.1:8443/${TENANT}`);
  });

  it('refuses a duplicate name (case-insensitively) without touching the existing secret', async () => {
    const { useCases, secrets } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    const before = JSON.stringify([...secrets.versions]);
    const error = await expectCode(
      useCases.createServicePrincipal(secretInput({ servicePrincipalName: 'CONTOSO', clientSecret: 'other' }), ACTOR),
      'CONFLICT',
    );
    expect(conflictReason(error)).toBe('duplicate');
    expect(JSON.stringify([...secrets.versions])).toBe(before);
  });

  it('removes the new secret when the record cannot be written', async () => {
    const { useCases, secrets, servicePrincipals } = setup();
    servicePrincipals.create = () => Promise.reject(new Error('cosmos down'));
    await expect(useCases.createServicePrincipal(secretInput(), ACTOR)).rejects.toThrow('cosmos down');
    expect(secrets.versions.size).toBe(0);
    expect(secrets.deleted).toHaveLength(1);
  });

  it('exports an input schema the API can reuse', () => {
    expect(createServicePrincipalInput.safeParse(secretInput()).success).toBe(true);
    expect(createServicePrincipalInput.safeParse({ ...secretInput(), extra: 1 }).success).toBe(false);
  });
});

describe('updateServicePrincipal', () => {
  it('rotates the secret as a new version under the same name and forgets tokens of the old credential', async () => {
    const { useCases, secrets, servicePrincipals } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    const before = servicePrincipals.records.get('contoso')!;
    servicePrincipals.records.set('contoso', {
      ...before,
      tokenCache: { keyId: 'k', iv: 'i', tag: 't', ciphertext: 'c' },
      tokenExpiresAt: '2026-11-22T11:00:00.000Z',
      validationError: { code: 'AADSTS7000222', message: 'expired', at: '2026-11-22T03:30:00.000Z' },
    });

    const updated = await useCases.updateServicePrincipal('contoso', { clientSecret: 'Q~new-secret' }, ACTOR);
    const after = servicePrincipals.records.get('contoso')!;
    const [oldRef, newRef] = [before, after].map((r) =>
      r.credential.kind === 'clientSecret' ? r.credential.secretRef : undefined,
    );
    expect(newRef?.name).toBe(oldRef?.name);
    expect(newRef?.version).not.toBe(oldRef?.version);
    expect((await secrets.get(newRef!.name))?.value).toBe('Q~new-secret');
    expect(after.tokenCache).toBeUndefined();
    expect(after.tokenExpiresAt).toBeUndefined();
    expect(after.validationError).toBeUndefined();
    expect(updated.audit.map((a) => a.action)).toEqual(['created', 'credential-rotated']);
    expect(JSON.stringify(after)).not.toContain('Q~new-secret');
  });

  it('switching from secret to certificate deletes the old secret', async () => {
    const { useCases, secrets, servicePrincipals } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    const oldRef = servicePrincipals.records.get('contoso')!.credential;
    const cert = makeCertificate();
    const updated = await useCases.updateServicePrincipal('Contoso', { certificate: { pem: cert.combinedPem } }, ACTOR);
    expect(updated.credential.kind).toBe('certificate');
    expect(oldRef.kind === 'clientSecret' && secrets.deleted).toEqual([
      oldRef.kind === 'clientSecret' ? oldRef.secretRef.name : '',
    ]);
  });

  it('keeps tokens when only descriptive fields change, and clears optional text with null', async () => {
    const { useCases, servicePrincipals } = setup();
    await useCases.createServicePrincipal(secretInput({ company: 'Contoso', description: 'Main tenant' }), ACTOR);
    const blob = { keyId: 'k', iv: 'i', tag: 't', ciphertext: 'c' };
    servicePrincipals.records.set('contoso', { ...servicePrincipals.records.get('contoso')!, tokenCache: blob });
    const updated = await useCases.updateServicePrincipal(
      'contoso',
      { description: null, company: 'Contoso EU' },
      ACTOR,
    );
    expect(updated).toMatchObject({ company: 'Contoso EU', hasTokenCache: true });
    expect(updated.description).toBeUndefined();
    expect(updated.audit.at(-1)).toMatchObject({ action: 'updated', message: 'Changed: company, description.' });
  });

  it('moves default endpoints with a new tenant or cloud, and re-validates entered ones', async () => {
    const { useCases } = setup(['127.0.0.1:8443']);
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    const other = '22222222-2222-3333-4444-555555555555';
    expect(await useCases.updateServicePrincipal('contoso', { tenantId: other }, ACTOR)).toMatchObject({
      authorityUrl: `https://login.microsoftonline.com/${other}`,
    });
    expect(await useCases.updateServicePrincipal('contoso', { cloud: 'usgov' }, ACTOR)).toMatchObject({
      cloud: 'usgov',
      authorityUrl: `https://login.microsoftonline.us/${other}`,
      graphApiEndpoint: 'https://graph.microsoft.us/v1.0',
      scopes: 'https://graph.microsoft.us/.default',
    });
    const error = await expectCode(
      useCases.updateServicePrincipal('contoso', { graphApiEndpoint: 'https://graph.evil.example/v1.0' }, ACTOR),
      'VALIDATION_FAILED',
    );
    expect(error.errors![0]!.field).toBe('graphApiEndpoint');
  });

  it('does not write a secret when the patch is invalid, and honours If-Match', async () => {
    const { useCases, secrets } = setup();
    const created = await useCases.createServicePrincipal(secretInput(), ACTOR);
    const versions = secrets.allValues().length;
    await expectCode(
      useCases.updateServicePrincipal('contoso', { clientSecret: 'new', authorityUrl: 'https://x.example/t' }, ACTOR),
      'VALIDATION_FAILED',
    );
    expect(secrets.allValues()).toHaveLength(versions);
    const stale = await expectCode(
      useCases.updateServicePrincipal('contoso', { enabled: false }, ACTOR, { ifMatch: '"old"' }),
      'CONFLICT',
    );
    expect(conflictReason(stale)).toBe('stale');
    expect(
      (await useCases.updateServicePrincipal('contoso', { enabled: false }, ACTOR, { ifMatch: created.etag! })).enabled,
    ).toBe(false);
    await expectCode(useCases.updateServicePrincipal('nope', { enabled: false }, ACTOR), 'NOT_FOUND');
  });
});

describe('deleteServicePrincipal, get, list', () => {
  it('refuses while accounts use it, then deletes the record and its secret', async () => {
    const { useCases, emailAccounts, secrets, servicePrincipals } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    emailAccounts.accounts.push({
      accountName: 'sales',
      emailAddress: 'sales@contoso.com',
      servicePrincipal: 'Contoso',
      enabled: true,
    });
    const error = await expectCode(useCases.deleteServicePrincipal('contoso'), 'CONFLICT');
    expect(conflictReason(error)).toBe('in-use');
    expect(error.details!['emailAccounts']).toBe(1);

    emailAccounts.accounts = [];
    await useCases.deleteServicePrincipal('contoso');
    expect(servicePrincipals.records.size()).toBe(0);
    expect(secrets.versions.size).toBe(0);
    await expectCode(useCases.deleteServicePrincipal('contoso'), 'NOT_FOUND');
  });

  it('get and list return public views only', async () => {
    const { useCases } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    await useCases.createServicePrincipal(secretInput({ servicePrincipalName: 'Beta', enabled: false }), ACTOR);
    const got = await useCases.getServicePrincipal('CONTOSO');
    expect(Object.keys(got)).not.toContain('tokenCache');
    expect(JSON.stringify(got)).not.toContain('secretRef');
    expect((await useCases.listServicePrincipals({ limit: 10 })).items.map((p) => p.servicePrincipalName)).toEqual([
      'Beta',
      'Contoso',
    ]);
    expect((await useCases.listServicePrincipals({ limit: 10 }, { enabled: true })).items).toHaveLength(1);
    await expectCode(useCases.getServicePrincipal('missing'), 'NOT_FOUND');
  });

  it('toPublicServicePrincipal strips the secret reference and token cache', async () => {
    const { useCases, servicePrincipals } = setup();
    await useCases.createServicePrincipal(secretInput(), ACTOR);
    const record = {
      ...servicePrincipals.records.get('contoso')!,
      tokenCache: { keyId: 'k', iv: 'i', tag: 't', ciphertext: 'CIPHERTEXT' },
    };
    const view = JSON.stringify(toPublicServicePrincipal(record));
    expect(view).not.toMatch(/CIPHERTEXT|secretRef|sp-[0-9a-f]{12}/);
    expect(view).toContain('"hasTokenCache":true');
  });
});
