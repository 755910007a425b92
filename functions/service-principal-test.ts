/** `POST /api/service-principals/{name}/test` (System Managers): token, permissions, directory and mailbox checks. */
import { app } from '@azure/functions';
import { servicePrincipalNameParams, testConnectionQuery, testConnectionResultView } from '../shared/api/schemas';
import { testServicePrincipal } from '../shared/api/service-principals';
import { defineRoute, jsonResponse, ok } from '../shared/http/route';

export const servicePrincipalTest = defineRoute(
  {
    name: 'service-principal-test',
    method: 'POST',
    route: 'service-principals/{name}/test',
    auth: 'user',
    roles: ['SystemManager'],
    params: servicePrincipalNameParams,
    query: testConnectionQuery,
    responses: {
      200: jsonResponse(testConnectionResultView, 'The checks, passed or not (`ok` is false when one failed).'),
    },
    summary: 'Test a service principal',
    description:
      'Acquires a fresh token, reads the application permissions it carries and probes Microsoft Graph (the ' +
      'directory and each mailbox). Answers 200 even when checks fail: each failed check names its code (e.g. ' +
      '`AADSTS7000215`) and a remedy. Takes no body.',
    tags: ['Service principals'],
  },
  async ({ params, query }, _principal, { logger }) =>
    ok(await testServicePrincipal(logger, params.name, query.mailboxes)),
);

export const handler = servicePrincipalTest.handler;
app.http(servicePrincipalTest.name, servicePrincipalTest.options);
