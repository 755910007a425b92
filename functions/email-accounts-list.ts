/** `GET /api/email-accounts`: the email accounts the caller may see (own user mailboxes; all for System Managers). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { listEmailAccounts } from '../shared/api/email-accounts';
import { emailAccountListQuery, emailAccountView } from '../shared/api/schemas';
import { listEnvelope, pageQueryFields, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';
import { z } from 'zod';

export const emailAccountsList = defineRoute(
  {
    name: 'email-accounts-list',
    method: 'GET',
    route: 'email-accounts',
    auth: 'user',
    query: z.object({ ...pageQueryFields, ...emailAccountListQuery }),
    responses: { 200: listEnvelope(emailAccountView) },
    summary: 'List the email accounts you may see',
    description:
      'System Managers see every account; Inbox Users their own user mailboxes and every shared mailbox; ' +
      'everyone else their own user mailboxes.',
    tags: ['Email accounts'],
  },
  async ({ query }, principal) => {
    const { accountType, enabled } = query;
    const page = await listEmailAccounts(apiDependencies().repositories, principal, pageRequest(query), {
      ...(accountType ? { accountType } : {}),
      ...(enabled === undefined ? {} : { enabled }),
    });
    return ok(page);
  },
);

export const handler = emailAccountsList.handler;
app.http(emailAccountsList.name, emailAccountsList.options);
