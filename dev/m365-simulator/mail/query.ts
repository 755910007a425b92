/**
 * The OData query options the mail routes understand ($select, $top, $skip, $filter, $orderby, $count,
 * $expand), with the errors Graph / Exchange answer for options they reject.
 */
import { SimHttpError } from '../contract';

/** Message properties a client may `$select` (canonical casing). */
export const MESSAGE_PROPERTIES = [
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'webLink',
  'inferenceClassification',
  'body',
  'uniqueBody',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
  'internetMessageHeaders',
  'attachments',
] as const;

export type MessageProperty = (typeof MESSAGE_PROPERTIES)[number];

/** Returned when no `$select` is given (internetMessageHeaders, uniqueBody and attachments need $select/$expand). */
export const DEFAULT_MESSAGE_PROPERTIES: readonly MessageProperty[] = MESSAGE_PROPERTIES.filter(
  (p) => p !== 'internetMessageHeaders' && p !== 'uniqueBody' && p !== 'attachments',
);

export const ATTACHMENT_PROPERTIES = [
  'id',
  'lastModifiedDateTime',
  'name',
  'contentType',
  'size',
  'isInline',
  'contentId',
  'contentLocation',
  'contentBytes',
  'item',
] as const;

const byLower = new Map<string, MessageProperty>(MESSAGE_PROPERTIES.map((p) => [p.toLowerCase(), p]));

function option(query: URLSearchParams, name: string): string | null {
  return query.get(`$${name}`) ?? query.get(name);
}

/** `$select=subject,from` → canonical names; unknown names → 400 like Graph. */
export function parseSelect(
  raw: string | null,
  known: readonly string[] = MESSAGE_PROPERTIES,
  type = 'microsoft.graph.message',
): string[] | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const lookup = new Map(known.map((p) => [p.toLowerCase(), p]));
  const out: string[] = [];
  for (const part of raw.split(',')) {
    // A derived-type cast (`microsoft.graph.fileAttachment/contentId`) selects the property on that type.
    const name = part.trim().replace(/^microsoft\.graph\.[A-Za-z]+\//i, '');
    if (!name) continue;
    const canonical = lookup.get(name.toLowerCase());
    if (!canonical) {
      throw new SimHttpError(
        400,
        'RequestBroker--ParseUri',
        `Could not find a property named '${name}' on type '${type}'.`,
      );
    }
    if (!out.includes(canonical)) out.push(canonical);
  }
  return out;
}

export function selectOf(query: URLSearchParams): MessageProperty[] | undefined {
  return parseSelect(option(query, 'select')) as MessageProperty[] | undefined;
}

export function isMessageProperty(name: string): name is MessageProperty {
  return byLower.has(name.toLowerCase());
}

function integer(raw: string, name: string): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new SimHttpError(
      400,
      'BadRequest',
      `Invalid value '${raw}' for query option '$${name}': an integer is expected.`,
    );
  }
  return Number(raw);
}

/** `$top` for lists (1–1000 for messages, like Graph). */
export function topOf(query: URLSearchParams, max = 1000): number | undefined {
  const raw = option(query, 'top');
  if (raw === null) return undefined;
  const top = integer(raw, 'top');
  if (top < 1 || top > max) {
    throw new SimHttpError(
      400,
      'ErrorInvalidUrlQuery',
      `The value of the $top query option must be between 1 and ${max}.`,
    );
  }
  return top;
}

export function skipOf(query: URLSearchParams): number {
  const raw = option(query, 'skip');
  return raw === null ? 0 : integer(raw, 'skip');
}

export function countOf(query: URLSearchParams): boolean {
  return (option(query, 'count') ?? '').toLowerCase() === 'true';
}

export type FilterField =
  | 'receivedDateTime'
  | 'sentDateTime'
  | 'lastModifiedDateTime'
  | 'createdDateTime'
  | 'isRead'
  | 'hasAttachments'
  | 'importance';

export interface FilterClause {
  field: FilterField;
  op: 'eq' | 'ne' | 'ge' | 'gt' | 'le' | 'lt';
  /** ms for dates, boolean, or string. */
  value: number | boolean | string;
}

const DATE_FIELDS = new Set(['receiveddatetime', 'sentdatetime', 'lastmodifieddatetime', 'createddatetime']);
const FIELD_NAMES: Record<string, FilterField> = {
  receiveddatetime: 'receivedDateTime',
  sentdatetime: 'sentDateTime',
  lastmodifieddatetime: 'lastModifiedDateTime',
  createddatetime: 'createdDateTime',
  isread: 'isRead',
  hasattachments: 'hasAttachments',
  importance: 'importance',
};

function filterError(raw: string): SimHttpError {
  return new SimHttpError(
    400,
    'ErrorInvalidUrlQueryFilter',
    `The query filter '${raw}' is not supported by the simulator.`,
  );
}

/** A conjunction of simple comparisons (`receivedDateTime ge 2024-01-01T00:00:00Z and isRead eq false`). */
export function parseFilter(raw: string | null): FilterClause[] | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const clauses: FilterClause[] = [];
  for (const part of raw.split(/\s+and\s+/i)) {
    const m = /^\s*\(?\s*([A-Za-z]+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*\)?\s*$/i.exec(part);
    if (!m?.[1] || !m[2] || !m[3]) throw filterError(raw);
    const fieldLower = m[1].toLowerCase();
    const field = FIELD_NAMES[fieldLower];
    if (!field) throw filterError(raw);
    const op = m[2].toLowerCase() as FilterClause['op'];
    const literal = m[3].trim();
    if (DATE_FIELDS.has(fieldLower)) {
      const ms = Date.parse(literal.replace(/^'(.*)'$/, '$1'));
      if (!Number.isFinite(ms)) {
        throw new SimHttpError(
          400,
          'BadRequest',
          `The DateTimeOffset text '${literal}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?'.`,
        );
      }
      clauses.push({ field, op, value: ms });
    } else if (field === 'isRead' || field === 'hasAttachments') {
      if (!/^(true|false)$/i.test(literal) || (op !== 'eq' && op !== 'ne')) throw filterError(raw);
      clauses.push({ field, op, value: literal.toLowerCase() === 'true' });
    } else {
      const text = /^'(.*)'$/.exec(literal)?.[1];
      if (text === undefined || (op !== 'eq' && op !== 'ne')) throw filterError(raw);
      clauses.push({ field, op, value: text.toLowerCase() });
    }
  }
  return clauses;
}

export function filterOf(query: URLSearchParams): FilterClause[] | undefined {
  return parseFilter(option(query, 'filter'));
}

export function compare(
  actual: number | boolean | string,
  op: FilterClause['op'],
  expected: number | boolean | string,
): boolean {
  switch (op) {
    case 'eq':
      return actual === expected;
    case 'ne':
      return actual !== expected;
    case 'ge':
      return actual >= expected;
    case 'gt':
      return actual > expected;
    case 'le':
      return actual <= expected;
    case 'lt':
      return actual < expected;
  }
}

/** `$orderby`: only receivedDateTime (asc|desc) is supported; default desc. */
export function orderOf(query: URLSearchParams): 'asc' | 'desc' {
  const raw = option(query, 'orderby');
  if (raw === null || raw.trim() === '') return 'desc';
  const m = /^\s*receivedDateTime(?:\s+(asc|desc))?\s*$/i.exec(raw);
  if (!m)
    throw new SimHttpError(
      400,
      'ErrorInvalidUrlQuery',
      `The $orderby expression '${raw}' is not supported by the simulator (receivedDateTime asc|desc only).`,
    );
  return (m[1] ?? 'asc').toLowerCase() as 'asc' | 'desc';
}

/** `$expand=attachments` or `$expand=attachments($select=id,name)`; other expansions are ignored. */
export function expandAttachmentsOf(query: URLSearchParams): { select?: string[] } | undefined {
  const raw = option(query, 'expand');
  if (raw === null) return undefined;
  const m = /(?:^|,)\s*attachments\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?/i.exec(raw);
  if (!m) return undefined;
  const select = parseSelect(m[1] ?? null, ATTACHMENT_PROPERTIES, 'microsoft.graph.attachment');
  return select ? { select } : {};
}

/**
 * `$expand=singleValueExtendedProperties($filter=id eq 'String 0x1042' or id eq 'Integer 0x0E08')` → the
 * requested property ids, as sent (other expansions are ignored; an unsupported filter is a 400 like Graph's).
 */
export function expandExtendedPropertiesOf(query: URLSearchParams): string[] | undefined {
  const raw = option(query, 'expand');
  if (raw === null) return undefined;
  const m = /(?:^|,)\s*singleValueExtendedProperties\s*\(\s*\$filter\s*=\s*([^)]*)\)/i.exec(raw);
  if (!m) return undefined;
  const ids: string[] = [];
  for (const part of (m[1] ?? '').split(/\s+or\s+/i)) {
    const id = /^\s*id\s+eq\s+'((?:[^']|'')+)'\s*$/i.exec(part)?.[1];
    if (!id) {
      throw new SimHttpError(
        400,
        'ErrorInvalidUrlQueryFilter',
        `The $expand filter '${m[1] ?? ''}' is not supported by the simulator (id eq '...' [or id eq '...']).`,
      );
    }
    ids.push(id.replace(/''/g, "'"));
  }
  return ids;
}

/** Rebuilds a list URL with a new `$skip` (Graph's nextLink for Outlook collections). */
export function nextSkipLink(baseUrl: string, path: string, query: URLSearchParams, skip: number): string {
  const next = new URLSearchParams();
  for (const [name, value] of query) {
    if (name === '$skip' || name === 'skip') continue;
    next.append(name, value);
  }
  next.set('$skip', String(skip));
  return `${baseUrl}${path}?${next.toString()}`;
}
