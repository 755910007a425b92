/**
 * Attachment content and MIME sources for stored messages: bytes of file attachments (generated block by
 * block or given), attached messages of item attachments, and the reported `size`.
 */
import { Buffer } from 'node:buffer';
import { generatedBlocks } from './content-bytes';
import { generateAttachedMessage, type AttachmentSpec, type MessageBody, type MessageContent } from './generator';
import { conversationIndex } from './ids';
import { mimeLength, type MimeSource } from './mime';
import type { MailboxStore } from './store';

/** Raw bytes of a file attachment, lazily in blocks. */
export function* attachmentChunks(spec: AttachmentSpec): Generator<Buffer> {
  if (spec.bytes) {
    yield spec.bytes;
    return;
  }
  yield* generatedBlocks(spec.seed, spec.contentType, spec.length);
}

export function attachedMessageContent(mailbox: MailboxStore, spec: AttachmentSpec): MessageContent {
  return spec.item ?? generateAttachedMessage(spec.seed, mailbox.owner, spec.lastModifiedMs);
}

function contentSource(
  mailbox: MailboxStore,
  content: MessageContent,
  dateMs: number,
  threadIndex: string,
): MimeSource {
  return {
    content,
    dateMs,
    threadIndex,
    attachmentChunks,
    attachedMessage: (spec) => attachedSource(mailbox, spec),
  };
}

/** MIME source of an item attachment's message. */
export function attachedSource(mailbox: MailboxStore, spec: AttachmentSpec): MimeSource {
  const content = attachedMessageContent(mailbox, spec);
  const dateMs = spec.lastModifiedMs;
  return contentSource(mailbox, content, dateMs, conversationIndex(content.threadKey, content.threadDepth, dateMs));
}

/** MIME source of a stored message. */
export function messageSource(mailbox: MailboxStore, slot: number): MimeSource {
  const content = mailbox.content(slot);
  const received = mailbox.table.received[slot] ?? 0;
  const dateMs = content.sentOffsetMs === null ? received : received - content.sentOffsetMs;
  return contentSource(mailbox, content, dateMs, mailbox.conversationIndexOf(slot, content));
}

/** Bytes `$value` returns for a file attachment (raw) or item attachment (MIME). */
export function contentLength(mailbox: MailboxStore, spec: AttachmentSpec): number {
  if (spec.kind === 'item') return mimeLength(attachedSource(mailbox, spec));
  return spec.bytes ? spec.bytes.length : spec.length;
}

/**
 * The attachment's `size` as Graph reports it: the size of the attachment in the store, which is somewhat
 * larger than the content (it includes the attachment's properties). Clients must not expect it to equal the
 * downloaded byte count.
 */
export function reportedSize(mailbox: MailboxStore, spec: AttachmentSpec): number {
  if (spec.kind === 'reference') return spec.length;
  const overhead = 160 + 2 * spec.name.length + (spec.contentId ? 2 * spec.contentId.length : 0);
  return contentLength(mailbox, spec) + overhead;
}

/** The message's other properties in the store (flags, dates, ids, class, change key...): a fixed allowance. */
const MESSAGE_PROPERTY_OVERHEAD = 1024;

/**
 * PidTagMessageSize (`Integer 0x0E08`): the size of the whole message in the store, as Exchange reports it.
 * Like Exchange's figure it exceeds the content: both body forms (UTF-8 bytes of the HTML and the text), every
 * attachment's reported `size`, the header strings (subject, addresses, message ids; UTF-16 in the store, so
 * two bytes a character) and a fixed allowance for the other properties. Cheap enough for every message of a
 * delta page: no MIME rendering of the message (only `reportedSize` of item attachments renders the small
 * attached message, as the attachment listing already does).
 */
export function messageStoreSize(mailbox: MailboxStore, content: MessageContent, body: MessageBody): number {
  let headerChars = content.subject.length + content.internetMessageId.length + (content.inReplyTo?.length ?? 0);
  for (const reference of content.references) headerChars += reference.length + 1;
  for (const people of [content.to, content.cc, content.bcc, content.replyTo]) {
    for (const p of people) headerChars += p.name.length + p.address.length;
  }
  for (const p of [content.from, content.sender]) if (p) headerChars += p.name.length + p.address.length;
  for (const header of content.extraHeaders) headerChars += header.name.length + header.value.length;
  let size = MESSAGE_PROPERTY_OVERHEAD + 2 * headerChars + Buffer.byteLength(body.html) + Buffer.byteLength(body.text);
  for (const spec of content.attachments) size += reportedSize(mailbox, spec);
  return size;
}
