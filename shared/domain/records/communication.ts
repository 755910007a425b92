import { z } from 'zod';
import { ACCOUNT_TYPES } from './email-account';
import { isoDateTime, storedFields } from './common';

export const attachmentMeta = z
  .object({
    id: z.string(),
    fileName: z.string(),
    contentType: z.string(),
    size: z.number().int().nonnegative(),
    isInline: z.boolean(),
    kind: z.enum(['file', 'item', 'reference']),
    status: z.enum(['stored', 'skipped', 'link']),
    skipReason: z.string().optional(),
    /** Blob name in the attachments container (status stored). */
    blobName: z.string().optional(),
    /** The link (status link). */
    url: z.string().optional(),
    contentId: z.string().optional(),
  })
  .strict();
export type AttachmentMeta = z.infer<typeof attachmentMeta>;

/**
 * Container `communications`, partition key `/emailAccount`. One per synced message;
 * id = a hash of (account, immutable Graph id), so replays and moves are idempotent.
 * Field names are Frappe's Communication fields in camelCase.
 */
export const communicationRecord = z
  .object({
    ...storedFields,
    docType: z.literal('communication'),
    emailAccount: z.string().min(1),
    accountType: z.enum(ACCOUNT_TYPES),
    owner: z.string().min(1),
    subject: z.string(),
    sender: z.string(),
    senderFullName: z.string().optional(),
    recipients: z.string(),
    cc: z.string(),
    bcc: z.string(),
    sentOrReceived: z.enum(['Sent', 'Received']),
    communicationDate: isoDateTime,
    /** HTML body; empty when the body is in Blob (`contentBlob`). */
    content: z.string(),
    textContent: z.string().optional(),
    contentBlob: z.string().optional(),
    messageId: z.string().optional(),
    inReplyTo: z.string().optional(),
    references: z.string().optional(),
    seen: z.boolean(),
    referenceDoctype: z.string().optional(),
    referenceName: z.string().optional(),
    folder: z.string(),
    folderId: z.string().optional(),
    conversationId: z.string().optional(),
    graphMessageId: z.string(),
    importance: z.enum(['low', 'normal', 'high']).optional(),
    categories: z.array(z.string()),
    hasAttachments: z.boolean().optional(),
    attachments: z.array(attachmentMeta),
    removedInM365: z.boolean(),
    /** The last fresh (initial or resync) delta round that delivered this message (`{folderId}@{roundStartedAt}`);
     * set by the sync engine, which marks messages a resync round did not deliver as removed. */
    syncRound: z.string().max(600).optional(),
    /** Graph's changeKey / lastModifiedDateTime: an unchanged message is not written again. */
    changeKey: z.string().optional(),
    lastModifiedDateTime: isoDateTime.optional(),
  })
  .strict();
export type CommunicationRecord = z.infer<typeof communicationRecord>;
