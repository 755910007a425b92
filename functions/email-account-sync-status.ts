/** `GET /api/email-accounts/{name}/sync-status`: sync progress per folder and the newest sync logs. */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { accountNameParams, syncStatusView } from '../shared/api/schemas';
import { getAccountSyncStatus } from '../shared/api/sync-control';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountSyncStatus = defineRoute(
  {
    name: 'email-account-sync-status',
    method: 'GET',
    route: 'email-accounts/{name}/sync-status',
    auth: 'user',
    params: accountNameParams,
    responses: { 200: syncStatusView },
    summary: "Get an account's sync status",
    description:
      'Whether a sync runs now, the last result (with error code and remedy), throttling, per-folder progress ' +
      '(messages so far; percentage and ETA while the first sync of a folder runs) and the 5 newest sync logs.',
    tags: ['Sync'],
  },
  async ({ params }, principal) => {
    const { repositories, clock } = apiDependencies();
    return ok(await getAccountSyncStatus(repositories, clock, principal, params.name));
  },
);

export const handler = emailAccountSyncStatus.handler;
app.http(emailAccountSyncStatus.name, emailAccountSyncStatus.options);
