/**
 * RFC 5322 / MIME rendering of a message (`GET /messages/{id}/$value`, item attachments' `$value`).
 * Produced as a lazy sequence of chunks so large attachments stream through without being buffered.
 *
 * Layout (like Exchange): multipart/mixed (attachments) ⊃ multipart/related (inline images)
 * ⊃ multipart/alternative (text/plain + text/html); bodies are UTF-8 base64; item attachments are
 * message/rfc822 parts; reference attachments (links) have no MIME part.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { base64Lines } from './content-bytes';
import type { AttachmentSpec, MessageContent, Person } from './generator';

export interface MimeSource {
  content: MessageContent;
  /** Date header (sent time). */
  dateMs: number;
  /** Thread-Index header (conversationIndex). */
  threadIndex: string;
  /** Raw bytes of a file attachment. */
  attachmentChunks(spec: AttachmentSpec): Iterable<Buffer>;
  /** The attached message of an item attachment. */
  attachedMessage(spec: AttachmentSpec): MimeSource;
}

type Chunk = string | Buffer;

const CRLF = '\r\n';

function isPlainAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** RFC 2047 encoded-words (UTF-8, base64), split on code point boundaries, folded. */
export function encodeWords(text: string): string {
  if (isPlainAscii(text)) return text;
  const words: string[] = [];
  let current = '';
  for (const ch of text) {
    if (Buffer.byteLength(current + ch) > 45) {
      words.push(current);
      current = '';
    }
    current += ch;
  }
  if (current) words.push(current);
  return words.map((w) => `=?utf-8?B?${Buffer.from(w).toString('base64')}?=`).join(`${CRLF} `);
}

function quoteName(name: string): string {
  if (!isPlainAscii(name)) return encodeWords(name);
  return /[()<>[\]:;@\\,."]/.test(name) ? `"${name.replace(/(["\\])/g, '\\$1')}"` : name;
}

export function formatAddress(p: Person): string {
  return p.name ? `${quoteName(p.name)} <${p.address}>` : `<${p.address}>`;
}

function addressList(people: Person[]): string {
  return people.map(formatAddress).join(`,${CRLF}\t`);
}

/** `Thu, 28 Feb 2019 21:17:58 +0000` */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function paramValue(value: string): string {
  return `"${encodeWords(value).replace(/"/g, '\\"')}"`;
}

interface LeafPart {
  headers: string[];
  body: () => Iterable<Chunk>;
}

interface MultiPart {
  subtype: 'mixed' | 'related' | 'alternative';
  boundary: string;
  extra?: string;
  parts: Part[];
}

type Part = LeafPart | MultiPart;

function* writePart(part: Part): Generator<Chunk> {
  if ('subtype' in part) {
    yield `Content-Type: multipart/${part.subtype};${CRLF}\tboundary="${part.boundary}"${part.extra ?? ''}${CRLF}${CRLF}`;
    yield* writeMultipartBody(part);
    return;
  }
  yield `${part.headers.join(CRLF)}${CRLF}${CRLF}`;
  yield* part.body();
}

function* writeMultipartBody(part: MultiPart): Generator<Chunk> {
  for (const child of part.parts) {
    yield `--${part.boundary}${CRLF}`;
    yield* writePart(child);
    yield CRLF;
  }
  yield `--${part.boundary}--${CRLF}`;
}

function textPart(contentType: string, text: string): LeafPart {
  return {
    headers: [`Content-Type: ${contentType}; charset="utf-8"`, 'Content-Transfer-Encoding: base64'],
    body: () => base64Lines([Buffer.from(text, 'utf8')]),
  };
}

function attachmentPart(source: MimeSource, spec: AttachmentSpec): Part | undefined {
  const dates = `;${CRLF}\tcreation-date="${new Date(spec.lastModifiedMs).toUTCString()}";${CRLF}\tmodification-date="${new Date(spec.lastModifiedMs).toUTCString()}"`;
  if (spec.kind === 'reference') return undefined;
  if (spec.kind === 'item') {
    const attached = source.attachedMessage(spec);
    return {
      headers: ['Content-Type: message/rfc822', `Content-Disposition: attachment${dates}`],
      body: () => mimeChunks(attached),
    };
  }
  const disposition = spec.isInline ? 'inline' : 'attachment';
  const headers = [
    `Content-Type: ${spec.contentType ?? 'application/octet-stream'}; name=${paramValue(spec.name)}`,
    `Content-Description: ${encodeWords(spec.name)}`,
    `Content-Disposition: ${disposition}; filename=${paramValue(spec.name)}; size=${spec.length}${dates}`,
  ];
  if (spec.contentId) headers.push(`Content-ID: <${spec.contentId}>`);
  headers.push('Content-Transfer-Encoding: base64');
  return { headers, body: () => base64Lines(source.attachmentChunks(spec)) };
}

function boundaryFor(content: MessageContent, tag: string): string {
  const digest = createHash('sha1').update(content.internetMessageId).digest('hex').slice(0, 32);
  return `_${tag}_${digest}_`;
}

/** The whole message as MIME, chunk by chunk. */
export function* mimeChunks(source: MimeSource): Generator<Chunk> {
  const c = source.content;
  const body = c.body();
  const attachments = c.attachments.filter((a) => !a.isInline);
  const inline = c.attachments.filter((a) => a.isInline);
  const headers: string[] = [];
  if (c.from) headers.push(`From: ${formatAddress(c.from)}`);
  if (c.sender && c.from && c.sender.address !== c.from.address) headers.push(`Sender: ${formatAddress(c.sender)}`);
  if (c.to.length) headers.push(`To: ${addressList(c.to)}`);
  if (c.cc.length) headers.push(`CC: ${addressList(c.cc)}`);
  if (c.replyTo.length) headers.push(`Reply-To: ${addressList(c.replyTo)}`);
  headers.push(`Subject: ${encodeWords(c.subject)}`);
  headers.push(`Thread-Topic: ${encodeWords(c.subject.replace(/^(re|aw|fw|fwd):\s*/i, ''))}`);
  headers.push(`Thread-Index: ${source.threadIndex}`);
  headers.push(`Date: ${rfc5322Date(source.dateMs)}`);
  headers.push(`Message-ID: ${c.internetMessageId}`);
  if (c.inReplyTo) headers.push(`In-Reply-To: ${c.inReplyTo}`);
  if (c.references.length) headers.push(`References: ${c.references.join(`${CRLF} `)}`);
  if (c.importance !== 'normal') headers.push(`Importance: ${c.importance}`);
  headers.push('Accept-Language: en-US', 'Content-Language: en-US');
  headers.push(`X-MS-Has-Attach: ${attachments.length ? 'yes' : ''}`);
  headers.push('X-MS-Exchange-Organization-SCL: -1');
  for (const h of c.extraHeaders) headers.push(`${h.name}: ${encodeWords(h.value)}`);
  headers.push('MIME-Version: 1.0');
  yield `${headers.join(CRLF)}${CRLF}`;

  let root: Part = {
    subtype: 'alternative',
    boundary: boundaryFor(c, '000'),
    parts: [textPart('text/plain', body.text), textPart('text/html', body.html)],
  };
  const inlineParts = inline.map((a) => attachmentPart(source, a)).filter((p): p is Part => !!p);
  if (inlineParts.length) {
    root = {
      subtype: 'related',
      boundary: boundaryFor(c, '005'),
      extra: `;${CRLF}\ttype="multipart/alternative"`,
      parts: [root, ...inlineParts],
    };
  }
  const attachmentParts = attachments.map((a) => attachmentPart(source, a)).filter((p): p is Part => !!p);
  if (attachmentParts.length) {
    root = { subtype: 'mixed', boundary: boundaryFor(c, '004'), parts: [root, ...attachmentParts] };
  }
  yield* writePart(root);
}

/** Byte length of a MIME rendering (consumes the chunks; used for small item attachments only). */
export function mimeLength(source: MimeSource): number {
  let total = 0;
  for (const chunk of mimeChunks(source)) total += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  return total;
}
