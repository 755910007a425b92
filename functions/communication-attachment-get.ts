/** `GET /api/communications/{id}/attachments/{attachmentId}`: a stored attachment's bytes (from Blob storage). */
import { app } from '@azure/functions';
import { syncServices } from '../shared/adapters/sync-factory';
import { apiDependencies } from '../shared/api/dependencies';
import { openAttachment } from '../shared/api/mailbox-reads';
import { attachmentParams } from '../shared/api/schemas';
import { binaryResponse, defineRoute, file } from '../shared/http/route';

export const communicationAttachmentGet = defineRoute(
  {
    name: 'communication-attachment-get',
    method: 'GET',
    route: 'communications/{id}/attachments/{attachmentId}',
    auth: 'user',
    params: attachmentParams,
    responses: {
      // Any media type: the attachment's own (e.g. application/pdf), or application/octet-stream when unknown.
      200: binaryResponse('The stored bytes, with the stored content type and file name.', ['*/*']),
    },
    summary: 'Download an attachment',
    description:
      'Streams the stored bytes with their content type and file name (`Content-Disposition: attachment`). ' +
      'Skipped attachments (over the size limit) and links answer 404 with `details.reason` ' +
      '`attachment-not-stored` or `attachment-is-link`. Visible to whoever may read the communication.',
    tags: ['Communications'],
  },
  async ({ params }, principal) => {
    const { blobs, settings } = syncServices();
    const stored = await openAttachment(
      apiDependencies().repositories,
      blobs,
      settings.attachmentsContainer,
      principal,
      params.id,
      params.attachmentId,
    );
    return file({
      content: stored.data,
      contentType: stored.contentType,
      fileName: stored.fileName,
      size: stored.size,
    });
  },
);

export const handler = communicationAttachmentGet.handler;
app.http(communicationAttachmentGet.name, communicationAttachmentGet.options);
