/**
 * Builds explicit message content from Graph-shaped input (sendMail, reply, control-API deliveries), with the
 * validation errors Graph answers for bad input.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Message, Recipient } from '@microsoft/microsoft-graph-types';
import { SimHttpError } from '../contract';
import { contentTypeForName, escapeHtml, type AttachmentSpec, type MessageContent, type Person } from './generator';
import { hashString } from './prng';
import { bodyFrom } from './store';

function badRequest(message: string, code = 'ErrorInvalidRequest'): SimHttpError {
  return new SimHttpError(400, code, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function personFrom(value: unknown, field: string): Person {
  const email = isObject(value) ? value['emailAddress'] : undefined;
  const address = isObject(email) ? email['address'] : undefined;
  if (typeof address !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(address.trim())) {
    throw badRequest(
      `At least one recipient isn't valid: ${field} needs emailAddress.address.`,
      'ErrorInvalidRecipients',
    );
  }
  const name = isObject(email) && typeof email['name'] === 'string' ? email['name'] : address.trim();
  return { name, address: address.trim() };
}

export function peopleFrom(value: unknown, field: string): Person[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest(`'${field}' must be a collection of recipients.`, 'RequestBodyRead');
  return value.map((v, i) => personFrom(v, `${field}[${i}]`));
}

/** A fresh Exchange-like Message-ID. */
export function newInternetMessageId(domain: string): string {
  return `<${randomBytes(16).toString('hex').toUpperCase()}@${domain.split('.')[0]?.toUpperCase() ?? 'SIM'}PR01MB${1000 + (hashString(domain) % 9000)}.prod.outlook.com>`;
}

function attachmentsFrom(value: unknown, nowMs: number): AttachmentSpec[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest("'attachments' must be a collection.", 'RequestBodyRead');
  return value.map((raw, index): AttachmentSpec => {
    if (!isObject(raw)) throw badRequest(`attachments[${index}] must be an object.`, 'RequestBodyRead');
    const type = (typeof raw['@odata.type'] === 'string' ? raw['@odata.type'] : '').replace(/^#/, '').toLowerCase();
    const name = typeof raw['name'] === 'string' && raw['name'] ? raw['name'] : undefined;
    if (!name) throw badRequest(`attachments[${index}].name is required.`, 'ErrorInvalidParameter');
    const contentType = typeof raw['contentType'] === 'string' ? raw['contentType'] : contentTypeForName(name);
    const base = {
      name,
      contentType,
      isInline: raw['isInline'] === true,
      contentId: typeof raw['contentId'] === 'string' ? raw['contentId'] : null,
      lastModifiedMs: nowMs,
      seed: hashString(`${name}:${index}:${nowMs}`),
    };
    if (type === 'microsoft.graph.fileattachment') {
      if (typeof raw['contentBytes'] === 'string') {
        const bytes = Buffer.from(raw['contentBytes'], 'base64');
        return { ...base, kind: 'file', bytes, length: bytes.length };
      }
      // Simulator extension: a size without contentBytes gives generated content of that many bytes.
      const size = raw['size'];
      if (typeof size === 'number' && Number.isInteger(size) && size >= 0 && size <= 150 * 1024 * 1024) {
        return { ...base, kind: 'file', length: size };
      }
      throw badRequest(`attachments[${index}] needs contentBytes.`, 'ErrorInvalidParameter');
    }
    if (type === 'microsoft.graph.itemattachment') {
      const item = raw['item'];
      const content = isObject(item) ? composeContent(item, { from: null, nowMs, domain: 'contoso.com' }) : undefined;
      return { ...base, kind: 'item', contentType: null, length: 0, ...(content ? { item: content } : {}) };
    }
    if (type === 'microsoft.graph.referenceattachment') {
      const size = typeof raw['size'] === 'number' ? raw['size'] : 1024;
      return { ...base, kind: 'reference', length: size };
    }
    throw badRequest(
      `attachments[${index}] needs an '@odata.type' of a file, item or reference attachment.`,
      'ErrorInvalidParameter',
    );
  });
}

export interface ComposeOptions {
  /** The sending mailbox (null: keep `from` of the input). */
  from: Person | null;
  nowMs: number;
  domain: string;
  /** Allow any header names (control API); sendMail allows `x-` headers only, like Graph. */
  anyHeaders?: boolean;
  /** Defaults for fields the input leaves out. */
  defaults?: Partial<MessageContent>;
}

/** Explicit content from a Graph `message` object. */
export function composeContent(input: Message, options: ComposeOptions): MessageContent {
  const raw: unknown = input;
  if (!isObject(raw)) throw badRequest("The 'message' property is required.", 'ErrorInvalidParameter');
  const d = options.defaults ?? {};
  const headers: { name: string; value: string }[] = [];
  let inReplyTo: string | null = d.inReplyTo ?? null;
  let references: string[] = d.references ?? [];
  let internetMessageId =
    typeof input.internetMessageId === 'string' && input.internetMessageId ? input.internetMessageId : undefined;
  for (const h of input.internetMessageHeaders ?? []) {
    const name = h?.name ?? '';
    const value = h?.value ?? '';
    if (!options.anyHeaders && !/^x-/i.test(name)) {
      throw new SimHttpError(
        400,
        'InvalidInternetMessageHeader',
        `The internet message header name '${name}' should start with 'x-' or 'X-'.`,
      );
    }
    const lower = name.toLowerCase();
    if (lower === 'in-reply-to') inReplyTo = value.trim();
    else if (lower === 'references') references = value.split(/\s+/).filter(Boolean);
    else if (lower === 'message-id') internetMessageId = value.trim();
    else headers.push({ name, value });
  }
  const from = options.from ?? (input.from ? personFrom(input.from, 'from') : (d.from ?? null));
  const body =
    input.body && typeof input.body.content === 'string'
      ? bodyFrom({ contentType: input.body.contentType === 'text' ? 'text' : 'html', content: input.body.content })
      : undefined;
  const importance =
    (['low', 'normal', 'high'] as const).find((i) => i === input.importance) ?? d.importance ?? 'normal';
  const id = internetMessageId ?? d.internetMessageId ?? newInternetMessageId(options.domain);
  const defaultBody = d.body;
  return {
    subject: typeof input.subject === 'string' ? input.subject : (d.subject ?? ''),
    from,
    sender: from,
    to: input.toRecipients !== undefined ? peopleFrom(input.toRecipients, 'toRecipients') : (d.to ?? []),
    cc: input.ccRecipients !== undefined ? peopleFrom(input.ccRecipients, 'ccRecipients') : (d.cc ?? []),
    bcc: input.bccRecipients !== undefined ? peopleFrom(input.bccRecipients, 'bccRecipients') : (d.bcc ?? []),
    replyTo: input.replyTo !== undefined ? peopleFrom(input.replyTo, 'replyTo') : (d.replyTo ?? []),
    internetMessageId: id,
    inReplyTo,
    references,
    threadKey: references[0] ?? d.threadKey ?? id,
    threadDepth: references.length,
    importance: importance,
    categories: Array.isArray(input.categories)
      ? input.categories.filter((c): c is string => typeof c === 'string')
      : (d.categories ?? []),
    sentOffsetMs: input.isDraft === true ? null : (d.sentOffsetMs ?? 0),
    isDraft: input.isDraft === true,
    inferenceClassification:
      input.inferenceClassification === 'other' ? 'other' : (d.inferenceClassification ?? 'focused'),
    isReadReceiptRequested: input.isReadReceiptRequested === true,
    attachments:
      input.attachments !== undefined ? attachmentsFrom(input.attachments, options.nowMs) : (d.attachments ?? []),
    extraHeaders: headers,
    body: body ? () => body : (defaultBody ?? (() => bodyFrom({ contentType: 'text', content: '' }))),
  };
}

/** Every recipient of a message (to, cc, bcc), deduplicated by address. */
export function allRecipients(content: MessageContent): Person[] {
  const seen = new Set<string>();
  const out: Person[] = [];
  for (const p of [...content.to, ...content.cc, ...content.bcc]) {
    const key = p.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** The content of a reply to `original` sent by `from` (`POST /messages/{id}/reply`). */
export function replyContent(
  original: MessageContent,
  from: Person,
  comment: string,
  override: Message | undefined,
  nowMs: number,
  sentMs: number,
): MessageContent {
  const replyTargets =
    original.from && original.from.address.toLowerCase() === from.address.toLowerCase()
      ? original.to
      : original.replyTo.length
        ? original.replyTo
        : original.from
          ? [original.from]
          : [];
  const subject = `RE: ${original.subject.replace(/^(re|aw):\s*/i, '')}`;
  const originalBody = original.body();
  const quote = [
    `From: ${original.from?.name ?? ''} <${original.from?.address ?? ''}>`,
    `Sent: ${new Date(sentMs).toUTCString()}`,
    `To: ${original.to.map((p) => p.name).join('; ')}`,
    `Subject: ${original.subject}`,
  ];
  const html =
    `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n` +
    `<div dir="ltr">${escapeHtml(comment)}</div>\r\n<hr style="display:inline-block;width:98%" tabindex="-1">\r\n` +
    `<div id="divRplyFwdMsg" dir="ltr">${quote.map(escapeHtml).join('<br>\r\n')}</div>\r\n` +
    `<div>${escapeHtml(originalBody.text).replace(/\r?\n/g, '<br>\r\n')}</div>\r\n</body>\r\n</html>\r\n`;
  const base: MessageContent = {
    subject,
    from,
    sender: from,
    to: replyTargets,
    cc: [],
    bcc: [],
    replyTo: [],
    internetMessageId: newInternetMessageId(from.address.split('@')[1] ?? 'contoso.com'),
    inReplyTo: original.internetMessageId,
    references: [...original.references, original.internetMessageId],
    threadKey: original.threadKey,
    threadDepth: original.threadDepth + 1,
    importance: 'normal',
    categories: [],
    sentOffsetMs: 0,
    isDraft: false,
    inferenceClassification: 'focused',
    isReadReceiptRequested: false,
    attachments: [],
    extraHeaders: [],
    body: () => bodyFrom({ contentType: 'html', content: html }),
  };
  if (!override) return base;
  const merged = composeContent(override, {
    from,
    nowMs,
    domain: from.address.split('@')[1] ?? 'contoso.com',
    defaults: base,
  });
  return {
    ...merged,
    inReplyTo: base.inReplyTo,
    references: base.references,
    threadKey: base.threadKey,
    threadDepth: base.threadDepth,
    internetMessageId: base.internetMessageId,
  };
}

export function recipientsOf(people: Person[]): Recipient[] {
  return people.map((p) => ({ emailAddress: { name: p.name, address: p.address } }));
}
