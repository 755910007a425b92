/**
 * `MailSource` on Microsoft Graph (app-only), one instance per service principal; the mailbox is passed per call.
 * Every request goes through the Graph client built by `createGraphClient` (our middleware chain: ImmutableId
 * ids, page size, bearer token for the Graph origin only, no retries, errors as `MailSourceError`).
 *
 * Threading headers at zero extra requests: delta cannot `$select` `internetMessageHeaders`, but it can
 * `$expand` single-value extended properties. The first delta request of a round expands PidTagInReplyToId
 * (`String 0x1042`) and PidTagInternetReferences (`String 0x1039`); Graph encodes the option into the
 * nextLink / deltaLink, so every later page carries them too. They come back as `internetMessageHeaders`
 * entries `In-Reply-To` / `References`, which the domain's message mapping already reads. The same expansion
 * asks for PidTagMessageSize (`Integer 0x0E08`, the whole message's size in the store), which becomes
 * `messageSizeBytes`: the sync lists the attachments of small messages with their bytes in one request
 * (`listAttachments(..., { withContent: true })`) instead of one download per attachment.
 *
 *   const source = createGraphMailSource({ principal, tokens: tokenProvider, allowedDevHosts });
 *   await source.resolveFolders('info@contoso.com', ['Inbox', 'Inbox/Orders']);
 */
import type { Readable } from 'node:stream';
import { isKnownGraphUrl } from '../../domain/identity/endpoints';
import type { TokenProvider } from '../../domain/identity/ports';
import type { ByteStream } from '../../domain/ports/blob-store';
import type { Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import {
  MailSourceError,
  isFolderMissing,
  type AttachmentInfo,
  type AttachmentKind,
  type DeltaPage,
  type DeltaPageRequest,
  type GraphMessageLike,
  type ListAttachmentsOptions,
  type MailFolderInfo,
  type MailSource,
  type RemovedEntry,
  type ResolvedFolder,
} from '../../domain/ports/mail-source';
import type { ServicePrincipalRecord } from '../../domain/records';
import { ENDPOINT_NOT_ALLOWED, invalidResponse } from './errors';
import { GraphHttp, createGraphClient, type GraphTokenSource } from './graph-client';

export type { MailFolderInfo };

// -----------------------------------------------------------------------------------------------------------
// Constants

/** MAPI property tags of the threading headers, as Graph names single-value extended properties. */
export const IN_REPLY_TO_PROPERTY = 'String 0x1042';
export const REFERENCES_PROPERTY = 'String 0x1039';
/**
 * PidTagMessageSize: `Integer` is Graph's (EWS's) name for a 32-bit MAPI integer (PT_LONG). Graph echoes the id
 * as `Integer 0xe08` and, like every extended property value, gives the number as a decimal string.
 */
export const MESSAGE_SIZE_PROPERTY = 'Integer 0x0E08';
/**
 * The `$expand` of the first delta request (and of a single-message GET, if ever needed): the threading
 * headers and the message size, at no extra request.
 */
export const EXTENDED_PROPERTIES_EXPAND = `singleValueExtendedProperties($filter=id eq '${IN_REPLY_TO_PROPERTY}' or id eq '${REFERENCES_PROPERTY}' or id eq '${MESSAGE_SIZE_PROPERTY}')`;

/**
 * Attachment metadata without bytes (`@odata.type` always comes along and gives the kind). `contentId` (the
 * `cid:` of inline images) exists only on `fileAttachment`, so it is selected with a type cast: a bare
 * `contentId` is a 400 on the base `attachment` type.
 */
export const ATTACHMENT_SELECT: readonly string[] = [
  'id',
  'name',
  'contentType',
  'size',
  'isInline',
  'microsoft.graph.fileAttachment/contentId',
];
const FOLDER_SELECT = ['id', 'displayName', 'parentFolderId', 'childFolderCount', 'totalItemCount', 'unreadItemCount'];
/** Folders per listing page (follows nextLinks). */
const FOLDER_PAGE = 100;
/** `listFolders` stops after this many folders (a mailbox with more is pathological). */
const MAX_LISTED_FOLDERS = 5000;
/** Graph's documented range for page sizes of Outlook collections. */
const MAX_PAGE_SIZE = 1000;

/** Display names (lower-case) and well-known ids → Graph's well-known folder names. */
const WELL_KNOWN_FOLDERS: Readonly<Record<string, string>> = {
  inbox: 'inbox',
  'sent items': 'sentitems',
  sentitems: 'sentitems',
  drafts: 'drafts',
  'deleted items': 'deleteditems',
  deleteditems: 'deleteditems',
  archive: 'archive',
  'junk email': 'junkemail',
  junkemail: 'junkemail',
  outbox: 'outbox',
};

// -----------------------------------------------------------------------------------------------------------
// URL building

/** A path segment: percent-encoded, `@` kept readable (`users/info@contoso.com`). */
const segment = (value: string): string => encodeURIComponent(value).replace(/%40/g, '@');

/** A query value: percent-encoded, OData punctuation (`$ , :`) kept readable. */
const queryValue = (value: string): string =>
  encodeURIComponent(value).replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%3A/gi, ':');

function queryString(params: ReadonlyArray<readonly [string, string]>): string {
  return params.length === 0 ? '' : `?${params.map(([name, value]) => `${name}=${queryValue(value)}`).join('&')}`;
}

/** An OData string literal: `'O''Brien'`. */
export const odataString = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** `2024-05-01T00:00:00Z` (whole seconds, like Graph's own timestamps). */
const isoSeconds = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

// -----------------------------------------------------------------------------------------------------------
// Response shapes (what we read; Graph sends more)

interface FolderJson {
  id?: unknown;
  displayName?: unknown;
  parentFolderId?: unknown;
  childFolderCount?: unknown;
  totalItemCount?: unknown;
  unreadItemCount?: unknown;
}

interface CollectionJson<T> {
  value?: T[];
  '@odata.nextLink'?: unknown;
  '@odata.deltaLink'?: unknown;
}

interface ExtendedPropertyJson {
  id?: unknown;
  value?: unknown;
}

const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const asCount = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function collection<T>(body: CollectionJson<T>, what: string): T[] {
  if (!Array.isArray(body.value)) throw invalidResponse(`${what} (no value array)`);
  return body.value;
}

type PropertyType = 'string' | 'integer';

/**
 * A proptag-form id (`String 0x1042`, `Integer 0x0E08`, or Graph's echo of them: `Integer 0xe08`,
 * `string 0x01042`) → its type and numeric tag. Named properties (with a GUID) and other types → undefined.
 * `Long` (64-bit) counts as `integer`: PidTagMessageSizeExtended has the same tag and the same meaning.
 */
function propertyTag(id: unknown): { type: PropertyType; tag: number } | undefined {
  const match = typeof id === 'string' ? /^\s*(string|integer|long)\s+0x([0-9a-f]{1,8})\s*$/i.exec(id) : null;
  if (!match?.[1] || !match[2]) return undefined;
  return { type: match[1].toLowerCase() === 'string' ? 'string' : 'integer', tag: parseInt(match[2], 16) };
}

const IN_REPLY_TO_TAG = 0x1042;
const REFERENCES_TAG = 0x1039;
const MESSAGE_SIZE_TAG = 0x0e08;

/** A non-negative integer from an extended property value (Graph sends a decimal string); else undefined. */
function byteCount(value: unknown): number | undefined {
  const count =
    typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value)
      ? Number(value)
      : typeof value === 'number'
        ? value
        : undefined;
  return count !== undefined && Number.isSafeInteger(count) && count >= 0 ? count : undefined;
}

/**
 * `contentBytes` (padded standard base64) → the raw bytes, or undefined when absent or not valid base64 (the
 * caller then downloads the file). Node's decoder silently skips characters outside the alphabet, so validity
 * is checked by length instead of a regular expression over a multi-MB string: a valid encoding of n bytes is
 * exactly 4·⌈n/3⌉ characters, so any skipped character makes the decoded length disagree.
 */
function decodeContentBytes(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value.length % 4 !== 0) return undefined;
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === (value.length / 4) * 3 - padding ? bytes : undefined;
}

/**
 * A delta item → `GraphMessageLike`: Graph's fields as they are, minus OData annotations and the raw extended
 * properties, which become `internetMessageHeaders` entries (`In-Reply-To`, `References`; whitespace folded)
 * and `messageSizeBytes` (PidTagMessageSize; left out when absent or unreadable).
 */
export function toGraphMessage(raw: Record<string, unknown>): GraphMessageLike {
  const message: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('@odata.') || key === 'singleValueExtendedProperties') continue;
    message[key] = value;
  }
  const headers: Array<{ name: string; value: string }> = [];
  const properties = raw['singleValueExtendedProperties'];
  if (Array.isArray(properties)) {
    for (const property of properties as ExtendedPropertyJson[]) {
      const id = propertyTag(property?.id);
      if (!id) continue;
      if (id.type === 'integer') {
        const size = id.tag === MESSAGE_SIZE_TAG ? byteCount(property?.value) : undefined;
        if (size !== undefined && message['messageSizeBytes'] === undefined) message['messageSizeBytes'] = size;
        continue;
      }
      const value = asString(property?.value)?.replace(/\s+/g, ' ').trim();
      if (!value) continue;
      if (id.tag === IN_REPLY_TO_TAG) headers.push({ name: 'In-Reply-To', value });
      else if (id.tag === REFERENCES_TAG) headers.push({ name: 'References', value });
    }
  }
  if (headers.length > 0) {
    const existing = Array.isArray(message['internetMessageHeaders'])
      ? (message['internetMessageHeaders'] as GraphMessageLike['internetMessageHeaders'])
      : [];
    message['internetMessageHeaders'] = [...(existing ?? []), ...headers];
  }
  return message as unknown as GraphMessageLike;
}

function attachmentKind(odataType: unknown): AttachmentKind {
  const type = (asString(odataType) ?? '').toLowerCase();
  if (type.endsWith('itemattachment')) return 'item';
  if (type.endsWith('referenceattachment')) return 'reference';
  return 'file';
}

function folderNotFound(folderName: string, cause?: unknown): MailSourceError {
  return new MailSourceError(404, 'ErrorFolderNotFound', `The folder "${folderName}" does not exist in this mailbox.`, {
    folderName,
    ...(cause === undefined ? {} : { cause }),
  });
}

// -----------------------------------------------------------------------------------------------------------
// The adapter

export interface GraphMailSourceOptions {
  /** The principal's Graph endpoint, e.g. `https://graph.microsoft.com/v1.0`. */
  graphApiEndpoint: string;
  tokens: GraphTokenSource;
  clock?: Clock;
  logger?: Logger;
  /** Response-headers timeout per request (default 100 s). */
  requestTimeoutMs?: number;
}

export class GraphMailSource implements MailSource {
  private readonly http: GraphHttp;
  private readonly tokens: GraphTokenSource;

  constructor(options: GraphMailSourceOptions) {
    this.tokens = options.tokens;
    this.http = new GraphHttp(
      createGraphClient({
        graphApiEndpoint: options.graphApiEndpoint,
        tokens: options.tokens,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      }),
    );
  }

  // ---- folders

  async resolveFolders(mailbox: string, names: readonly string[]): Promise<ResolvedFolder[]> {
    const results: ResolvedFolder[] = [];
    for (const name of names) results.push(await this.resolveFolder(mailbox, name));
    return results;
  }

  private async resolveFolder(mailbox: string, name: string): Promise<ResolvedFolder> {
    const parts = name
      .split('/')
      .map((part) => part.trim())
      .filter((part) => part !== '');
    const [first, ...rest] = parts;
    if (first === undefined) throw folderNotFound(name);
    const wellKnown = WELL_KNOWN_FOLDERS[first.toLowerCase()];
    let current: FolderJson;
    let parentRef: string | undefined;
    if (wellKnown !== undefined && rest.length === 0) {
      current = await this.getFolder(mailbox, wellKnown, name);
    } else if (wellKnown !== undefined) {
      // `Inbox/Orders`: list the well-known folder's children directly (no request for the parent itself).
      parentRef = wellKnown;
      current = await this.findChild(mailbox, parentRef, rest[0] ?? '', name);
      rest.shift();
    } else {
      current = await this.findChild(mailbox, undefined, first, name);
    }
    for (const part of rest) {
      const id = asString(current.id);
      if (!id) throw invalidResponse('mail folder (no id)');
      current = await this.findChild(mailbox, id, part, name);
    }
    const id = asString(current.id);
    if (!id) throw invalidResponse('mail folder (no id)');
    const resolved: ResolvedFolder = { name, id };
    if (typeof current.totalItemCount === 'number') resolved.totalItemCount = current.totalItemCount;
    return resolved;
  }

  private async getFolder(mailbox: string, folderRef: string, requested: string): Promise<FolderJson> {
    const url = this.http.url(
      `/users/${segment(mailbox)}/mailFolders/${segment(folderRef)}${queryString([['$select', FOLDER_SELECT.join(',')]])}`,
    );
    try {
      return await this.http.getJson<FolderJson>(url);
    } catch (error) {
      if (isFolderMissing(error)) throw folderNotFound(requested, error);
      throw error;
    }
  }

  /**
   * The child of `parentRef` (or a top-level folder) named `displayName`, case-insensitively. Asks Graph to
   * filter by name, and still checks every returned folder (and follows nextLinks), so a server that ignores
   * the filter gives the same answer.
   */
  private async findChild(
    mailbox: string,
    parentRef: string | undefined,
    displayName: string,
    requested: string,
  ): Promise<FolderJson> {
    const base =
      parentRef === undefined
        ? `/users/${segment(mailbox)}/mailFolders`
        : `/users/${segment(mailbox)}/mailFolders/${segment(parentRef)}/childFolders`;
    const wanted = displayName.toLowerCase();
    let link: string | undefined = this.http.url(
      base +
        queryString([
          ['$filter', `displayName eq ${odataString(displayName)}`],
          ['$select', FOLDER_SELECT.join(',')],
          ['$top', String(FOLDER_PAGE)],
        ]),
    );
    while (link !== undefined) {
      let page: CollectionJson<FolderJson>;
      try {
        page = await this.http.getJson<CollectionJson<FolderJson>>(link);
      } catch (error) {
        if (isFolderMissing(error)) throw folderNotFound(requested, error);
        throw error;
      }
      const match = collection(page, 'folder list').find(
        (folder) => asString(folder.displayName)?.trim().toLowerCase() === wanted,
      );
      if (match) return match;
      link = asString(page['@odata.nextLink']);
    }
    throw folderNotFound(requested);
  }

  /**
   * Every folder of the mailbox with its path and counts (for `GET /api/email-accounts/{name}/folders`):
   * one request per folder that has children (plus nextLinks), sorted by path.
   */
  async listFolders(mailbox: string): Promise<MailFolderInfo[]> {
    const out: MailFolderInfo[] = [];
    const select = queryString([
      ['$select', FOLDER_SELECT.join(',')],
      ['$top', String(FOLDER_PAGE)],
    ]);
    const queue: Array<{ url: string; parentPath: string }> = [
      { url: this.http.url(`/users/${segment(mailbox)}/mailFolders${select}`), parentPath: '' },
    ];
    while (queue.length > 0 && out.length < MAX_LISTED_FOLDERS) {
      const { url, parentPath } = queue.shift() as { url: string; parentPath: string };
      let link: string | undefined = url;
      while (link !== undefined && out.length < MAX_LISTED_FOLDERS) {
        const page: CollectionJson<FolderJson> = await this.http.getJson<CollectionJson<FolderJson>>(link);
        for (const folder of collection(page, 'folder list')) {
          const id = asString(folder.id);
          if (!id) continue;
          const displayName = asString(folder.displayName) ?? '';
          const path = parentPath ? `${parentPath}/${displayName}` : displayName;
          const info: MailFolderInfo = {
            id,
            displayName,
            path,
            totalItemCount: asCount(folder.totalItemCount),
            unreadItemCount: asCount(folder.unreadItemCount),
            childFolderCount: asCount(folder.childFolderCount),
          };
          const parentFolderId = asString(folder.parentFolderId);
          if (parentFolderId) info.parentFolderId = parentFolderId;
          out.push(info);
          if (info.childFolderCount > 0) {
            queue.push({
              url: this.http.url(`/users/${segment(mailbox)}/mailFolders/${segment(id)}/childFolders${select}`),
              parentPath: path,
            });
          }
        }
        link = asString(page['@odata.nextLink']);
      }
    }
    return out.sort((a, b) => a.path.localeCompare(b.path, 'en', { sensitivity: 'base' }));
  }

  // ---- messages

  async deltaPage(request: DeltaPageRequest): Promise<DeltaPage> {
    const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(request.pageSize)));
    let url: string;
    if (request.link !== undefined && request.link !== '') {
      url = request.link; // as is: Graph encoded every option into it (the client refuses other hosts)
    } else {
      const params: Array<readonly [string, string]> = [
        ['$select', request.select.join(',')],
        ['$expand', EXTENDED_PROPERTIES_EXPAND],
      ];
      if (request.syncFrom) params.push(['$filter', `receivedDateTime ge ${isoSeconds(request.syncFrom)}`]);
      url = this.http.url(
        `/users/${segment(request.mailbox)}/mailFolders/${segment(request.folderId)}/messages/delta${queryString(params)}`,
      );
    }
    const body = await this.http.getJson<CollectionJson<Record<string, unknown>>>(url, { pageSize });
    const messages: GraphMessageLike[] = [];
    const removed: RemovedEntry[] = [];
    for (const item of collection(body, 'delta page')) {
      if (item === null || typeof item !== 'object') continue;
      const id = asString(item['id']);
      if (!id) continue;
      const removal = item['@removed'];
      if (removal !== undefined && removal !== null) {
        const reason = asString((removal as { reason?: unknown }).reason) ?? 'deleted';
        removed.push({ id, reason });
      } else {
        messages.push(toGraphMessage(item));
      }
    }
    const nextLink = asString(body['@odata.nextLink']);
    const deltaLink = asString(body['@odata.deltaLink']);
    if (nextLink) return { messages, removed, nextLink };
    if (deltaLink) return { messages, removed, deltaLink };
    throw invalidResponse('delta page (neither nextLink nor deltaLink)');
  }

  // ---- attachments

  /**
   * The message's attachments (follows nextLinks). Without `withContent`: metadata only (`$select`). With it:
   * no `$select`, so Graph adds `contentBytes` to file attachments, decoded into `content` (left out when
   * absent or not valid base64: the caller then downloads that attachment). The whole response is in memory.
   */
  async listAttachments(
    mailbox: string,
    messageId: string,
    options: ListAttachmentsOptions = {},
  ): Promise<AttachmentInfo[]> {
    const out: AttachmentInfo[] = [];
    const withContent = options.withContent === true;
    const query = withContent ? '' : queryString([['$select', ATTACHMENT_SELECT.join(',')]]);
    let link: string | undefined = this.http.url(
      `/users/${segment(mailbox)}/messages/${segment(messageId)}/attachments${query}`,
    );
    while (link !== undefined) {
      const page: CollectionJson<Record<string, unknown>> =
        await this.http.getJson<CollectionJson<Record<string, unknown>>>(link);
      for (const raw of collection(page, 'attachment list')) {
        const id = asString(raw['id']);
        if (!id) continue;
        const info: AttachmentInfo = {
          id,
          name: asString(raw['name']) ?? '',
          contentType: asString(raw['contentType']) ?? 'application/octet-stream',
          size: asCount(raw['size']),
          isInline: raw['isInline'] === true,
          kind: attachmentKind(raw['@odata.type']),
        };
        const contentId = asString(raw['contentId']);
        if (contentId) info.contentId = contentId;
        const url = asString(raw['sourceUrl']);
        if (url) info.url = url;
        if (withContent && info.kind === 'file') {
          const content = decodeContentBytes(raw['contentBytes']);
          if (content) info.content = content;
        }
        out.push(info);
      }
      link = asString(page['@odata.nextLink']);
    }
    return out;
  }

  /** The raw bytes, streamed: consume or destroy the returned stream. */
  downloadAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream & Readable> {
    return this.http.getStream(this.attachmentValueUrl(mailbox, messageId, attachmentId));
  }

  /** An item attachment (attached mail) as MIME, streamed. */
  getMimeOfItemAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream & Readable> {
    return this.http.getStream(this.attachmentValueUrl(mailbox, messageId, attachmentId));
  }

  private attachmentValueUrl(mailbox: string, messageId: string, attachmentId: string): string {
    return this.http.url(
      `/users/${segment(mailbox)}/messages/${segment(messageId)}/attachments/${segment(attachmentId)}/$value`,
    );
  }

  async invalidateToken(): Promise<void> {
    await this.tokens.invalidate();
  }
}

// -----------------------------------------------------------------------------------------------------------
// Building one for a service principal

/**
 * A token source for one principal over the identity area's `TokenProvider`: `invalidate()` makes the next
 * `getAccessToken()` bypass every cache (`forceRefresh`), once.
 */
export function principalTokenSource(tokens: TokenProvider, principal: ServicePrincipalRecord): GraphTokenSource {
  let forceNext = false;
  return {
    async getAccessToken(): Promise<string> {
      const forceRefresh = forceNext;
      forceNext = false;
      const token = await tokens.getToken(principal, forceRefresh ? { forceRefresh: true } : {});
      return token.accessToken;
    },
    invalidate(): Promise<void> {
      forceNext = true;
      return Promise.resolve();
    },
  };
}

export interface GraphMailSourceForPrincipal {
  principal: ServicePrincipalRecord;
  /** The identity area's token provider (MSAL, per principal, cache encrypted in the record). */
  tokens: TokenProvider;
  /** ALLOWED_DEV_HOSTS (lowercase host:port): besides Microsoft Graph hosts, where a token may be sent. */
  allowedDevHosts: readonly string[];
  clock?: Clock;
  logger?: Logger;
  requestTimeoutMs?: number;
}

/**
 * The sync engine's `mailSourceFor(principal)`. Refuses (status 403 `GraphEndpointNotAllowed`, no request) a
 * principal whose Graph endpoint is neither a Microsoft Graph host nor an allowed dev host.
 */
export function createGraphMailSource(options: GraphMailSourceForPrincipal): GraphMailSource {
  const endpoint = options.principal.graphApiEndpoint;
  if (!isKnownGraphUrl(endpoint, options.allowedDevHosts)) {
    throw new MailSourceError(
      403,
      ENDPOINT_NOT_ALLOWED,
      `The Graph endpoint of service principal "${options.principal.servicePrincipalName}" is not a Microsoft Graph host nor an allowed dev host; no token was sent.`,
    );
  }
  return new GraphMailSource({
    graphApiEndpoint: endpoint,
    tokens: principalTokenSource(options.tokens, options.principal),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
}
