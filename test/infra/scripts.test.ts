/**
 * The scripts in infra/scripts, run for real as child processes. The Azure CLI is replaced by a small fake
 * `az` on PATH that records every call (and the JSON files passed as @file) and answers like the real one.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServicePrincipalInput } from '../../shared/domain/identity/service-principal-input';

const ROOT = path.resolve(__dirname, '..', '..');
/** The scripts run with the caller's environment, minus the test stack's TLS setting (a relative path). */
const { NODE_EXTRA_CA_CERTS: _testCa, ...BASE_ENV } = process.env;
const TENANT_ID = '0f0f0f0f-1111-4222-8333-444444444444';
const APP_ID = '12121212-3434-4565-8787-909090909090';
const MI_CLIENT_ID = 'abababab-cdcd-4efe-8fef-010101010101';
const MI_PRINCIPAL_ID = 'cdcdcdcd-efef-4010-8101-020202020202';
const SECRET = 'fake-secret-value-from-az';
const GRAPH_ROLES = [
  { value: 'Mail.Read', id: '810c84a8-4a9e-49e6-bf7d-12d183f40d01', allowedMemberTypes: ['Application'] },
  { value: 'Mail.ReadWrite', id: 'e2a3a72e-5f79-4c64-b1b1-878b674786c9', allowedMemberTypes: ['Application'] },
  { value: 'Mail.Send', id: 'b633e1c5-b582-4048-a93e-9f11b44c7e96', allowedMemberTypes: ['Application'] },
  { value: 'User.Read.All', id: 'df021288-bdef-4463-88db-98f22de89214', allowedMemberTypes: ['Application'] },
  { value: 'MailboxSettings.Read', id: '40f97065-369a-49f4-947c-6a255697ae91', allowedMemberTypes: ['Application'] },
];

/** A fake `az`: appends `{ args, file? }` to $FAKE_AZ_LOG and prints what the real CLI would. */
const FAKE_AZ = `#!/usr/bin/env node
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const entry = { args };
const at = args.find((a) => a.startsWith('@'));
if (at) entry.file = JSON.parse(fs.readFileSync(at.slice(1), 'utf8'));
fs.appendFileSync(process.env.FAKE_AZ_LOG, JSON.stringify(entry) + '\\n');
const words = args.filter((a) => !a.startsWith('-')).slice(0, 5).join(' ');
const out = (value) => process.stdout.write(JSON.stringify(value));
if (words.startsWith('account show')) out({ tenantId: '${TENANT_ID}', user: { name: 'admin@contoso.com' } });
else if (words.startsWith('cloud show')) out({ name: 'AzureCloud', endpoints: { activeDirectory: 'https://login.microsoftonline.com', microsoftGraphResourceId: 'https://graph.microsoft.com/' } });
else if (words.startsWith('ad app create')) out({ appId: '${APP_ID}', id: 'app-object-id' });
else if (words.startsWith('ad sp show')) out(${JSON.stringify(GRAPH_ROLES)});
else if (words.startsWith('ad sp create')) out({ id: 'sp-object-id', appId: '${APP_ID}' });
else if (words.startsWith('ad app permission admin-consent') && process.env.FAKE_AZ_CONSENT_FAILS) {
  process.stderr.write('Insufficient privileges to complete the operation.');
  process.exit(1);
} else if (words.startsWith('ad app credential reset')) {
  if (args.includes('--create-cert')) {
    const file = path.join(path.dirname(process.env.FAKE_AZ_LOG), 'cert.pem');
    fs.writeFileSync(file, '-----BEGIN PRIVATE KEY-----\\nfake\\n-----END PRIVATE KEY-----\\n-----BEGIN CERTIFICATE-----\\nfake\\n-----END CERTIFICATE-----\\n');
    out({ appId: '${APP_ID}', fileWithCertAndPrivateKey: file, password: null, tenant: '${TENANT_ID}' });
  } else out({ appId: '${APP_ID}', password: '${SECRET}', tenant: '${TENANT_ID}' });
} else if (words.startsWith('ad app federated-credential create')) out({ name: 'x' });
`;

interface AzCall {
  args: string[];
  file?: Record<string, unknown>;
}

function runScript(script: string, args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-az-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'az'), FAKE_AZ);
  chmodSync(path.join(bin, 'az'), 0o755);
  const log = path.join(dir, 'az.log');
  writeFileSync(log, '');
  const result = spawnSync(process.execPath, [path.join(ROOT, 'infra', 'scripts', script), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...BASE_ENV, PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}`, FAKE_AZ_LOG: log, ...env },
  });
  const calls = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AzCall);
  const call = (prefix: string) => calls.find((c) => c.args.join(' ').startsWith(prefix));
  return { ...result, calls, call, dir };
}

/** The Graph permissions a run added, by name. */
function addedPermissions(call: AzCall | undefined): string[] {
  if (!call) return [];
  const ids = call.args.filter((a) => a.endsWith('=Role')).map((a) => a.replace('=Role', ''));
  return ids.map((id) => GRAPH_ROLES.find((r) => r.id === id)!.value).sort();
}

describe('infra/scripts/register-tenant-app.mjs', () => {
  it('creates a single-tenant app with the read permissions, consents, and prints the API body with a secret', () => {
    const run = runScript('register-tenant-app.mjs', ['--principal-name', 'contoso', '--tenant-name', 'Contoso']);
    expect(run.stderr).not.toContain('error:');
    expect(run.status).toBe(0);
    expect(run.call('ad app create')!.args).toEqual(expect.arrayContaining(['--sign-in-audience', 'AzureADMyOrg']));
    expect(addedPermissions(run.call('ad app permission add'))).toEqual([
      'Mail.Read',
      'MailboxSettings.Read',
      'User.Read.All',
    ]);
    expect(run.call('ad app permission add')!.args).toEqual(
      expect.arrayContaining(['--api', '00000003-0000-0000-c000-000000000000']),
    );
    expect(run.call('ad sp create')).toBeDefined();
    expect(run.call('ad app permission admin-consent')).toBeDefined();
    const reset = run.call('ad app credential reset')!.args;
    const expiresAt = reset[reset.indexOf('--end-date') + 1]!;
    const inAYear = new Date();
    inAYear.setUTCFullYear(inAYear.getUTCFullYear() + 1);
    expect(expiresAt).toBe(`${inAYear.toISOString().slice(0, 10)}T00:00:00Z`);
    expect(reset).toContain('--append');
    expect(JSON.parse(run.stdout)).toEqual({
      servicePrincipalName: 'contoso',
      tenantId: TENANT_ID,
      tenantName: 'Contoso',
      clientId: APP_ID,
      cloud: 'global',
      description: 'App registration m365-mail-sync (Mail.Read, MailboxSettings.Read, User.Read.All)',
      clientSecret: SECRET,
      clientSecretExpiresAt: expiresAt,
    });
    expect(createServicePrincipalInput.safeParse(JSON.parse(run.stdout)).error).toBeUndefined();
    expect(run.stderr).not.toContain(SECRET);
    expect(run.stderr).toContain('/service-principals/contoso/test');
  });

  it('adds Mail.ReadWrite and Mail.Send only when asked', () => {
    const run = runScript('register-tenant-app.mjs', ['--principal-name', 'contoso', '--read-write', '--send']);
    expect(run.status).toBe(0);
    expect(addedPermissions(run.call('ad app permission add'))).toEqual([
      'Mail.Read',
      'Mail.ReadWrite',
      'Mail.Send',
      'MailboxSettings.Read',
      'User.Read.All',
    ]);
  });

  it('with --exchange-rbac consents only User.Read.All and prints the scoped Exchange role assignments', () => {
    const run = runScript('register-tenant-app.mjs', [
      '--principal-name',
      'contoso',
      '--exchange-rbac',
      '--read-write',
    ]);
    expect(run.status).toBe(0);
    expect(addedPermissions(run.call('ad app permission add'))).toEqual(['User.Read.All']);
    expect(run.stderr).toContain(`New-ServicePrincipal -AppId ${APP_ID} -ObjectId sp-object-id`);
    for (const role of ['Mail.Read', 'MailboxSettings.Read', 'Mail.ReadWrite']) {
      expect(run.stderr).toContain(
        `New-ManagementRoleAssignment -App sp-object-id -Role "Application ${role}" -CustomResourceScope "m365-mail-sync mailboxes"`,
      );
    }
    expect(run.stderr).not.toContain('"Application Mail.Send"');
  });

  it('with a federated credential trusts the managed identity, creates a multi-tenant app and no secret', () => {
    const run = runScript('register-tenant-app.mjs', [
      '--principal-name',
      'contoso',
      '--credential',
      'federated',
      '--managed-identity-client-id',
      MI_CLIENT_ID,
      '--managed-identity-principal-id',
      MI_PRINCIPAL_ID,
    ]);
    expect(run.status).toBe(0);
    expect(run.call('ad app create')!.args).toEqual(
      expect.arrayContaining(['--sign-in-audience', 'AzureADMultipleOrgs']),
    );
    expect(run.call('ad app federated-credential create')!.file).toEqual(
      expect.objectContaining({
        issuer: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
        subject: MI_PRINCIPAL_ID,
        audiences: ['api://AzureADTokenExchange'],
      }),
    );
    expect(run.call('ad app credential reset')).toBeUndefined();
    const body = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(body['federated']).toEqual({ managedIdentityClientId: MI_CLIENT_ID });
    expect(body['clientSecret']).toBeUndefined();
    expect(createServicePrincipalInput.safeParse(body).error).toBeUndefined();
    expect(run.stderr).toContain(`adminconsent?client_id=${APP_ID}`);
  });

  it('with a certificate puts the PEM from az into the body', () => {
    const run = runScript('register-tenant-app.mjs', ['--principal-name', 'contoso', '--credential', 'certificate']);
    expect(run.status).toBe(0);
    expect(run.call('ad app credential reset')!.args).toContain('--create-cert');
    const body = JSON.parse(run.stdout) as { certificate: { pem: string } };
    expect(body.certificate.pem).toContain('-----BEGIN CERTIFICATE-----');
    expect(createServicePrincipalInput.safeParse(body).error).toBeUndefined();
  });

  it('with --out writes the body to a private file and prints nothing secret', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'body-')), 'contoso.json');
    const run = runScript('register-tenant-app.mjs', ['--principal-name', 'contoso', '--out', out]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { clientSecret: string }).clientSecret).toBe(SECRET);
    if (process.platform !== 'win32') expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('when consent cannot be granted, prints the admin-consent URL and still finishes', () => {
    const run = runScript('register-tenant-app.mjs', ['--principal-name', 'contoso'], { FAKE_AZ_CONSENT_FAILS: '1' });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`https://login.microsoftonline.com/${TENANT_ID}/adminconsent?client_id=${APP_ID}`);
  });

  it('rejects bad arguments before calling Azure', () => {
    const run = runScript('register-tenant-app.mjs', [
      '--credential',
      'federated',
      '--managed-identity-client-id',
      'nope',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--principal-name is required');
    expect(run.stderr).toContain('--managed-identity-client-id must be a GUID');
    expect(run.calls).toEqual([]);
  });
});

describe('infra/scripts/register-api-app.mjs', () => {
  it('creates the API app registration with the SystemManager and InboxUser roles and v2.0 tokens', () => {
    const run = runScript('register-api-app.mjs', []);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(APP_ID);
    const patches = run.calls.filter((c) => c.args.join(' ').startsWith('rest --method PATCH'));
    expect(patches).toHaveLength(2);
    for (const patch of patches) {
      expect(patch.args).toEqual(
        expect.arrayContaining(['--uri', 'https://graph.microsoft.com/v1.0/applications/app-object-id']),
      );
    }
    const body = patches[0]!.file as {
      identifierUris: string[];
      appRoles: { value: string; allowedMemberTypes: string[] }[];
      api: { requestedAccessTokenVersion: number; oauth2PermissionScopes: { value: string; id: string }[] };
    };
    expect(body.identifierUris).toEqual([`api://${APP_ID}`]);
    expect(body.appRoles.map((r) => r.value)).toEqual(['SystemManager', 'InboxUser']);
    expect(body.api.requestedAccessTokenVersion).toBe(2);
    expect(body.api.oauth2PermissionScopes.map((s) => s.value)).toEqual(['access_as_user']);
    // The Azure CLI (04b07795-...) is pre-authorized for that scope, so admins can get tokens for curl.
    expect(patches[1]!.file).toEqual({
      api: {
        preAuthorizedApplications: [
          {
            appId: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
            delegatedPermissionIds: [body.api.oauth2PermissionScopes[0]!.id],
          },
        ],
      },
    });
    expect(run.stderr).toContain(`azd env set API_AUTH_AUDIENCE ${APP_ID}`);
  });
});

describe('infra/scripts/stage-function-package.mjs', () => {
  /** A project with compiled output, a dev-only and a production dependency tree. */
  function fakeProject(): string {
    const root = mkdtempSync(path.join(tmpdir(), 'stage-'));
    const write = (file: string, text = '') => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    };
    write('host.json', '{}');
    write('package.json', '{"name":"app","main":"dist/functions/*.js"}');
    write(
      'package-lock.json',
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'app' },
          'node_modules/prod-a': { version: '1.0.0' },
          'node_modules/prod-a/node_modules/nested-prod': { version: '1.0.0' },
          'node_modules/@scope/prod-b': { version: '1.0.0' },
          'node_modules/dev-only': { version: '1.0.0', dev: true },
          'node_modules/other-platform': { version: '1.0.0', optional: true },
          'node_modules/dev-optional': { version: '1.0.0', devOptional: true },
        },
      }),
    );
    write('dist/functions/sync.js', 'exports.x = 1;');
    write('dist/functions/sync.js.map', '{}');
    write('dist/shared/config.js', '');
    write('dist/shared/config.d.ts', '');
    write('dist/dev/start.js', '');
    write('dist/test/a.test.js', '');
    write('node_modules/prod-a/index.js', '');
    write('node_modules/prod-a/node_modules/nested-prod/index.js', '');
    write('node_modules/@scope/prod-b/index.js', '');
    write('node_modules/dev-only/index.js', '');
    write('node_modules/dev-optional/index.js', '');
    write('src-not-shipped.ts', '');
    return root;
  }

  function stage(root: string) {
    const out = path.join(root, '.local', 'azd-package');
    const result = spawnSync(
      process.execPath,
      [path.join(ROOT, 'infra', 'scripts', 'stage-function-package.mjs'), '--root', root],
      { encoding: 'utf8', env: BASE_ENV },
    );
    const has = (file: string) => existsSync(path.join(out, file));
    return { ...result, has };
  }

  it('stages compiled code, host.json and the production dependencies only', () => {
    const run = stage(fakeProject());
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Staged \.local\/azd-package: 3 production packages/);
    for (const file of [
      'host.json',
      'package.json',
      'package-lock.json',
      'dist/functions/sync.js',
      'dist/shared/config.js',
    ]) {
      expect({ file, staged: run.has(file) }).toEqual({ file, staged: true });
    }
    for (const file of [
      'node_modules/prod-a/index.js',
      'node_modules/prod-a/node_modules/nested-prod/index.js',
      'node_modules/@scope/prod-b/index.js',
    ]) {
      expect({ file, staged: run.has(file) }).toEqual({ file, staged: true });
    }
    for (const file of [
      'dist/dev/start.js',
      'dist/test/a.test.js',
      'dist/functions/sync.js.map',
      'dist/shared/config.d.ts',
      'node_modules/dev-only',
      'node_modules/dev-optional',
      'src-not-shipped.ts',
    ]) {
      expect({ file, staged: run.has(file) }).toEqual({ file, staged: false });
    }
  });

  it('fails clearly when the project is not built or a production dependency is missing', () => {
    const unbuilt = fakeProject();
    rmSync(path.join(unbuilt, 'dist'), { recursive: true });
    const notBuilt = stage(unbuilt);
    expect(notBuilt.status).toBe(1);
    expect(notBuilt.stderr).toContain('run "npm run build" first');

    const missing = fakeProject();
    rmSync(path.join(missing, 'node_modules', 'prod-a'), { recursive: true });
    const notInstalled = stage(missing);
    expect(notInstalled.status).toBe(1);
    expect(notInstalled.stderr).toContain('production dependency node_modules/prod-a is not installed');
  });
});
