/** `GET /api/email-accounts/{name}/folders`: the folders available in the account's mailbox (from Microsoft Graph). */
import { app } from '@azure/functions';
import { syncServices } from '../shared/adapters/sync-factory';
import { apiDependencies } from '../shared/api/dependencies';
import { listMailboxFolders } from '../shared/api/mailbox-reads';
import { accountNameParams, mailboxFolderListView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountFoldersList = defineRoute(
  {
    name: 'email-account-folders-list',
    method: 'GET',
    route: 'email-accounts/{name}/folders',
    auth: 'user',
    params: accountNameParams,
    responses: { 200: mailboxFolderListView },
    errors: ['CREDENTIAL_REJECTED', 'RATE_LIMITED', 'DEPENDENCY_UNAVAILABLE'],
    summary: "List the mailbox's folders",
    description:
      'Every folder of the mailbox, read from Microsoft 365 now, sorted by path, with whether it is synced. ' +
      'Use the paths in `PUT /api/email-accounts/{name}/folders`. Visible to whoever may read the account.',
    tags: ['Email accounts'],
  },
  async ({ params }, principal) => {
    const items = await listMailboxFolders(apiDependencies().repositories, syncServices(), principal, params.name);
    return ok({ items });
  },
);

export const handler = emailAccountFoldersList.handler;
app.http(emailAccountFoldersList.name, emailAccountFoldersList.options);
