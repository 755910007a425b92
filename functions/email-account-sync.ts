/** `POST /api/email-accounts/{name}/sync`: sync an account now (queues a `mailbox-sync` request). */
import { app } from '@azure/functions';
import { apiDependencies, syncQueue } from '../shared/api/dependencies';
import { accountNameParams, syncRequestedView } from '../shared/api/schemas';
import { requestAccountSync } from '../shared/api/sync-control';
import { defineRoute, json, jsonResponse, ok } from '../shared/http/route';

export const emailAccountSync = defineRoute(
  {
    name: 'email-account-sync',
    method: 'POST',
    route: 'email-accounts/{name}/sync',
    auth: 'user',
    params: accountNameParams,
    responses: {
      200: jsonResponse(syncRequestedView, 'A sync is already running; nothing was queued.'),
      202: jsonResponse(syncRequestedView, 'Queued; follow `statusUrl`.'),
    },
    errors: ['CONFLICT', 'CREDENTIAL_REJECTED', 'RATE_LIMITED'],
    summary: 'Sync an email account now',
    description:
      'Whoever may change the account (its user; System Managers for shared mailboxes) may sync it. 409 when the ' +
      "account's sync is turned off; 424 when its service principal is disabled or missing; 429 (with Retry-After) " +
      'while Microsoft Graph throttles the mailbox. Takes no body.',
    tags: ['Sync'],
  },
  async ({ params }, principal) => {
    const { repositories, clock } = apiDependencies();
    const result = await requestAccountSync({ repositories, clock, queue: syncQueue() }, principal, params.name);
    return result.queued ? json(202, result, { Location: result.statusUrl }) : ok(result);
  },
);

export const handler = emailAccountSync.handler;
app.http(emailAccountSync.name, emailAccountSync.options);
