/** `GET /api/openapi.json` (anonymous): the OpenAPI 3.1 document, generated from the routes' own schemas. */
import { app } from '@azure/functions';
import { z } from 'zod';
import { openApiDocument } from '../shared/api/openapi-document';
import { defineRoute, ok } from '../shared/http/route';

export const openApi = defineRoute(
  {
    name: 'openapi',
    method: 'GET',
    route: 'openapi.json',
    auth: 'anonymous',
    responses: { 200: z.record(z.string(), z.unknown()).meta({ description: 'An OpenAPI 3.1 document.' }) },
    summary: 'This API’s OpenAPI 3.1 document',
    tags: ['Operations'],
  },
  () => ok(openApiDocument(__dirname, __filename)),
);

export const handler = openApi.handler;
app.http(openApi.name, openApi.options);
