/** `PUT /api/email-accounts/{name}/folders`: the folders to sync (the folder filter). */
import { app } from '@azure/functions';
import { apiDependencies } from '../shared/api/dependencies';
import { setFolderFilter } from '../shared/api/email-accounts';
import { accountNameParams, emailAccountView, folderFilterBody } from '../shared/api/schemas';
import { defineRoute, ok } from '../shared/http/route';

export const emailAccountFoldersSet = defineRoute(
  {
    name: 'email-account-folders-set',
    method: 'PUT',
    route: 'email-accounts/{name}/folders',
    auth: 'user',
    params: accountNameParams,
    body: folderFilterBody,
    responses: { 200: emailAccountView },
    errors: ['CONFLICT'],
    summary: 'Set the folders to sync',
    description:
      'Replaces the folder filter. Folders already listed keep their sync progress (matched by name, ' +
      'ignoring case); new folders start with a full sync.',
    tags: ['Email accounts'],
  },
  async ({ params, body, headers }, principal) => {
    const { repositories } = apiDependencies();
    const account = await setFolderFilter(
      repositories,
      principal,
      params.name,
      body.folderFilter,
      headers.get('if-match'),
    );
    return ok(account, account.etag ? { ETag: account.etag } : undefined);
  },
);

export const handler = emailAccountFoldersSet.handler;
app.http(emailAccountFoldersSet.name, emailAccountFoldersSet.options);
