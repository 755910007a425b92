/** `GET /api/service-principals/{name}` (System Managers): one service principal, without secrets. */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { servicePrincipalNameParams, servicePrincipalView } from '../shared/api/schemas';
import { getServicePrincipalView } from '../shared/api/service-principals';
import { defineRoute, ok } from '../shared/http/route';

export const servicePrincipalGet = defineRoute(
  {
    name: 'service-principal-get',
    method: 'GET',
    route: 'service-principals/{name}',
    auth: 'user',
    roles: ['SystemManager'],
    params: servicePrincipalNameParams,
    responses: { 200: servicePrincipalView },
    summary: 'Get a service principal',
    tags: ['Service principals'],
  },
  async ({ params }, principal) => {
    const { repositories, clock } = apiDependencies();
    const record = await getServicePrincipalView(repositories, principal, params.name, clock.now());
    return ok(record, record.etag ? { ETag: record.etag } : undefined);
  },
);

export const handler = servicePrincipalGet.handler;
app.http(servicePrincipalGet.name, servicePrincipalGet.options);
