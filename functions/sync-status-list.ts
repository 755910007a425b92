/** `GET /api/sync-status`: the sync status of each email account you may see (every account for System Managers). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { syncStatusView } from '../shared/api/schemas';
import { listSyncStatus } from '../shared/api/sync-control';
import { listEnvelope, pageQuery, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const syncStatusList = defineRoute(
  {
    name: 'sync-status-list',
    method: 'GET',
    route: 'sync-status',
    auth: 'user',
    query: pageQuery,
    responses: { 200: listEnvelope(syncStatusView) },
    summary: 'Get the sync status of the email accounts you may see',
    description:
      'One entry per account (as `GET /api/email-accounts/{name}/sync-status`), for the accounts ' +
      '`GET /api/email-accounts` lists: System Managers every account; Inbox Users their own user mailboxes and ' +
      'every shared mailbox; everyone else their own user mailboxes.',
    tags: ['Sync'],
  },
  async ({ query }, principal) => {
    const { repositories, clock } = apiDependencies();
    return ok(await listSyncStatus(repositories, clock, principal, pageRequest(query)));
  },
);

export const handler = syncStatusList.handler;
app.http(syncStatusList.name, syncStatusList.options);
