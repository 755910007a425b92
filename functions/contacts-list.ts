/** `GET /api/contacts?email=`: contacts seen in mail the caller may see. */
import { app } from '@azure/functions';
import { z } from 'zod';
import { contactFor, listContacts } from '../shared/api/communications';
import { apiDependencies } from '../shared/api/dependencies';
import { contactListQuery, contactView } from '../shared/api/schemas';
import { listEnvelope, mapPage, pageQueryFields, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const contactsList = defineRoute(
  {
    name: 'contacts-list',
    method: 'GET',
    route: 'contacts',
    auth: 'user',
    query: z.object({ ...pageQueryFields, ...contactListQuery }),
    responses: { 200: listEnvelope(contactView) },
    summary: 'List or look up contacts',
    description:
      'With `email`, at most one contact. System Managers and Inbox Users see every contact; everyone else ' +
      'only contacts from their own mail.',
    tags: ['Contacts'],
  },
  async ({ query }, principal) => {
    const filter = query.email ? { email: query.email } : {};
    const page = await listContacts(apiDependencies().repositories, principal, pageRequest(query), filter);
    return ok(mapPage(page, (contact) => contactFor(principal, contact)));
  },
);

export const handler = contactsList.handler;
app.http(contactsList.name, contactsList.options);
