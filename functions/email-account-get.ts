/** `GET /api/email-accounts/{name}`: one email account (404 when the caller may not see it). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { getVisibleAccount } from '../shared/api/email-accounts';
import { accountNameParams, emailAccountView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountGet = defineRoute(
  {
    name: 'email-account-get',
    method: 'GET',
    route: 'email-accounts/{name}',
    auth: 'user',
    params: accountNameParams,
    responses: { 200: emailAccountView },
    summary: 'Get an email account',
    tags: ['Email accounts'],
  },
  async ({ params }, principal) => {
    const account = await getVisibleAccount(apiDependencies().repositories, principal, params.name);
    return ok(account, account.etag ? { ETag: account.etag } : undefined);
  },
);

export const handler = emailAccountGet.handler;
app.http(emailAccountGet.name, emailAccountGet.options);
