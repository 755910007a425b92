/**
 * Graph message → communication (pure).
 *
 * Threading trade-off: `In-Reply-To` / `References` live in `internetMessageHeaders`, which Graph returns only on
 * a single-message GET (not in delta pages). Fetching them costs one request per message — 1,000 requests per
 * 1,000 messages, against our budget of ≤ 12. So the delta `$select` leaves headers out; `inReplyTo` /
 * `references` are filled only when a source does return headers, and threading relies on `conversationId`
 * (returned by delta for every message, and shared by Exchange across a conversation's replies) plus
 * `In-Reply-To` when present. See `linking.ts`.
 */
import type { EmailAccountRecord } from '../records';
import type { CommunicationUpsert } from '../ports/repositories';
import type { GraphItemBodyLike, GraphMessageLike, GraphRecipientLike } from '../ports/mail-source';
import { communicationId } from './ids';

export type MappingAccount = Pick<EmailAccountRecord, 'id' | 'accountName' | 'accountType' | 'emailAddress' | 'user'>;

export interface MappingFolder {
  /** The configured name or path (`Inbox`, `Sent Items`, `Inbox/Orders`): stored in `folder`. */
  name: string;
  id: string;
}

/** A mapped message, before attachments, linking and body placement (large bodies go to Blob). */
export type MappedCommunication = CommunicationUpsert & {
  id: string;
  content: string;
  textContent: string;
  graphMessageId: string;
  folderId: string;
};

// -----------------------------------------------------------------------------------------------------------
// Addresses

/** RFC 5322 "specials" that force a display name into quotes (as Python's `email.utils.formataddr` does). */
const NEEDS_QUOTES = /[()<>@,:;.\\"[\]]/;

/** `Name <addr>`, `"Doe, Jane" <addr>` or just `addr`: the format Frappe stores (formataddr). */
export function formatAddress(recipient: GraphRecipientLike | null | undefined): string | undefined {
  const address = recipient?.emailAddress?.address?.trim();
  if (!address) return undefined;
  const name = (recipient?.emailAddress?.name ?? '').replace(/[\r\n]+/g, ' ').trim();
  if (name === '' || name.toLowerCase() === address.toLowerCase()) return address;
  if (NEEDS_QUOTES.test(name)) return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}" <${address}>`;
  return `${name} <${address}>`;
}

/** Comma-separated, in Graph's order, duplicates (same address, case-insensitively) dropped. */
export function formatAddressList(recipients: readonly GraphRecipientLike[] | null | undefined): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of recipients ?? []) {
    const formatted = formatAddress(r);
    const key = r.emailAddress?.address?.trim().toLowerCase();
    if (!formatted || !key || seen.has(key)) continue;
    seen.add(key);
    out.push(formatted);
  }
  return out.join(', ');
}

// -----------------------------------------------------------------------------------------------------------
// Bodies

const ENTITIES: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  '#39': "'",
  ndash: '–',
  mdash: '—',
  hellip: '…',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  copy: '©',
  reg: '®',
  euro: '€',
  bull: '•',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8}\d?);/gi, (match, entity: string) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : match;
    }
    return ENTITIES[entity.toLowerCase()] ?? match;
  });
}

const BLOCK_TAGS = new Set([
  'p',
  'div',
  'br',
  'tr',
  'li',
  'ul',
  'ol',
  'table',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'hr',
  'pre',
  'section',
  'article',
  'header',
  'footer',
]);
const SKIP_CONTENT_TAGS = new Set(['script', 'style', 'head', 'title', 'xml']);

/**
 * Plain text from HTML in one linear pass (no backtracking regexes over the body: a hostile message must not
 * stall the worker). Drops scripts/styles/comments, turns block elements into line breaks, decodes entities.
 */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      out.push(html.slice(i));
      break;
    }
    if (lt > i) out.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? n : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      // A stray '<' with no tag end: keep it as text.
      out.push(html.slice(lt));
      break;
    }
    const tag = /^<\/?([a-zA-Z][a-zA-Z0-9:-]*)/.exec(html.slice(lt, Math.min(gt + 1, lt + 64)));
    const name = tag?.[1]?.toLowerCase();
    const closing = html[lt + 1] === '/';
    if (!name) {
      // Not a tag ("5 < 6"): keep the bracket as text and go on right after it.
      out.push('<');
      i = lt + 1;
      continue;
    }
    i = gt + 1;
    if (!closing && SKIP_CONTENT_TAGS.has(name)) {
      const closer = new RegExp(`</${name}`, 'gi');
      closer.lastIndex = i;
      const end = closer.exec(html)?.index ?? -1;
      if (end === -1) break;
      const endGt = html.indexOf('>', end);
      i = endGt === -1 ? n : endGt + 1;
      continue;
    }
    if (name === 'li') out.push(closing ? '' : '\n- ');
    else if (name === 'td' || name === 'th') out.push(closing ? '' : ' ');
    else if (BLOCK_TAGS.has(name)) out.push('\n');
  }
  return decodeEntities(out.join(''))
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `{ html, text }` of a Graph body: HTML as is (text derived), or text (HTML derived by escaping). */
export function bodyContent(body: GraphItemBodyLike | null | undefined): { html: string; text: string } {
  const content = body?.content ?? '';
  if (content === '') return { html: '', text: '' };
  if ((body?.contentType ?? 'html').toLowerCase() === 'text') {
    return { html: `<div>${escapeHtml(content).replace(/\r?\n/g, '<br>')}</div>`, text: content.trim() };
  }
  return { html: content, text: htmlToText(content) };
}

// -----------------------------------------------------------------------------------------------------------
// Headers

export function headerValue(message: GraphMessageLike, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const header = message.internetMessageHeaders?.find((h) => (h.name ?? '').toLowerCase() === wanted);
  const value = header?.value?.trim();
  return value ? value : undefined;
}

// -----------------------------------------------------------------------------------------------------------
// The mapping

const isSentFolder = (folderName: string): boolean => {
  const last = folderName.split('/').pop() ?? folderName;
  return last.trim().toLowerCase() === 'sent items' || folderName.trim().toLowerCase() === 'sentitems';
};

function isoOrUndefined(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

const IMPORTANCE = new Set(['low', 'normal', 'high']);

export function isSentMessage(message: GraphMessageLike, account: MappingAccount, folder: MappingFolder): boolean {
  if (isSentFolder(folder.name)) return true;
  const from = (message.from ?? message.sender)?.emailAddress?.address?.trim().toLowerCase();
  return from !== undefined && from === account.emailAddress.toLowerCase();
}

/**
 * Maps one Graph message. `now` is the fallback date when Graph gives none (never happens for real mail).
 * `owner` is the account's `user`: the mailbox's user, or for a shared mailbox the admin who configured it.
 */
export function mapMessage(
  message: GraphMessageLike,
  account: MappingAccount,
  folder: MappingFolder,
  now: Date,
): MappedCommunication {
  const sent = isSentMessage(message, account, folder);
  const fromRecipient = message.from ?? message.sender;
  const senderAddress = fromRecipient?.emailAddress?.address?.trim() ?? '';
  const senderName = fromRecipient?.emailAddress?.name?.trim();
  const received = isoOrUndefined(message.receivedDateTime);
  const sentAt = isoOrUndefined(message.sentDateTime);
  const communicationDate =
    (sent ? (sentAt ?? received) : (received ?? sentAt)) ??
    isoOrUndefined(message.lastModifiedDateTime) ??
    now.toISOString();
  const body = bodyContent(message.body?.content ? message.body : message.uniqueBody);
  const importance = (message.importance ?? '').toLowerCase();
  const inReplyTo = headerValue(message, 'In-Reply-To');
  const references = headerValue(message, 'References');
  const lastModified = isoOrUndefined(message.lastModifiedDateTime);

  const mapped: MappedCommunication = {
    id: communicationId(account.id, message.id),
    emailAccount: account.accountName,
    accountType: account.accountType,
    owner: account.user,
    subject: (message.subject ?? '').trim(),
    sender: senderAddress,
    recipients: formatAddressList(message.toRecipients),
    cc: formatAddressList(message.ccRecipients),
    bcc: formatAddressList(message.bccRecipients),
    sentOrReceived: sent ? 'Sent' : 'Received',
    communicationDate,
    content: body.html,
    textContent: body.text,
    seen: message.isRead ?? false,
    folder: folder.name,
    folderId: folder.id,
    graphMessageId: message.id,
    categories: (message.categories ?? []).filter((c): c is string => typeof c === 'string'),
    attachments: [],
    removedInM365: false,
  };
  if (senderName && senderName.toLowerCase() !== senderAddress.toLowerCase()) mapped.senderFullName = senderName;
  if (message.internetMessageId) mapped.messageId = message.internetMessageId.trim();
  if (inReplyTo) mapped.inReplyTo = inReplyTo;
  if (references) mapped.references = references;
  if (message.conversationId) mapped.conversationId = message.conversationId;
  if (IMPORTANCE.has(importance)) mapped.importance = importance as 'low' | 'normal' | 'high';
  if (typeof message.hasAttachments === 'boolean') mapped.hasAttachments = message.hasAttachments;
  if (message.changeKey) mapped.changeKey = message.changeKey;
  if (lastModified) mapped.lastModifiedDateTime = lastModified;
  return mapped;
}

/** Whether the message probably has inline images even though Graph says `hasAttachments: false`. */
export function mayHaveInlineAttachments(message: GraphMessageLike): boolean {
  const content = message.body?.content;
  return typeof content === 'string' && /src\s*=\s*["']?cid:/i.test(content);
}
