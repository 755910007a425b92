/**
 * Graph JSON shapes of messages, folders and attachments (typed with @microsoft/microsoft-graph-types),
 * computed from the compact store on demand and honouring `$select`.
 */
import { Buffer } from 'node:buffer';
import type {
  Attachment,
  FileAttachment,
  FollowupFlag,
  InternetMessageHeader,
  ItemAttachment,
  MailFolder,
  Message,
  Recipient,
  ReferenceAttachment,
} from '@microsoft/microsoft-graph-types';
import { attachedMessageContent, attachmentChunks, contentLength, messageStoreSize, reportedSize } from './attachments';
import { bodyPreview, type AttachmentSpec, type MessageBody, type MessageContent, type Person } from './generator';
import { attachmentId, folderId as encodeFolderId } from './ids';
import { StreamedBase64 } from './json-stream';
import { formatAddress, rfc5322Date } from './mime';
import { DEFAULT_MESSAGE_PROPERTIES, type MessageProperty } from './query';
import type { FolderState, MailboxStore } from './store';

/** Graph writes timestamps without fractional seconds. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function recipient(p: Person): Recipient {
  return { emailAddress: { name: p.name, address: p.address } };
}

export type MessageJson = Message & { '@odata.etag'?: string; '@odata.type'?: string };

export interface MessageViewOptions {
  select?: readonly MessageProperty[];
  immutable: boolean;
  /** `Prefer: outlook.body-content-type="text"` */
  bodyType?: 'html' | 'text';
  /** Mail.ReadBasic(.All) only: no body, bodyPreview, uniqueBody or attachments. */
  readBasic: boolean;
  expandAttachments?: { select?: string[] };
  /** Include `@odata.type` (delta responses). */
  withType?: boolean;
  /** `$expand=singleValueExtendedProperties($filter=id eq '...')`: the requested property ids. */
  extendedProperties?: readonly string[];
}

/**
 * Single-value extended properties the simulator knows: PidTagInReplyToId (`String 0x1042`),
 * PidTagInternetReferences (`String 0x1039`), PidTagInternetMessageId (`String 0x1035`) and PidTagMessageSize
 * (`Integer 0x0E08`, see `messageStoreSize`). Graph echoes the id in its own spelling (type as requested in
 * Graph's casing, lower-case hex without leading zeros: `Integer 0xe08`), gives every value as a string (the
 * size in decimal) and omits properties the item does not have. Other ids, and a known tag asked for with
 * another type, are ignored.
 */
function extendedPropertyValues(
  mailbox: MailboxStore,
  c: MessageContent,
  body: () => MessageBody,
  ids: readonly string[],
): Array<{ id: string; value: string }> {
  const out: Array<{ id: string; value: string }> = [];
  for (const requested of ids) {
    const match = /^\s*(string|integer)\s+0x([0-9a-f]{1,8})\s*$/i.exec(requested);
    if (!match?.[1] || !match[2]) continue;
    const type = match[1].toLowerCase();
    const tag = parseInt(match[2], 16);
    let value: string | null = null;
    if (type === 'string') {
      value =
        tag === 0x1042
          ? c.inReplyTo
          : tag === 0x1039
            ? c.references.join(' ')
            : tag === 0x1035
              ? c.internetMessageId
              : null;
    } else if (tag === 0x0e08) {
      value = String(messageStoreSize(mailbox, c, body()));
    }
    if (value) out.push({ id: `${type === 'string' ? 'String' : 'Integer'} 0x${tag.toString(16)}`, value });
  }
  return out;
}

const BASIC_EXCLUDED = new Set<MessageProperty>(['body', 'bodyPreview', 'uniqueBody', 'attachments']);

function internetHeaders(
  mailbox: MailboxStore,
  slot: number,
  c: MessageContent,
  sentMs: number,
): InternetMessageHeader[] {
  const headers: InternetMessageHeader[] = [
    {
      name: 'Received',
      value: `from ${mailbox.owner.address.split('@')[1] ?? 'contoso.com'} by outlook.office365.com with HTTPS; ${rfc5322Date(mailbox.table.received[slot] ?? sentMs)}`,
    },
    { name: 'MIME-Version', value: '1.0' },
    { name: 'Content-Type', value: 'multipart/alternative' },
  ];
  if (c.from) headers.push({ name: 'From', value: formatAddress(c.from) });
  if (c.to.length) headers.push({ name: 'To', value: c.to.map(formatAddress).join(', ') });
  if (c.cc.length) headers.push({ name: 'CC', value: c.cc.map(formatAddress).join(', ') });
  headers.push({ name: 'Subject', value: c.subject });
  headers.push({ name: 'Thread-Topic', value: c.subject.replace(/^(re|aw|fw|fwd):\s*/i, '') });
  headers.push({ name: 'Date', value: rfc5322Date(sentMs) });
  headers.push({ name: 'Message-ID', value: c.internetMessageId });
  if (c.inReplyTo) headers.push({ name: 'In-Reply-To', value: c.inReplyTo });
  if (c.references.length) headers.push({ name: 'References', value: c.references.join(' ') });
  headers.push({ name: 'Content-Language', value: 'en-US' });
  headers.push({ name: 'X-MS-Has-Attach', value: c.attachments.some((a) => !a.isInline) ? 'yes' : '' });
  for (const h of c.extraHeaders) headers.push({ name: h.name, value: h.value });
  return headers;
}

function bodyOf(
  body: MessageBody,
  preferred: 'html' | 'text' | undefined,
): { contentType: 'html' | 'text'; content: string } {
  const type = preferred ?? 'html';
  return { contentType: type, content: type === 'html' ? body.html : body.text };
}

function flagOf(mailbox: MailboxStore, slot: number): FollowupFlag {
  const flag: FollowupFlag = { flagStatus: mailbox.flagStatus(slot) };
  const patch = mailbox.patchOf(slot)?.flag;
  if (patch?.startDateTime) flag.startDateTime = patch.startDateTime;
  if (patch?.dueDateTime) flag.dueDateTime = patch.dueDateTime;
  if (patch?.completedDateTime) flag.completedDateTime = patch.completedDateTime;
  return flag;
}

/** A message as Graph returns it (all default properties, or the `$select`ed ones plus id). */
export function messageJson(mailbox: MailboxStore, slot: number, options: MessageViewOptions): MessageJson {
  const t = mailbox.table;
  const selected = options.select ?? DEFAULT_MESSAGE_PROPERTIES;
  const props = options.readBasic ? selected.filter((p) => !BASIC_EXCLUDED.has(p)) : selected;
  let content: MessageContent | undefined;
  const c = (): MessageContent => (content ??= mailbox.content(slot));
  let body: MessageBody | undefined;
  const b = (): MessageBody => (body ??= c().body());
  const received = t.received[slot] ?? 0;
  const id = mailbox.messageId(slot, options.immutable);
  const out: MessageJson = {};
  if (options.withType) out['@odata.type'] = '#microsoft.graph.message';
  out['@odata.etag'] = `W/"${mailbox.changeKeyOf(slot)}"`;
  for (const p of props) {
    switch (p) {
      case 'id':
        break;
      case 'createdDateTime':
        out.createdDateTime = isoSeconds(mailbox.createdMs(slot));
        break;
      case 'lastModifiedDateTime':
        out.lastModifiedDateTime = isoSeconds(t.modified[slot] ?? received);
        break;
      case 'changeKey':
        out.changeKey = mailbox.changeKeyOf(slot);
        break;
      case 'categories':
        out.categories = [...c().categories];
        break;
      case 'receivedDateTime':
        out.receivedDateTime = isoSeconds(received);
        break;
      case 'sentDateTime': {
        const offset = c().sentOffsetMs;
        out.sentDateTime = offset === null ? null : isoSeconds(received - offset);
        break;
      }
      case 'hasAttachments':
        out.hasAttachments = c().attachments.some((a) => !a.isInline);
        break;
      case 'internetMessageId':
        out.internetMessageId = c().internetMessageId;
        break;
      case 'subject':
        out.subject = c().subject;
        break;
      case 'bodyPreview':
        out.bodyPreview = bodyPreview(b().text);
        break;
      case 'importance':
        out.importance = c().importance;
        break;
      case 'parentFolderId':
        out.parentFolderId = mailbox.folder(mailbox.folderOf(slot)).id;
        break;
      case 'conversationId':
        out.conversationId = mailbox.conversationIdOf(c());
        break;
      case 'conversationIndex':
        out.conversationIndex = mailbox.conversationIndexOf(slot, c());
        break;
      case 'isDeliveryReceiptRequested':
        out.isDeliveryReceiptRequested = false;
        break;
      case 'isReadReceiptRequested':
        out.isReadReceiptRequested = c().isReadReceiptRequested;
        break;
      case 'isRead':
        out.isRead = mailbox.isRead(slot);
        break;
      case 'isDraft':
        out.isDraft = c().isDraft;
        break;
      case 'webLink':
        out.webLink = `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(mailbox.messageId(slot, false))}&exvsurl=1&viewmodel=ReadMessageItem`;
        break;
      case 'inferenceClassification':
        out.inferenceClassification = c().inferenceClassification;
        break;
      case 'body':
        out.body = bodyOf(b(), options.bodyType);
        break;
      case 'uniqueBody':
        out.uniqueBody = bodyOf(b(), options.bodyType);
        break;
      case 'sender':
        out.sender = c().sender ? recipient(c().sender as Person) : null;
        break;
      case 'from':
        out.from = c().from ? recipient(c().from as Person) : null;
        break;
      case 'toRecipients':
        out.toRecipients = c().to.map(recipient);
        break;
      case 'ccRecipients':
        out.ccRecipients = c().cc.map(recipient);
        break;
      case 'bccRecipients':
        out.bccRecipients = c().bcc.map(recipient);
        break;
      case 'replyTo':
        out.replyTo = c().replyTo.map(recipient);
        break;
      case 'flag':
        out.flag = flagOf(mailbox, slot);
        break;
      case 'internetMessageHeaders': {
        const offset = c().sentOffsetMs;
        out.internetMessageHeaders = c().isDraft ? null : internetHeaders(mailbox, slot, c(), received - (offset ?? 0));
        break;
      }
      case 'attachments':
        break;
    }
  }
  out.id = id;
  const expand = options.expandAttachments ?? (selected.includes('attachments') ? {} : undefined);
  if (expand && !options.readBasic) {
    out.attachments = c().attachments.map((spec, index) =>
      attachmentJson(mailbox, slot, id, spec, index, { select: expand.select }),
    );
  }
  if (options.extendedProperties) {
    const properties = extendedPropertyValues(mailbox, c(), b, options.extendedProperties);
    if (properties.length > 0) out.singleValueExtendedProperties = properties;
  }
  return out;
}

/* ------------------------------------------------------------------ attachments */

/** Larger `contentBytes` are streamed (see json-stream.ts) instead of built as one string. */
const INLINE_CONTENT_LIMIT = 512 * 1024;

export type AttachmentJson = (FileAttachment | ItemAttachment | ReferenceAttachment) & { '@odata.type': string };

export function attachmentJson(
  mailbox: MailboxStore,
  slot: number,
  messageId: string,
  spec: AttachmentSpec,
  index: number,
  options: { select?: string[] | undefined; expandItem?: boolean },
): AttachmentJson {
  const id = attachmentId(messageId, mailbox.key, slot, index);
  const want = (name: string): boolean => !options.select || options.select.includes(name);
  const base: Attachment = {};
  if (want('lastModifiedDateTime')) base.lastModifiedDateTime = isoSeconds(spec.lastModifiedMs);
  if (want('name')) base.name = spec.name;
  if (want('contentType')) base.contentType = spec.contentType;
  if (want('size')) base.size = reportedSize(mailbox, spec);
  if (want('isInline')) base.isInline = spec.isInline;
  if (spec.kind === 'file') {
    const file: FileAttachment & { '@odata.type': string } = {
      '@odata.type': '#microsoft.graph.fileAttachment',
      id,
      ...base,
    };
    if (want('contentId')) file.contentId = spec.contentId;
    if (want('contentLocation')) file.contentLocation = null;
    if (want('contentBytes')) {
      const length = contentLength(mailbox, spec);
      file.contentBytes =
        length <= INLINE_CONTENT_LIMIT
          ? Buffer.concat([...attachmentChunks(spec)]).toString('base64')
          : (new StreamedBase64(() => attachmentChunks(spec)) as unknown as string);
    }
    return file;
  }
  if (spec.kind === 'item') {
    const item: ItemAttachment & { '@odata.type': string } = {
      '@odata.type': '#microsoft.graph.itemAttachment',
      id,
      ...base,
    };
    if (options.expandItem) item.item = attachedItemJson(mailbox, spec);
    return item;
  }
  return { '@odata.type': '#microsoft.graph.referenceAttachment', id, ...base };
}

function attachedItemJson(mailbox: MailboxStore, spec: AttachmentSpec): Message & { '@odata.type': string } {
  const c = attachedMessageContent(mailbox, spec);
  const body = c.body();
  const sent = spec.lastModifiedMs - (c.sentOffsetMs ?? 0);
  return {
    '@odata.type': '#microsoft.graph.message',
    id: '',
    createdDateTime: isoSeconds(spec.lastModifiedMs),
    lastModifiedDateTime: isoSeconds(spec.lastModifiedMs),
    receivedDateTime: isoSeconds(spec.lastModifiedMs),
    sentDateTime: isoSeconds(sent),
    hasAttachments: c.attachments.some((a) => !a.isInline),
    internetMessageId: c.internetMessageId,
    subject: c.subject,
    importance: c.importance,
    isRead: false,
    isDraft: false,
    body: { contentType: 'html', content: body.html },
    sender: c.sender ? recipient(c.sender) : null,
    from: c.from ? recipient(c.from) : null,
    toRecipients: c.to.map(recipient),
    ccRecipients: c.cc.map(recipient),
  };
}

/* ------------------------------------------------------------------ folders */

export function folderJson(mailbox: MailboxStore, folder: FolderState): MailFolder {
  const parent =
    folder.parentSlot >= 0 ? mailbox.folder(folder.parentSlot).id : encodeFolderId(mailbox.key, 0x7fff, 0x01);
  return {
    id: folder.id,
    displayName: folder.displayName,
    parentFolderId: parent,
    childFolderCount: folder.children.length,
    unreadItemCount: folder.unread,
    totalItemCount: folder.total,
    isHidden: folder.isHidden,
  };
}

export function selectFolder(json: MailFolder, select: string[] | undefined): MailFolder {
  if (!select) return json;
  const out: Record<string, unknown> = { id: json.id };
  for (const name of select) out[name] = (json as Record<string, unknown>)[name];
  return out;
}
