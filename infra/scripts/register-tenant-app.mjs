#!/usr/bin/env node
// Creates the app registration m365-mail-sync uses to read mail in ONE Microsoft 365 tenant, with the Microsoft
// Graph application permissions it needs, and prints the body of `POST /api/service-principals` (see
// docs/tenant-onboarding.md). Run it signed in to that tenant as an admin who can grant consent:
//
//   az login --tenant <tenant id>
//   node infra/scripts/register-tenant-app.mjs --principal-name contoso [--read-write] [--send]
//        [--credential secret|certificate|federated] [--exchange-rbac] [--out contoso.json]
//
// Federated credentials (no secret at all): run it in the tenant of the deployment's managed identity with
//   --credential federated --managed-identity-client-id <guid> --managed-identity-principal-id <guid>
// (azd env get-value MANAGED_IDENTITY_CLIENT_ID / MANAGED_IDENTITY_PRINCIPAL_ID); the app is then created
// multi-tenant, and the printed admin-consent URL adds it to each other tenant.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  az,
  CliError,
  cloudEndpoints,
  currentAccount,
  GRAPH_APP_ID,
  run,
  say,
  withTempJson,
} from './lib/azure-cli.mjs';

const USAGE = `usage: node infra/scripts/register-tenant-app.mjs --principal-name <name> [options]
  --principal-name <name>   servicePrincipalName in m365-mail-sync (letters, digits, space . _ @ + ' -)
  --display-name <name>     app registration name (default: m365-mail-sync)
  --tenant-name <name>      friendly tenant name for the API (optional)
  --read-write              also Mail.ReadWrite (only to write read state back to Microsoft 365)
  --send                    also Mail.Send (only to send mail as the synced mailboxes)
  --credential <kind>       secret (default) | certificate | federated
  --secret-years <n>        lifetime of a secret or certificate, 1 or 2 (default 1)
  --managed-identity-client-id <guid>     federated: client id of the function app's identity
  --managed-identity-principal-id <guid>  federated: its principal (object) id, the credential's subject
  --exchange-rbac           consent only User.Read.All in Entra ID; grant the mail permissions per mailbox
                            scope with Exchange Online RBAC for Applications (commands are printed)
  --no-admin-consent        do not grant admin consent now (an admin-consent URL is printed)
  --cloud <cloud>           global | usgov | usgovdod | china (default: from the CLI's cloud)
  --out <file>              write the request body to this file (mode 600) instead of stdout`;

/** Why each Graph application permission is requested (docs/tenant-onboarding.md has the long version). */
const PERMISSION_REASONS = {
  'Mail.Read': 'read messages, folders and attachments (delta sync)',
  'MailboxSettings.Read': 'tell shared mailboxes from user mailboxes (userPurpose)',
  'User.Read.All': 'resolve mailbox addresses to users and check they exist',
  'Mail.ReadWrite': 'write read state back to Microsoft 365',
  'Mail.Send': 'send mail as a synced mailbox',
};
const MAILBOX_PERMISSIONS = ['Mail.Read', 'MailboxSettings.Read', 'Mail.ReadWrite', 'Mail.Send'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLOUD_BY_CLI_NAME = { AzureCloud: 'global', AzureUSGovernment: 'usgov', AzureChinaCloud: 'china' };

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'principal-name': { type: 'string' },
        'display-name': { type: 'string', default: 'm365-mail-sync' },
        'tenant-name': { type: 'string' },
        'read-write': { type: 'boolean', default: false },
        send: { type: 'boolean', default: false },
        credential: { type: 'string', default: 'secret' },
        'secret-years': { type: 'string', default: '1' },
        'managed-identity-client-id': { type: 'string' },
        'managed-identity-principal-id': { type: 'string' },
        'exchange-rbac': { type: 'boolean', default: false },
        'no-admin-consent': { type: 'boolean', default: false },
        cloud: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new CliError(`${error.message}\n${USAGE}`);
  }
  if (parsed.help) {
    say(USAGE);
    process.exit(0);
  }
  const problems = [];
  if (!parsed['principal-name'] || !/^[A-Za-z0-9][A-Za-z0-9@._+' -]*$/.test(parsed['principal-name'])) {
    problems.push("--principal-name is required (letters, digits, space . _ @ + ' -)");
  }
  if (!['secret', 'certificate', 'federated'].includes(parsed.credential)) {
    problems.push('--credential must be secret, certificate or federated');
  }
  if (!['1', '2'].includes(parsed['secret-years'])) problems.push('--secret-years must be 1 or 2');
  if (parsed.cloud && !['global', 'usgov', 'usgovdod', 'china'].includes(parsed.cloud)) {
    problems.push('--cloud must be global, usgov, usgovdod or china');
  }
  if (parsed.credential === 'federated') {
    for (const name of ['managed-identity-client-id', 'managed-identity-principal-id']) {
      if (!GUID.test(parsed[name] ?? '')) problems.push(`--${name} must be a GUID with --credential federated`);
    }
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\n${USAGE}`);
  return parsed;
}

function main() {
  const opts = options();
  const account = currentAccount();
  const tenantId = account.tenantId;
  const endpoints = cloudEndpoints();
  const cloud = opts.cloud ?? CLOUD_BY_CLI_NAME[endpoints.name] ?? 'global';
  const federated = opts.credential === 'federated';
  say(`Tenant ${tenantId} (${endpoints.name}), signed in as ${account.user?.name ?? 'unknown'}`);

  // 1. The app registration. Federated credentials trust a managed identity of THIS tenant; other tenants
  //    reach it as a multi-tenant app with admin consent.
  const app = az([
    'ad',
    'app',
    'create',
    '--display-name',
    opts['display-name'],
    '--sign-in-audience',
    federated ? 'AzureADMultipleOrgs' : 'AzureADMyOrg',
  ]);
  say(`Created app registration ${opts['display-name']}: client id ${app.appId}`);

  // 2. Graph application permissions, looked up by name in the Graph service principal of this tenant.
  const wanted = ['Mail.Read', 'MailboxSettings.Read', 'User.Read.All'];
  if (opts['read-write']) wanted.push('Mail.ReadWrite');
  if (opts.send) wanted.push('Mail.Send');
  const inEntra = opts['exchange-rbac'] ? wanted.filter((p) => !MAILBOX_PERMISSIONS.includes(p)) : wanted;
  const inExchange = opts['exchange-rbac'] ? wanted.filter((p) => MAILBOX_PERMISSIONS.includes(p)) : [];
  const graphRoles = az(['ad', 'sp', 'show', '--id', GRAPH_APP_ID, '--query', 'appRoles']);
  const roleIds = inEntra.map((permission) => {
    const role = graphRoles.find((r) => r.value === permission && r.allowedMemberTypes?.includes('Application'));
    if (!role) throw new CliError(`Microsoft Graph has no application permission ${permission} in this cloud`);
    return `${role.id}=Role`;
  });
  az(['ad', 'app', 'permission', 'add', '--id', app.appId, '--api', GRAPH_APP_ID, '--api-permissions', ...roleIds], {
    json: false,
  });
  for (const permission of inEntra) say(`  + ${permission} (application): ${PERMISSION_REASONS[permission]}`);

  // 3. The enterprise application (service principal) in this tenant.
  const sp = az(['ad', 'sp', 'create', '--id', app.appId]);

  // 4. Admin consent for the application permissions.
  const consentUrl = `${endpoints.login}/${tenantId}/adminconsent?client_id=${app.appId}`;
  if (opts['no-admin-consent']) {
    say(`Admin consent not granted. An admin grants it at: ${consentUrl}`);
  } else {
    try {
      az(['ad', 'app', 'permission', 'admin-consent', '--id', app.appId], { json: false });
      say('Granted admin consent.');
    } catch (error) {
      say(`Could not grant admin consent (${error.message}).`);
      say(`A Global Administrator or Privileged Role Administrator grants it at: ${consentUrl}`);
    }
  }

  // 5. The credential m365-mail-sync signs in with.
  const body = {
    servicePrincipalName: opts['principal-name'],
    tenantId,
    ...(opts['tenant-name'] ? { tenantName: opts['tenant-name'] } : {}),
    clientId: app.appId,
    cloud,
    description: `App registration ${opts['display-name']} (${wanted.join(', ')})`,
  };
  if (opts.credential === 'secret') {
    // An explicit end date, so that m365-mail-sync knows it and warns 30 days before the secret expires.
    const now = new Date();
    const expiresAt = new Date(
      Date.UTC(now.getUTCFullYear() + Number(opts['secret-years']), now.getUTCMonth(), now.getUTCDate()),
    )
      .toISOString()
      .replace('.000Z', 'Z');
    const secret = az([
      'ad',
      'app',
      'credential',
      'reset',
      '--id',
      app.appId,
      '--append',
      '--display-name',
      'm365-mail-sync',
      '--end-date',
      expiresAt,
    ]);
    body.clientSecret = secret.password;
    body.clientSecretExpiresAt = expiresAt;
    say(`Created a client secret that expires ${expiresAt}: rotate it before then.`);
  } else if (opts.credential === 'certificate') {
    const cert = az([
      'ad',
      'app',
      'credential',
      'reset',
      '--id',
      app.appId,
      '--append',
      '--create-cert',
      '--years',
      opts['secret-years'],
    ]);
    body.certificate = { pem: readFileSync(cert.fileWithCertAndPrivateKey, 'utf8') };
    say(`Created a self-signed certificate; the PEM (private key included) is ${cert.fileWithCertAndPrivateKey}.`);
    say('Delete that file once the principal is registered: Key Vault keeps the copy m365-mail-sync uses.');
  } else {
    withTempJson(
      {
        name: 'm365-mail-sync-managed-identity',
        issuer: `${endpoints.login}/${tenantId}/v2.0`,
        subject: opts['managed-identity-principal-id'],
        audiences: ['api://AzureADTokenExchange'],
        description: 'The m365-mail-sync function app signs in with its managed identity (no secret).',
      },
      (file) => az(['ad', 'app', 'federated-credential', 'create', '--id', app.appId, '--parameters', `@${file}`]),
    );
    body.federated = { managedIdentityClientId: opts['managed-identity-client-id'] };
    say("Added a federated credential trusting the function app's managed identity.");
    say(
      `For another tenant, its admin consents at ${endpoints.login}/<other tenant id>/adminconsent?client_id=${app.appId}`,
    );
    say('and registers a principal with that tenantId and the same clientId and federated block.');
  }

  // 6. What is left to do, then the body.
  if (inExchange.length > 0) {
    say('');
    say('Scope mailbox access in Exchange Online PowerShell (Connect-ExchangeOnline as an Exchange admin):');
    say(`  New-ServicePrincipal -AppId ${app.appId} -ObjectId ${sp.id} -DisplayName "${opts['display-name']}"`);
    say(`  New-DistributionGroup -Name "m365-mail-sync mailboxes" -Type Security -Members <mailbox@contoso.com>`);
    say(`  $group = Get-DistributionGroup "m365-mail-sync mailboxes"`);
    say(
      `  New-ManagementScope -Name "m365-mail-sync mailboxes" -RecipientRestrictionFilter "MemberOfGroup -eq '$($group.DistinguishedName)'"`,
    );
    for (const permission of inExchange) {
      say(
        `  New-ManagementRoleAssignment -App ${sp.id} -Role "Application ${permission}" -CustomResourceScope "m365-mail-sync mailboxes"`,
      );
    }
    say(`  Test-ServicePrincipalAuthorization -Identity ${sp.id} -Resource <mailbox@contoso.com>`);
  }
  say('');
  say('Register the principal with m365-mail-sync (a System Manager token), then test it:');
  say('  curl -sS -X POST "$API_BASE_URL/service-principals" -H "Authorization: Bearer $TOKEN" \\');
  say(`       -H "Content-Type: application/json" --data @${opts.out ?? '<this body>.json'}`);
  say(
    `  curl -sS -X POST "$API_BASE_URL/service-principals/${encodeURIComponent(opts['principal-name'])}/test" -H "Authorization: Bearer $TOKEN"`,
  );

  const text = `${JSON.stringify(body, null, 2)}\n`;
  if (opts.out) {
    writeFileSync(opts.out, text, { mode: 0o600 });
    chmodSync(opts.out, 0o600);
    say(`Wrote the request body to ${opts.out} (it holds the credential: delete it after registering).`);
  } else {
    process.stdout.write(text);
  }
}

run(main);
