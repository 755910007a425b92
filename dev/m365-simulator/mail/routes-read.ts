/**
 * Read routes: mail folders (list, get, childFolders, folder delta), messages (list, get, MIME `$value`),
 * per-folder message delta and attachments (list, get, `$value`).
 */
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import type { MailFolder } from '@microsoft/microsoft-graph-types';
import {
  SimHttpError,
  type RouteContext,
  type RouteHandler,
  type SimRequest,
  type SimResponse,
  type SimRouter,
} from '../contract';
import { attachedSource, attachmentChunks, contentLength, messageSource } from './attachments';
import { DEFAULT_DELTA_PAGE_SIZE, deltaPage, openToken, sealToken, type DeltaOptions } from './delta';
import type { AttachmentSpec } from './generator';
import { decodeAttachmentId } from './ids';
import { graphJsonResponse } from './json-stream';
import { mimeChunks } from './mime';
import {
  ATTACHMENT_PROPERTIES,
  compare,
  countOf,
  expandAttachmentsOf,
  expandExtendedPropertiesOf,
  filterOf,
  nextSkipLink,
  orderOf,
  parseSelect,
  selectOf,
  skipOf,
  topOf,
  type FilterClause,
} from './query';
import {
  PERMISSIONS,
  contextUser,
  folderOr404,
  isReadBasic,
  mailboxOf,
  messageOr404,
  metadata,
  preferredBodyType,
  type MailRouteServices,
} from './routes-common';
import { attachmentJson, folderJson, isoSeconds, messageJson, selectFolder, type MessageJson } from './serialize';
import type { FolderState, MailboxStore } from './store';

const USER = '/v1.0/users/{user}';
const FOLDER_PROPERTIES = [
  'id',
  'displayName',
  'parentFolderId',
  'childFolderCount',
  'unreadItemCount',
  'totalItemCount',
  'isHidden',
];
const MAX_PAGE_SIZE = 1000;
/** Messages whose attachments total less than this are rendered to MIME in one buffer (with a length). */
const BUFFERED_MIME_LIMIT = 1024 * 1024;

function json(body: unknown, status = 200): SimResponse {
  return { status, body };
}

/* ------------------------------------------------------------------ folders */

function folderPage(
  req: SimRequest,
  ctx: RouteContext,
  mailbox: MailboxStore,
  folders: FolderState[],
  context: string,
): SimResponse {
  const select = parseSelect(req.query.get('$select'), FOLDER_PROPERTIES, 'microsoft.graph.mailFolder');
  const top = topOf(req.query) ?? 10;
  const skip = skipOf(req.query);
  const includeHidden = (req.query.get('includeHiddenFolders') ?? '').toLowerCase() === 'true';
  const visible = folders
    .filter((f) => includeHidden || !f.isHidden)
    .sort((a, b) => a.displayName.localeCompare(b.displayName));
  const page = visible.slice(skip, skip + top);
  const body: Record<string, unknown> = {
    '@odata.context': metadata(ctx, context),
    value: page.map((f) => selectFolder(folderJson(mailbox, f), select)),
  };
  if (countOf(req.query)) body['@odata.count'] = visible.length;
  if (skip + top < visible.length) body['@odata.nextLink'] = nextSkipLink(ctx.baseUrl, req.path, req.query, skip + top);
  return json(body);
}

function registerFolderRoutes(router: SimRouter, services: MailRouteServices): void {
  const anyOf = [...PERMISSIONS.folders];
  router.add(
    'GET',
    `${USER}/mailFolders`,
    (req, ctx) => {
      const mailbox = mailboxOf(services, ctx);
      const root = mailbox.wellKnown('msgfolderroot');
      return folderPage(
        req,
        ctx,
        mailbox,
        root.children.map((c) => mailbox.folder(c)),
        `${contextUser(req)}/mailFolders`,
      );
    },
    { auth: 'graph', anyOf },
  );
  const getFolder: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const folder = folderOr404(mailbox, req.params['childId'] ?? req.params['folderId'] ?? '');
    const select = parseSelect(req.query.get('$select'), FOLDER_PROPERTIES, 'microsoft.graph.mailFolder');
    return json({
      '@odata.context': metadata(ctx, `${contextUser(req)}/mailFolders/$entity`),
      ...selectFolder(folderJson(mailbox, folder), select),
    });
  };
  router.add('GET', `${USER}/mailFolders/{folderId}`, getFolder, { auth: 'graph', anyOf });
  router.add('GET', `${USER}/mailFolders/{folderId}/childFolders/{childId}`, getFolder, { auth: 'graph', anyOf });
  const childFolders: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const idOrName = req.params['childId'] ?? req.params['folderId'] ?? '';
    const folder = folderOr404(mailbox, idOrName);
    return folderPage(
      req,
      ctx,
      mailbox,
      folder.children.map((c) => mailbox.folder(c)),
      `${contextUser(req)}/mailFolders('${encodeURIComponent(idOrName)}')/childFolders`,
    );
  };
  router.add('GET', `${USER}/mailFolders/{folderId}/childFolders`, childFolders, { auth: 'graph', anyOf });
  router.add('GET', `${USER}/mailFolders/{folderId}/childFolders/{childId}/childFolders`, childFolders, {
    auth: 'graph',
    anyOf,
  });
  router.add('GET', `${USER}/mailFolders/delta`, (req, ctx) => folderDelta(services, req, ctx), {
    auth: 'graph',
    anyOf,
  });
}

interface FolderDeltaState {
  k: 'fd';
  inst: number;
  since: number;
  cursor: number;
  select?: string[];
}

/** `GET /mailFolders/delta`: every folder (flattened), then folders created or whose counts changed. */
function folderDelta(services: MailRouteServices, req: SimRequest, ctx: RouteContext): SimResponse {
  const mailbox = mailboxOf(services, ctx);
  const token = req.query.get('$skiptoken') ?? req.query.get('$deltatoken');
  let state: FolderDeltaState;
  if (token) {
    const opened = openToken(token) as FolderDeltaState | undefined;
    if (!opened || opened.k !== 'fd')
      throw new SimHttpError(400, 'ErrorInvalidUrlQuery', 'The sync state token is invalid.');
    if (opened.inst !== mailbox.instance)
      throw new SimHttpError(410, 'SyncStateNotFound', 'The sync state is not found or has expired.');
    state = opened;
  } else {
    const select = parseSelect(req.query.get('$select'), FOLDER_PROPERTIES, 'microsoft.graph.mailFolder');
    state = { k: 'fd', inst: mailbox.instance, since: 0, cursor: 0, ...(select ? { select } : {}) };
  }
  const pageSize = Math.min(ctx.maxPageSize ?? DEFAULT_DELTA_PAGE_SIZE, MAX_PAGE_SIZE);
  const changed = mailbox.folders
    .filter((f) => f.parentSlot >= 0 && f.changedSeq > Math.max(state.since, state.cursor))
    .sort((a, b) => a.changedSeq - b.changedSeq);
  const page = changed.slice(0, pageSize);
  const body: Record<string, unknown> = {
    '@odata.context': metadata(ctx, 'Collection(mailFolder)'),
    value: page.map((f) => ({
      '@odata.type': '#microsoft.graph.mailFolder',
      ...selectFolder(folderJson(mailbox, f), state.select),
    })),
  };
  const link = `${ctx.baseUrl}${req.path}`;
  if (changed.length > page.length) {
    const last = page[page.length - 1];
    body['@odata.nextLink'] =
      `${link}?$skiptoken=${sealToken({ ...state, cursor: last ? last.changedSeq : state.cursor })}`;
  } else {
    body['@odata.deltaLink'] = `${link}?$deltatoken=${sealToken({ ...state, since: mailbox.folderSeq, cursor: 0 })}`;
  }
  return json(body);
}

/* ------------------------------------------------------------------ messages */

function matches(mailbox: MailboxStore, slot: number, clauses: FilterClause[]): boolean {
  const t = mailbox.table;
  for (const clause of clauses) {
    let actual: number | boolean | string;
    switch (clause.field) {
      case 'receivedDateTime':
        actual = t.received[slot] ?? 0;
        break;
      case 'lastModifiedDateTime':
        actual = t.modified[slot] ?? 0;
        break;
      case 'createdDateTime':
        actual = mailbox.createdMs(slot);
        break;
      case 'sentDateTime':
        actual = (t.received[slot] ?? 0) - (mailbox.content(slot).sentOffsetMs ?? 0);
        break;
      case 'isRead':
        actual = mailbox.isRead(slot);
        break;
      case 'hasAttachments':
        actual = mailbox.content(slot).attachments.some((a) => !a.isInline);
        break;
      case 'importance':
        actual = mailbox.content(slot).importance;
        break;
    }
    if (typeof actual === 'number' && typeof clause.value === 'number') {
      // Graph compares at second precision (timestamps carry no fractions).
      actual = Math.floor(actual / 1000) * 1000;
    }
    if (!compare(actual, clause.op, clause.value)) return false;
  }
  return true;
}

function listMessages(services: MailRouteServices, scope: 'mailbox' | 'folder'): RouteHandler {
  return (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const folderParam = req.params['childId'] ?? req.params['folderId'] ?? '';
    const folder = scope === 'folder' ? folderOr404(mailbox, folderParam) : undefined;
    const select = selectOf(req.query);
    const filter = filterOf(req.query);
    const order = orderOf(req.query);
    const pageSize = Math.min(topOf(req.query) ?? ctx.maxPageSize ?? 10, MAX_PAGE_SIZE);
    const skip = skipOf(req.query);
    const expand = expandAttachmentsOf(req.query);
    const extendedProperties = expandExtendedPropertiesOf(req.query);
    const sorted = mailbox.sortedSlots(folder?.slot);
    let matched: ArrayLike<number> = sorted;
    if (filter)
      matched = Array.prototype.filter.call(sorted, (slot: number) => matches(mailbox, slot, filter)) as number[];
    const total = matched.length;
    const page: number[] = [];
    for (let i = skip; i < Math.min(total, skip + pageSize); i++) {
      const index = order === 'desc' ? i : total - 1 - i;
      page.push(matched[index] ?? 0);
    }
    const options = {
      immutable: ctx.immutableIds,
      readBasic: isReadBasic(ctx),
      ...(select ? { select } : {}),
      ...(expand ? { expandAttachments: expand } : {}),
      ...(extendedProperties ? { extendedProperties } : {}),
    };
    const bodyType = preferredBodyType(req);
    const collection = folder
      ? `${contextUser(req)}/mailFolders('${encodeURIComponent(folderParam)}')/messages`
      : `${contextUser(req)}/messages`;
    const body: Record<string, unknown> = {
      '@odata.context': metadata(ctx, select ? `${collection}(${select.join(',')})` : collection),
    };
    if (countOf(req.query)) body['@odata.count'] = total;
    body['value'] = page.map((slot) => messageJson(mailbox, slot, bodyType ? { ...options, bodyType } : options));
    if (skip + pageSize < total)
      body['@odata.nextLink'] = nextSkipLink(ctx.baseUrl, req.path, req.query, skip + pageSize);
    return graphJsonResponse(body);
  };
}

function getMessage(services: MailRouteServices): RouteHandler {
  return (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const select = selectOf(req.query);
    const expand = expandAttachmentsOf(req.query);
    const extendedProperties = expandExtendedPropertiesOf(req.query);
    const bodyType = preferredBodyType(req);
    const message: MessageJson = messageJson(mailbox, slot, {
      immutable: ctx.immutableIds,
      readBasic: isReadBasic(ctx),
      ...(select ? { select } : {}),
      ...(expand ? { expandAttachments: expand } : {}),
      ...(extendedProperties ? { extendedProperties } : {}),
      ...(bodyType ? { bodyType } : {}),
    });
    return graphJsonResponse({ '@odata.context': metadata(ctx, `${contextUser(req)}/messages/$entity`), ...message });
  };
}

function mimeResponse(chunks: Iterable<string | Buffer>, buffered: boolean): SimResponse {
  const headers = { 'content-type': 'text/plain' };
  if (buffered) {
    const body = Buffer.concat([...chunks].map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
    return { status: 200, headers: { ...headers, 'content-length': String(body.length) }, body };
  }
  return { status: 200, headers, body: Readable.from(chunks) };
}

function messageValue(services: MailRouteServices): RouteHandler {
  return (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const content = mailbox.content(slot);
    const attachmentBytes = content.attachments.reduce(
      (n, a) => n + (a.kind === 'file' ? contentLength(mailbox, a) : 0),
      0,
    );
    return mimeResponse(mimeChunks(messageSource(mailbox, slot)), attachmentBytes < BUFFERED_MIME_LIMIT);
  };
}

/* ------------------------------------------------------------------ delta */

function deltaOptions(query: URLSearchParams): DeltaOptions {
  const options: DeltaOptions = {};
  if (query.has('$search')) {
    throw new SimHttpError(400, 'ErrorInvalidUrlQuery', 'The query parameter $search is not supported with delta.');
  }
  const select = selectOf(query);
  if (select) options.select = select;
  const filter = query.get('$filter');
  if (filter !== null && filter.trim() !== '') {
    const m = /^\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*$/i.exec(filter);
    const ms = m?.[2] ? Date.parse(m[2].replace(/^'(.*)'$/, '$1')) : NaN;
    if (!m?.[1] || !Number.isFinite(ms)) {
      throw new SimHttpError(
        400,
        'ErrorInvalidUrlQueryFilter',
        "Delta supports only '$filter=receivedDateTime ge|gt {value}'.",
      );
    }
    options.filter = { op: m[1].toLowerCase() as 'ge' | 'gt', ms };
  }
  const top = query.get('$top');
  if (top !== null) {
    if (!/^\d+$/.test(top) || Number(top) < 1)
      throw new SimHttpError(400, 'BadRequest', `Invalid value '${top}' for query option '$top'.`);
    options.top = Number(top);
  }
  const orderby = query.get('$orderby');
  if (orderby !== null && orderby.trim() !== '') {
    if (!/^\s*receivedDateTime\s+desc\s*$/i.test(orderby)) {
      throw new SimHttpError(400, 'ErrorInvalidUrlQuery', "Delta supports only '$orderby=receivedDateTime desc'.");
    }
    options.orderDesc = true;
  }
  const changeType = query.get('changeType') ?? query.get('changetype');
  if (changeType !== null) {
    const value = changeType.toLowerCase();
    if (value !== 'created' && value !== 'updated' && value !== 'deleted') {
      throw new SimHttpError(
        400,
        'ErrorInvalidUrlQuery',
        `Invalid changeType '${changeType}': expected created, updated or deleted.`,
      );
    }
    options.changeType = value;
  }
  const expandProperties = expandExtendedPropertiesOf(query);
  if (expandProperties) options.expandProperties = expandProperties;
  return options;
}

function messageDelta(services: MailRouteServices): RouteHandler {
  return (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const folder = folderOr404(mailbox, req.params['childId'] ?? req.params['folderId'] ?? '');
    const token = req.query.get('$skiptoken') ?? req.query.get('$deltatoken');
    const pageSize = Math.min(ctx.maxPageSize ?? DEFAULT_DELTA_PAGE_SIZE, MAX_PAGE_SIZE);
    const page = deltaPage(mailbox, folder, token ? { token } : { options: deltaOptions(req.query) }, pageSize);
    const readBasic = isReadBasic(ctx);
    const bodyType = preferredBodyType(req);
    const value = page.items.map((item) => {
      if (item.removed) {
        return {
          '@odata.type': '#microsoft.graph.message',
          id: mailbox.historicalMessageId(item.slot, item.folderSlot, item.gen, ctx.immutableIds),
          '@removed': { reason: item.removed },
        };
      }
      return messageJson(mailbox, item.slot, {
        immutable: ctx.immutableIds,
        readBasic,
        withType: true,
        ...(page.options.select ? { select: page.options.select as never } : {}),
        ...(page.options.expandProperties ? { extendedProperties: page.options.expandProperties } : {}),
        ...(bodyType ? { bodyType } : {}),
      });
    });
    const link = `${ctx.baseUrl}${req.path}`;
    const body: Record<string, unknown> = { '@odata.context': metadata(ctx, 'Collection(message)') };
    if (page.skipToken) body['@odata.nextLink'] = `${link}?$skiptoken=${page.skipToken}`;
    if (page.deltaToken) body['@odata.deltaLink'] = `${link}?$deltatoken=${page.deltaToken}`;
    body['value'] = value;
    return graphJsonResponse(body);
  };
}

/* ------------------------------------------------------------------ attachments */

function attachmentOr404(
  mailbox: MailboxStore,
  slot: number,
  attachmentId: string,
): { spec: AttachmentSpec; index: number } {
  const decoded = decodeAttachmentId(mailbox.key, attachmentId);
  if (decoded.kind === 'malformed') throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  const notFound = new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  if (decoded.kind !== 'ok' || decoded.message.slot !== slot) throw notFound;
  if (decoded.message.kind === 'rest' && decoded.message.moveGen !== (mailbox.table.moveGen[slot] ?? 0) % 65536)
    throw notFound;
  const spec = mailbox.content(slot).attachments[decoded.index];
  if (!spec) throw notFound;
  return { spec, index: decoded.index };
}

function registerAttachmentRoutes(router: SimRouter, services: MailRouteServices, prefixes: string[]): void {
  const anyOf = [...PERMISSIONS.read];
  const list: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const messageId = mailbox.messageId(slot, ctx.immutableIds);
    const select = parseSelect(req.query.get('$select'), ATTACHMENT_PROPERTIES, 'microsoft.graph.attachment');
    const specs = mailbox.content(slot).attachments;
    const body = {
      '@odata.context': metadata(ctx, `${contextUser(req)}/messages('${encodeURIComponent(messageId)}')/attachments`),
      value: specs.map((spec, index) => attachmentJson(mailbox, slot, messageId, spec, index, { select })),
    };
    return graphJsonResponse(body);
  };
  const get: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const { spec, index } = attachmentOr404(mailbox, slot, req.params['attachmentId'] ?? '');
    const messageId = mailbox.messageId(slot, ctx.immutableIds);
    const select = parseSelect(req.query.get('$select'), ATTACHMENT_PROPERTIES, 'microsoft.graph.attachment');
    const expandItem = /itemattachment\/item/i.test(req.query.get('$expand') ?? '');
    const json = attachmentJson(mailbox, slot, messageId, spec, index, { select, expandItem });
    return graphJsonResponse({
      '@odata.context': metadata(
        ctx,
        `${contextUser(req)}/messages('${encodeURIComponent(messageId)}')/attachments/$entity`,
      ),
      ...json,
    });
  };
  const value: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const { spec } = attachmentOr404(mailbox, slot, req.params['attachmentId'] ?? '');
    if (spec.kind === 'reference') {
      throw new SimHttpError(
        405,
        'ErrorInvalidRequest',
        'The raw contents of a reference attachment cannot be retrieved.',
      );
    }
    if (spec.kind === 'item') return mimeResponse(mimeChunks(attachedSource(mailbox, spec)), true);
    const length = contentLength(mailbox, spec);
    return {
      status: 200,
      headers: { 'content-type': spec.contentType ?? 'application/octet-stream', 'content-length': String(length) },
      body: length <= 256 * 1024 ? Buffer.concat([...attachmentChunks(spec)]) : Readable.from(attachmentChunks(spec)),
    };
  };
  for (const prefix of prefixes) {
    router.add('GET', `${prefix}/attachments`, list, { auth: 'graph', anyOf });
    router.add('GET', `${prefix}/attachments/{attachmentId}`, get, { auth: 'graph', anyOf });
    router.add('GET', `${prefix}/attachments/{attachmentId}/$value`, value, { auth: 'graph', anyOf });
  }
}

/* ------------------------------------------------------------------ registration */

export function registerReadRoutes(router: SimRouter, services: MailRouteServices): void {
  registerFolderRoutes(router, services);
  const readBasic = [...PERMISSIONS.readBasic];
  const read = [...PERMISSIONS.read];
  const folderPrefixes = [`${USER}/mailFolders/{folderId}`, `${USER}/mailFolders/{folderId}/childFolders/{childId}`];
  router.add('GET', `${USER}/messages`, listMessages(services, 'mailbox'), { auth: 'graph', anyOf: readBasic });
  for (const prefix of folderPrefixes) {
    router.add('GET', `${prefix}/messages`, listMessages(services, 'folder'), { auth: 'graph', anyOf: readBasic });
    router.add('GET', `${prefix}/messages/delta`, messageDelta(services), { auth: 'graph', anyOf: readBasic });
  }
  const messagePrefixes = [`${USER}/messages/{id}`, ...folderPrefixes.map((p) => `${p}/messages/{id}`)];
  for (const prefix of messagePrefixes) {
    router.add('GET', prefix, getMessage(services), { auth: 'graph', anyOf: readBasic });
    router.add('GET', `${prefix}/$value`, messageValue(services), { auth: 'graph', anyOf: read });
  }
  registerAttachmentRoutes(router, services, messagePrefixes);
}

/** Exposed for the control API's listing. */
export function folderSummary(
  mailbox: MailboxStore,
  folder: FolderState,
): MailFolder & { path: string; wellKnownName: string | null } {
  return {
    ...folderJson(mailbox, folder),
    path: mailbox.folderPath(folder.slot),
    wellKnownName: folder.wellKnownName ?? null,
  };
}

export { isoSeconds };
