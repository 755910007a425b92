/** `GET /api/service-principals`: every principal for System Managers; enabled ones' names for everyone else. */
import { app } from '@azure/functions';
import { z } from 'zod';
import { apiDependencies } from '../shared/api/dependencies';
import { servicePrincipalListItem, servicePrincipalListQuery } from '../shared/api/schemas';
import { listVisibleServicePrincipals } from '../shared/api/service-principals';
import { listEnvelope, pageQueryFields, pageRequest } from '../shared/http/pagination';
import { defineRoute, ok } from '../shared/http/route';

export const servicePrincipalsList = defineRoute(
  {
    name: 'service-principals-list',
    method: 'GET',
    route: 'service-principals',
    auth: 'user',
    query: z.object({ ...pageQueryFields, ...servicePrincipalListQuery }),
    responses: { 200: listEnvelope(servicePrincipalListItem) },
    summary: 'List service principals',
    description:
      'System Managers get every principal with every field except secrets (`ServicePrincipal`). Everyone else ' +
      'gets the enabled principals only, with their name and tenant name (`ServicePrincipalName`), to pick one ' +
      'when enabling sync.',
    tags: ['Service principals'],
  },
  async ({ query }, principal) => {
    const { repositories, clock } = apiDependencies();
    const filter = query.enabled === undefined ? {} : { enabled: query.enabled };
    return ok(await listVisibleServicePrincipals(repositories, principal, pageRequest(query), filter, clock.now()));
  },
);

export const handler = servicePrincipalsList.handler;
app.http(servicePrincipalsList.name, servicePrincipalsList.options);
