/** `GET /api/email-accounts/{name}/sync-logs`: the account's sync logs, newest first. */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { listSyncLogs } from '../shared/api/email-accounts';
import { accountNameParams, syncLogView } from '../shared/api/schemas';
import { listEnvelope, pageQuery, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountSyncLogs = defineRoute(
  {
    name: 'email-account-sync-logs',
    method: 'GET',
    route: 'email-accounts/{name}/sync-logs',
    auth: 'user',
    params: accountNameParams,
    query: pageQuery,
    responses: { 200: listEnvelope(syncLogView) },
    summary: "List an account's sync logs",
    description: 'Newest first. Logs are kept for 30 days.',
    tags: ['Email accounts'],
  },
  async ({ params, query }, principal) =>
    ok(await listSyncLogs(apiDependencies().repositories, principal, params.name, pageRequest(query))),
);

export const handler = emailAccountSyncLogs.handler;
app.http(emailAccountSyncLogs.name, emailAccountSyncLogs.options);
