/** `POST /api/sync`: sync each of your own enabled email accounts now. */
import { app } from '@azure/functions';
import { apiDependencies, syncQueue } from '../shared/api/dependencies';
import { syncAllRequestedView } from '../shared/api/schemas';
import { requestOwnAccountsSync } from '../shared/api/sync-control';
import { defineRoute, json, jsonResponse } from '../shared/http/route';

export const syncOwnAccounts = defineRoute(
  {
    name: 'sync-own-accounts',
    method: 'POST',
    route: 'sync',
    auth: 'user',
    responses: {
      202: jsonResponse(syncAllRequestedView, 'Queued what can sync now; `skipped` says why not the rest.'),
    },
    summary: 'Sync all your email accounts now',
    description:
      'Your accounts are those whose `user` is you (for System Managers also the shared mailboxes they added). ' +
      'Accounts already syncing, throttled by Microsoft Graph, or whose service principal is disabled are listed ' +
      'in `skipped`. Takes no body.',
    tags: ['Sync'],
  },
  async (_input, principal) => {
    const { repositories, clock } = apiDependencies();
    const result = await requestOwnAccountsSync({ repositories, clock, queue: syncQueue() }, principal);
    return json(202, result, { Location: result.statusUrl });
  },
);

export const handler = syncOwnAccounts.handler;
app.http(syncOwnAccounts.name, syncOwnAccounts.options);
