/** `POST /api/email-accounts/enable-sync`: sync the caller's own mailbox (creates or re-enables its account). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { enableSync } from '../shared/api/email-accounts';
import { emailAccountView, enableSyncBody } from '../shared/api/schemas';
import { created, defineRoute, jsonResponse, ok } from '../shared/http/route';

export const emailAccountsEnableSync = defineRoute(
  {
    name: 'email-accounts-enable-sync',
    method: 'POST',
    route: 'email-accounts/enable-sync',
    auth: 'user',
    body: enableSyncBody,
    responses: {
      200: jsonResponse(emailAccountView, 'Your existing account, enabled again.'),
      201: jsonResponse(emailAccountView, 'The new account.'),
    },
    errors: ['CONFLICT'],
    summary: 'Enable sync of your own mailbox',
    description:
      '`emailAddress` defaults to, and must be, your own address. The service principal must exist and be ' +
      'enabled. The account is named `M365-{emailAddress}` unless `accountName` is given.',
    tags: ['Email accounts'],
  },
  async ({ body }, principal) => {
    const { account, created: isNew } = await enableSync(apiDependencies().repositories, principal, body);
    const headers = { Location: `/api/email-accounts/${encodeURIComponent(account.accountName)}` };
    return isNew ? created(account, headers) : ok(account, headers);
  },
);

export const handler = emailAccountsEnableSync.handler;
app.http(emailAccountsEnableSync.name, emailAccountsEnableSync.options);
