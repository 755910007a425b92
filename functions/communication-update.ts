/** `PATCH /api/communications/{id}`: link a communication to a record (`referenceDoctype` + `referenceName`). */
import { app } from '@azure/functions';
import { linkCommunication, withBodyFlag } from '../shared/api/communications';
import { apiDependencies } from '../shared/api/dependencies';
import { communicationIdParams, communicationPatchBody, communicationView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const communicationUpdate = defineRoute(
  {
    name: 'communication-update',
    method: 'PATCH',
    route: 'communications/{id}',
    auth: 'user',
    params: communicationIdParams,
    body: communicationPatchBody,
    responses: { 200: communicationView },
    errors: ['CONFLICT'],
    summary: 'Link a communication to a record',
    description: 'Both fields together; both null removes the link. Whoever may see the communication may link it.',
    tags: ['Communications'],
  },
  async ({ params, body, headers }, principal) => {
    const { repositories } = apiDependencies();
    const communication = await linkCommunication(repositories, principal, params.id, body, headers.get('if-match'));
    return ok(withBodyFlag(communication), communication.etag ? { ETag: communication.etag } : undefined);
  },
);

export const handler = communicationUpdate.handler;
app.http(communicationUpdate.name, communicationUpdate.options);
