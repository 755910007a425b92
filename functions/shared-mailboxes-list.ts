/** `GET /api/shared-mailboxes`: configured shared mailboxes (System Managers and Inbox Users; none for others). */
import { app } from '@azure/functions';
import { z } from 'zod';
import { apiDependencies } from '../shared/api/dependencies';
import { listSharedMailboxes } from '../shared/api/email-accounts';
import { emailAccountListQuery, emailAccountView } from '../shared/api/schemas';
import { listEnvelope, pageQueryFields, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const sharedMailboxesList = defineRoute(
  {
    name: 'shared-mailboxes-list',
    method: 'GET',
    route: 'shared-mailboxes',
    auth: 'user',
    query: z.object({ ...pageQueryFields, enabled: emailAccountListQuery.enabled }),
    responses: { 200: listEnvelope(emailAccountView) },
    summary: 'List shared mailboxes',
    description: 'System Managers and Inbox Users see every shared mailbox; everyone else gets an empty list.',
    tags: ['Shared mailboxes'],
  },
  async ({ query }, principal) => {
    const filter = query.enabled === undefined ? {} : { enabled: query.enabled };
    return ok(await listSharedMailboxes(apiDependencies().repositories, principal, pageRequest(query), filter));
  },
);

export const handler = sharedMailboxesList.handler;
app.http(sharedMailboxesList.name, sharedMailboxesList.options);
