/** `DELETE /api/email-accounts/{name}`: stop syncing and delete the account (its communications stay). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { deleteEmailAccount } from '../shared/api/email-accounts';
import { accountNameParams } from '../shared/api/schemas';
import { defineRoute, emptyResponse, noContent } from '../shared/http/route';

export const emailAccountDelete = defineRoute(
  {
    name: 'email-account-delete',
    method: 'DELETE',
    route: 'email-accounts/{name}',
    auth: 'user',
    params: accountNameParams,
    responses: { 204: emptyResponse('Deleted.') },
    errors: ['CONFLICT'],
    summary: 'Delete an email account',
    description: 'Synced communications are kept. Send `If-Match` with the `etag` to make the delete conditional.',
    tags: ['Email accounts'],
  },
  async ({ params, headers }, principal) => {
    await deleteEmailAccount(apiDependencies().repositories, principal, params.name, headers.get('if-match'));
    return noContent();
  },
);

export const handler = emailAccountDelete.handler;
app.http(emailAccountDelete.name, emailAccountDelete.options);
