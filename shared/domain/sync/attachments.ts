/**
 * Attachments of one message (when the account syncs attachments): metadata is listed without bytes; each file
 * attachment within the account's size limit is streamed into Blob storage, item attachments (attached mails)
 * are stored as `.eml` MIME, reference attachments are recorded as links, inline images keep their flag and
 * content id. Oversized ones are recorded as `skipped` with the reason, never silently dropped.
 */
import type { AttachmentMeta } from '../records';
import type { BlobStore } from '../ports/blob-store';
import type { AttachmentInfo, MailSource } from '../ports/mail-source';
import { classifyMailSourceError, isMailSourceError } from '../ports/mail-source';
import type { Logger } from '../ports/logger';
import { attachmentBlobName } from './ids';
import { mapWithConcurrency } from './concurrency';

/**
 * Runs one Graph call (and whatever must happen while it holds its slot) under the governor. `priority: 'high'`
 * puts it at the front of the mailbox's queue.
 */
export type GovernedCall = <T>(fn: () => Promise<T>, options?: { priority?: 'high' | 'normal' }) => Promise<T>;

export interface AttachmentSyncContext {
  source: MailSource;
  call: GovernedCall;
  blobs: BlobStore;
  container: string;
  mailbox: string;
  accountId: string;
  /** The account's `maxAttachmentSize` in MB. */
  maxAttachmentSizeMb: number;
  /** Attachments of one message fetched at once (the governor still caps the mailbox at 4). */
  concurrency: number;
  logger: Logger;
}

const MB = 1024 * 1024;

const itemFileName = (name: string): string => (/\.eml$/i.test(name) ? name : `${name || 'attached message'}.eml`);

function baseMeta(info: AttachmentInfo): Omit<AttachmentMeta, 'status'> {
  const meta: Omit<AttachmentMeta, 'status'> = {
    id: info.id,
    fileName: info.kind === 'item' ? itemFileName(info.name) : info.name || 'attachment',
    contentType: info.kind === 'item' ? 'message/rfc822' : info.contentType || 'application/octet-stream',
    size: Math.max(0, Math.floor(info.size || 0)),
    isInline: info.isInline,
    kind: info.kind,
  };
  if (info.contentId) meta.contentId = info.contentId;
  return meta;
}

/**
 * Whether a download failure means "this attachment cannot be had" (record it as skipped) rather than a
 * mailbox-wide or transient problem (propagate: the page is retried from its checkpoint).
 */
function skipReasonFor(error: unknown): string | undefined {
  if (!isMailSourceError(error)) return undefined;
  const kind = classifyMailSourceError(error);
  if (kind === 'folderMissing') return 'The attachment no longer exists in Microsoft 365.';
  if (kind === 'unknown' && error.status >= 400 && error.status < 500 && error.status !== 401 && error.status !== 403) {
    return `Microsoft Graph refused the download (${error.code}).`;
  }
  return undefined;
}

/** Messages up to this store size have their attachments listed with their bytes (one request). */
export const DEFAULT_INLINE_ATTACHMENTS_MAX_BYTES = 1 * MB;

export interface MessageAttachmentHints {
  /** The message's store size (`GraphMessageLike.messageSizeBytes`), when Graph gave it. */
  messageSizeBytes?: number | undefined;
  /** List with bytes when `messageSizeBytes` is known and at most this (0 disables). */
  inlineMaxBytes?: number;
}

export async function syncMessageAttachments(
  ctx: AttachmentSyncContext,
  graphMessageId: string,
  commId: string,
  hints: MessageAttachmentHints = {},
): Promise<AttachmentMeta[]> {
  // A small message (its whole store size known and small) is listed with its file attachments' bytes: one
  // request instead of one per attachment, with the response bounded by that size. Anything else is listed
  // without bytes and each file streamed on its own.
  const inlineMax = hints.inlineMaxBytes ?? DEFAULT_INLINE_ATTACHMENTS_MAX_BYTES;
  const withContent = inlineMax > 0 && hints.messageSizeBytes !== undefined && hints.messageSizeBytes <= inlineMax;
  let infos: AttachmentInfo[];
  try {
    infos = await ctx.call(() =>
      ctx.source.listAttachments(ctx.mailbox, graphMessageId, withContent ? { withContent: true } : undefined),
    );
  } catch (error) {
    // The message was deleted since the delta page was read: nothing to fetch (its removal comes by delta).
    if (classifyMailSourceError(error) === 'folderMissing') return [];
    throw error;
  }
  const maxBytes = ctx.maxAttachmentSizeMb * MB;
  return mapWithConcurrency(infos, ctx.concurrency, async (info): Promise<AttachmentMeta> => {
    const meta = baseMeta(info);
    if (info.kind === 'reference') {
      return info.url ? { ...meta, status: 'link', url: info.url } : { ...meta, status: 'link' };
    }
    if (meta.size > maxBytes) {
      return {
        ...meta,
        status: 'skipped',
        skipReason: `Larger than the account's attachment limit of ${ctx.maxAttachmentSizeMb} MB (${meta.size} bytes).`,
      };
    }
    const blobName = attachmentBlobName(ctx.accountId, commId, info.id, meta.fileName);
    const blobOptions = { contentType: meta.contentType, metadata: { kind: info.kind } };
    const content = info.kind === 'file' ? info.content : undefined;
    if (content !== undefined) {
      // The bytes came with the list: no Graph request, so no governor slot.
      const stored = await ctx.blobs.putBuffer(ctx.container, blobName, content, blobOptions);
      return { ...meta, size: stored.size, status: 'stored', blobName: stored.name };
    }
    try {
      // Download and upload inside one governed call: the Graph request stays "in flight" while its bytes stream.
      const stored = await ctx.call(async () => {
        const bytes =
          info.kind === 'item'
            ? await ctx.source.getMimeOfItemAttachment(ctx.mailbox, graphMessageId, info.id)
            : await ctx.source.downloadAttachment(ctx.mailbox, graphMessageId, info.id);
        return ctx.blobs.putStream(ctx.container, blobName, bytes, blobOptions);
      });
      return { ...meta, size: stored.size, status: 'stored', blobName: stored.name };
    } catch (error) {
      const skipReason = skipReasonFor(error);
      if (skipReason === undefined) throw error;
      ctx.logger.warn('Attachment skipped', { commId, kind: info.kind, reason: skipReason });
      return { ...meta, status: 'skipped', skipReason };
    }
  });
}
