/** `DELETE /api/service-principals/{name}` (System Managers): refused (409) while email accounts use it. */
import { app } from '@azure/functions';
import { servicePrincipalNameParams } from '../shared/api/schemas';
import { deleteServicePrincipal } from '../shared/api/service-principals';
import { defineRoute, emptyResponse, noContent } from '../shared/http/route';

export const servicePrincipalDelete = defineRoute(
  {
    name: 'service-principal-delete',
    method: 'DELETE',
    route: 'service-principals/{name}',
    auth: 'user',
    roles: ['SystemManager'],
    params: servicePrincipalNameParams,
    responses: { 204: emptyResponse('Deleted, with its secret in Key Vault.') },
    errors: ['CONFLICT'],
    summary: 'Delete a service principal',
    description:
      'Refused with 409 (`details.reason: in-use`, `details.emailAccounts`) while email accounts use it: move or ' +
      'delete them first. Send `If-Match` with the `etag` to make the delete conditional.',
    tags: ['Service principals'],
  },
  async ({ params, headers }, _principal, { logger }) => {
    await deleteServicePrincipal(logger, params.name, headers.get('if-match'));
    return noContent();
  },
);

export const handler = servicePrincipalDelete.handler;
app.http(servicePrincipalDelete.name, servicePrincipalDelete.options);
