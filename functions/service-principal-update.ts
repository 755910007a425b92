/** `PATCH /api/service-principals/{name}` (System Managers): change settings or rotate the credential. */
import { app } from '@azure/functions';
import { servicePrincipalNameParams, servicePrincipalPatchBody, servicePrincipalView } from '../shared/api/schemas';
import { updateServicePrincipal } from '../shared/api/service-principals';
import { defineRoute, ok } from '../shared/http/route';

export const servicePrincipalUpdate = defineRoute(
  {
    name: 'service-principal-update',
    method: 'PATCH',
    route: 'service-principals/{name}',
    auth: 'user',
    roles: ['SystemManager'],
    params: servicePrincipalNameParams,
    body: servicePrincipalPatchBody,
    responses: { 200: servicePrincipalView },
    errors: ['CONFLICT'],
    summary: 'Change a service principal',
    description:
      'A new `clientSecret`, `certificate` or `federated` credential replaces the old one (the old secret is ' +
      'removed from Key Vault). Changing the tenant, client id, endpoints or credential drops the cached tokens. ' +
      'Send `If-Match` with the `etag` to make the change conditional.',
    tags: ['Service principals'],
  },
  async ({ params, body, headers }, principal, { logger }) => {
    const record = await updateServicePrincipal(logger, principal, params.name, body, headers.get('if-match'));
    return ok(record, record.etag ? { ETag: record.etag } : undefined);
  },
);

export const handler = servicePrincipalUpdate.handler;
app.http(servicePrincipalUpdate.name, servicePrincipalUpdate.options);
