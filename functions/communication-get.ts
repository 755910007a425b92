/** `GET /api/communications/{id}`: one communication with its body (404 when the caller may not see it). */
import { app } from '@azure/functions';
import { getCommunication, withBodyFlag } from '../shared/api/communications';
import { apiDependencies } from '../shared/api/dependencies';
import { communicationIdParams, communicationView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const communicationGet = defineRoute(
  {
    name: 'communication-get',
    method: 'GET',
    route: 'communications/{id}',
    auth: 'user',
    params: communicationIdParams,
    responses: { 200: communicationView },
    summary: 'Get a communication',
    tags: ['Communications'],
  },
  async ({ params }, principal) => {
    const communication = await getCommunication(apiDependencies().repositories, principal, params.id);
    return ok(withBodyFlag(communication), communication.etag ? { ETag: communication.etag } : undefined);
  },
);

export const handler = communicationGet.handler;
app.http(communicationGet.name, communicationGet.options);
