/** `POST /api/service-principals` (System Managers): add a service principal; its secret goes to Key Vault. */
import { app } from '@azure/functions';
import { createServicePrincipal, servicePrincipalUrl } from '../shared/api/service-principals';
import { servicePrincipalCreateBody, servicePrincipalView } from '../shared/api/schemas';
import { created, defineRoute, jsonResponse } from '../shared/http/route';

export const servicePrincipalCreate = defineRoute(
  {
    name: 'service-principal-create',
    method: 'POST',
    route: 'service-principals',
    auth: 'user',
    roles: ['SystemManager'],
    body: servicePrincipalCreateBody,
    responses: { 201: jsonResponse(servicePrincipalView, 'The new service principal (without any secret).') },
    errors: ['CONFLICT'],
    summary: 'Add a service principal',
    description:
      'One Entra ID app registration (tenant) to sync through. The credential is stored in Key Vault and never ' +
      'returned. Authority and Graph endpoints default to the cloud (`global` unless `cloud` says otherwise).',
    tags: ['Service principals'],
  },
  async ({ body }, principal, { logger }) => {
    const record = await createServicePrincipal(logger, principal, body);
    return created(record, {
      Location: servicePrincipalUrl(record.servicePrincipalName),
      ...(record.etag ? { ETag: record.etag } : {}),
    });
  },
);

export const handler = servicePrincipalCreate.handler;
app.http(servicePrincipalCreate.name, servicePrincipalCreate.options);
