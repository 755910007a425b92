/** `POST /api/shared-mailboxes`: add a shared mailbox to sync (System Managers; the caller becomes its user). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { addSharedMailbox } from '../shared/api/email-accounts';
import { emailAccountView, sharedMailboxBody } from '../shared/api/schemas';
import { created, defineRoute, jsonResponse } from '../shared/http/route';

export const sharedMailboxCreate = defineRoute(
  {
    name: 'shared-mailbox-create',
    method: 'POST',
    route: 'shared-mailboxes',
    auth: 'user',
    roles: ['SystemManager'],
    body: sharedMailboxBody,
    responses: { 201: jsonResponse(emailAccountView, 'The new shared mailbox account.') },
    errors: ['CONFLICT'],
    summary: 'Add a shared mailbox',
    description:
      'The account is owned by you (its communications are owned by you; Inbox Users see them too). ' +
      'The service principal must exist and be enabled. Named `M365-{emailAddress}` unless `accountName` is given.',
    tags: ['Shared mailboxes'],
  },
  async ({ body }, principal) => {
    const account = await addSharedMailbox(apiDependencies().repositories, principal, body);
    return created(account, { Location: `/api/email-accounts/${encodeURIComponent(account.accountName)}` });
  },
);

export const handler = sharedMailboxCreate.handler;
app.http(sharedMailboxCreate.name, sharedMailboxCreate.options);
