/** `PATCH /api/email-accounts/{name}`: change an account's settings (its user or a System Manager). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { updateEmailAccount } from '../shared/api/email-accounts';
import { accountNameParams, emailAccountPatchBody, emailAccountView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountUpdate = defineRoute(
  {
    name: 'email-account-update',
    method: 'PATCH',
    route: 'email-accounts/{name}',
    auth: 'user',
    params: accountNameParams,
    body: emailAccountPatchBody,
    responses: { 200: emailAccountView },
    errors: ['CONFLICT'],
    summary: 'Change an email account',
    description:
      'Users change their own user mailbox accounts; only System Managers change shared mailboxes. ' +
      'Send `If-Match` with the `etag` to make the change conditional.',
    tags: ['Email accounts'],
  },
  async ({ params, body, headers }, principal) => {
    const { repositories } = apiDependencies();
    const account = await updateEmailAccount(repositories, principal, params.name, body, headers.get('if-match'));
    return ok(account, account.etag ? { ETag: account.etag } : undefined);
  },
);

export const handler = emailAccountUpdate.handler;
app.http(emailAccountUpdate.name, emailAccountUpdate.options);
