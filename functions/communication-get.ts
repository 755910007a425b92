/** `GET /api/communications/{id}`: one communication with its body (404 when the caller may not see it). */
import { app } from '@azure/functions';
import { z } from 'zod';
import { syncServices } from '../shared/adapters/sync-factory';
import { apiDependencies } from '../shared/api/dependencies';
import { readCommunication } from '../shared/api/mailbox-reads';
import { communicationIdParams, communicationView } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const communicationGet = defineRoute(
  {
    name: 'communication-get',
    method: 'GET',
    route: 'communications/{id}',
    auth: 'user',
    params: communicationIdParams,
    query: z.object({
      includeBody: z.stringbool().optional().meta({
        description:
          '`true`: a body too large for the record (`contentStoredSeparately`) is read from storage into `content`.',
      }),
    }),
    responses: { 200: communicationView },
    summary: 'Get a communication',
    tags: ['Communications'],
  },
  async ({ params, query }, principal) => {
    const { repositories } = apiDependencies();
    const view = await readCommunication(repositories, syncServices, principal, params.id, query.includeBody === true);
    return ok(view, view.etag ? { ETag: view.etag } : undefined);
  },
);

export const handler = communicationGet.handler;
app.http(communicationGet.name, communicationGet.options);
