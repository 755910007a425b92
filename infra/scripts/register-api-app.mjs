#!/usr/bin/env node
// Creates the app registration that protects the m365-mail-sync HTTP API (in the tenant you deploy to):
// app roles SystemManager and InboxUser, a delegated scope access_as_user for the portal, and v2.0 access
// tokens. It prints the API_AUTH_AUDIENCE value for `azd env set` (see docs/deploy.md).
//
//   az login --tenant <tenant id>
//   node infra/scripts/register-api-app.mjs [--display-name m365-mail-sync-api]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { az, CliError, cloudEndpoints, currentAccount, run, say, withTempJson } from './lib/azure-cli.mjs';

/** The Azure CLI's public client id (the same in every tenant). */
const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

/** The app roles the API checks in the caller's token (`roles` claim). */
const APP_ROLES = [
  {
    value: 'SystemManager',
    displayName: 'System Manager',
    description: 'Configure tenants (service principals), shared mailboxes and every account; read all mail.',
  },
  {
    value: 'InboxUser',
    displayName: 'Inbox User',
    description: 'Read and manage the mail of shared mailboxes synced by m365-mail-sync.',
  },
];

function main() {
  let opts;
  try {
    opts = parseArgs({
      options: { 'display-name': { type: 'string', default: 'm365-mail-sync-api' }, help: { type: 'boolean' } },
    }).values;
  } catch (error) {
    throw new CliError(error.message);
  }
  if (opts.help) {
    say('usage: node infra/scripts/register-api-app.mjs [--display-name <name>]');
    return;
  }
  const account = currentAccount();
  const endpoints = cloudEndpoints();

  const app = az(['ad', 'app', 'create', '--display-name', opts['display-name'], '--sign-in-audience', 'AzureADMyOrg']);
  say(`Created app registration ${opts['display-name']}: client id ${app.appId}`);

  const patchApplication = (body) =>
    withTempJson(body, (file) =>
      az(
        [
          'rest',
          '--method',
          'PATCH',
          '--uri',
          `${endpoints.graph}/v1.0/applications/${app.id}`,
          '--headers',
          'Content-Type=application/json',
          '--body',
          `@${file}`,
        ],
        { json: false },
      ),
    );

  // Roles, the delegated scope, the identifier URI and v2.0 tokens (aud = this client id).
  const scopeId = randomUUID();
  patchApplication({
    identifierUris: [`api://${app.appId}`],
    appRoles: APP_ROLES.map((role) => ({
      id: randomUUID(),
      allowedMemberTypes: ['User', 'Application'],
      isEnabled: true,
      ...role,
    })),
    api: {
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [
        {
          id: scopeId,
          value: 'access_as_user',
          type: 'User',
          isEnabled: true,
          adminConsentDisplayName: 'Use m365-mail-sync',
          adminConsentDescription: 'Lets the portal call the m365-mail-sync API as the signed-in user.',
          userConsentDisplayName: 'Use m365-mail-sync',
          userConsentDescription: 'Lets the portal call the m365-mail-sync API as you.',
        },
      ],
    },
  });
  // The Azure CLI may ask for that scope without a consent prompt, so admins can call the API with
  // `az account get-access-token --scope api://<client id>/access_as_user` (their roles still apply).
  // A second PATCH: the scope must exist before it can be pre-authorized.
  patchApplication({
    api: { preAuthorizedApplications: [{ appId: AZURE_CLI_APP_ID, delegatedPermissionIds: [scopeId] }] },
  });
  const sp = az(['ad', 'sp', 'create', '--id', app.appId]);
  say('Added app roles SystemManager and InboxUser, scope access_as_user, v2.0 access tokens.');
  say('');
  say('Next:');
  say(`  azd env set API_AUTH_AUDIENCE ${app.appId}`);
  say(`  (issuer: ${endpoints.login}/${account.tenantId}/v2.0, the deployment's default)`);
  say(
    '  Assign roles: Entra admin center > Enterprise applications > ' + opts['display-name'] + ' > Users and groups,',
  );
  say(`  or: az rest --method POST --uri ${endpoints.graph}/v1.0/servicePrincipals/${sp.id}/appRoleAssignedTo \\`);
  say(`       --body '{"principalId":"<user or group object id>","resourceId":"${sp.id}","appRoleId":"<role id>"}'`);
  say(`  Role ids: az ad app show --id ${app.appId} --query "appRoles[].{value:value,id:id}"`);
  say(
    `  A token for curl: az account get-access-token --scope api://${app.appId}/access_as_user --query accessToken -o tsv`,
  );
  process.stdout.write(`${app.appId}\n`);
}

run(main);
