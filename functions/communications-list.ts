/** `GET /api/communications`: synced messages the caller may see, newest first (bodies not included). */
import { app } from '@azure/functions';
import { z } from 'zod';
import { listCommunications } from '../shared/api/communications';
import { apiDependencies } from '../shared/api/dependencies';
import { communicationListQuery, communicationSummaryView } from '../shared/api/schemas';
import { listEnvelope, pageQueryFields, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const communicationsList = defineRoute(
  {
    name: 'communications-list',
    method: 'GET',
    route: 'communications',
    auth: 'user',
    query: z.object({ ...pageQueryFields, ...communicationListQuery }),
    responses: { 200: listEnvelope(communicationSummaryView) },
    summary: 'List communications',
    description: 'System Managers and Inbox Users see every communication; everyone else only those they own.',
    tags: ['Communications'],
  },
  async ({ query }, principal) => {
    const { limit: _limit, continuationToken: _token, ...filter } = query;
    return ok(await listCommunications(apiDependencies().repositories, principal, pageRequest(query), filter));
  },
);

export const handler = communicationsList.handler;
app.http(communicationsList.name, communicationsList.options);
