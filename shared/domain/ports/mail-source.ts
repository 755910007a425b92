/**
 * The mail source port: what the sync engine needs from Microsoft Graph, and nothing more. The Graph adapter
 * (`shared/adapters/graph/`) implements it with `@microsoft/microsoft-graph-client`; tests use an in-memory fake
 * that behaves like Graph delta. No SDK types appear here.
 *
 * Contract for implementations (the Graph adapter):
 * - Send `Prefer: IdType="ImmutableId"` on **every** request (including nextLink / deltaLink calls), and
 *   `Prefer: odata.maxpagesize=<pageSize>` on every delta call.
 * - Do **not** retry anything (remove the Graph client's RetryHandler from the middleware chain): the sync
 *   engine wraps every call in its throttle governor (`shared/domain/sync/governor.ts`), the single retry layer.
 * - Map every Graph failure to a `MailSourceError` carrying Graph's error `code`, the HTTP `status`, and the
 *   parsed `Retry-After` (use `parseRetryAfter`). Network failures: status 0, code `NetworkError`.
 *   Token acquisition failures: status 401, code = the AADSTS code (e.g. `AADSTS7000222`) or `invalid_client`.
 */
import type { ByteStream } from './blob-store';

/** `{ emailAddress: { name, address } }` as Graph returns it. */
export interface GraphRecipientLike {
  emailAddress?: { name?: string | null; address?: string | null } | null;
}

export interface GraphItemBodyLike {
  /** `html` or `text`. */
  contentType?: string | null;
  content?: string | null;
}

/** The message fields the sync engine reads (a subset of Graph's `message`; structurally compatible with it). */
export interface GraphMessageLike {
  /** The immutable id (thanks to `Prefer: IdType="ImmutableId"`). Case-sensitive. */
  id: string;
  changeKey?: string | null;
  subject?: string | null;
  from?: GraphRecipientLike | null;
  sender?: GraphRecipientLike | null;
  toRecipients?: GraphRecipientLike[] | null;
  ccRecipients?: GraphRecipientLike[] | null;
  bccRecipients?: GraphRecipientLike[] | null;
  replyTo?: GraphRecipientLike[] | null;
  receivedDateTime?: string | null;
  sentDateTime?: string | null;
  lastModifiedDateTime?: string | null;
  isRead?: boolean | null;
  isDraft?: boolean | null;
  body?: GraphItemBodyLike | null;
  uniqueBody?: GraphItemBodyLike | null;
  internetMessageId?: string | null;
  conversationId?: string | null;
  importance?: string | null;
  categories?: string[] | null;
  hasAttachments?: boolean | null;
  parentFolderId?: string | null;
  /** Only when Graph returns them (single-message GET with `$select=internetMessageHeaders`). */
  internetMessageHeaders?: Array<{ name?: string | null; value?: string | null }> | null;
  /**
   * PidTagMessageSize (`Integer 0x0E08`, the size of the whole message in the store, attachments included), read
   * through the delta's extended-property expansion at no extra request. Absent when Graph does not return it.
   * The sync uses it to fetch the attachments of small messages with their bytes in one request.
   */
  messageSizeBytes?: number;
}

/**
 * The `$select` of every delta request: exactly the fields the communication stores. Headers
 * (`internetMessageHeaders`) are deliberately absent: Graph returns them only on a single-message GET, which
 * would cost one request per message (see `shared/domain/sync/message-mapping.ts` for the threading trade-off).
 */
export const MESSAGE_SELECT: readonly string[] = [
  'id',
  'changeKey',
  'subject',
  'from',
  'sender',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'receivedDateTime',
  'sentDateTime',
  'lastModifiedDateTime',
  'isRead',
  'isDraft',
  'body',
  'internetMessageId',
  'conversationId',
  'importance',
  'categories',
  'hasAttachments',
  'parentFolderId',
];

/** Graph returns at most this many messages from a delta round that uses `$filter`. */
export const FILTERED_DELTA_CAP = 5000;

export interface ResolvedFolder {
  /** The name or path as requested (`Inbox`, `Sent Items`, `Inbox/Orders`). */
  name: string;
  /** Graph's folder id (immutable). */
  id: string;
  /** `totalItemCount`, when Graph gives it (progress estimates). */
  totalItemCount?: number;
}

/** A folder of the mailbox with its path and counts (the API's folder listing). */
export interface MailFolderInfo {
  id: string;
  displayName: string;
  /** `Inbox/Orders`: display names from the top of the mailbox, `/`-separated. */
  path: string;
  parentFolderId?: string;
  totalItemCount: number;
  unreadItemCount: number;
  childFolderCount: number;
}

export interface DeltaPageRequest {
  /** The mailbox's UPN or address. */
  mailbox: string;
  folderId: string;
  /**
   * A nextLink or deltaLink from an earlier page: call it as is (Graph encoded every option into it). When
   * absent, start a new round: `GET /users/{mailbox}/mailFolders/{folderId}/messages/delta?$select=...` with
   * `$filter=receivedDateTime ge {syncFrom ISO}` when `syncFrom` is given.
   */
  link?: string;
  syncFrom?: Date;
  /** `Prefer: odata.maxpagesize`. */
  pageSize: number;
  select: readonly string[];
}

export interface RemovedEntry {
  id: string;
  /** Graph's `@removed.reason`: `deleted` or `changed` (moved out, or otherwise gone from the folder). */
  reason: string;
}

export interface DeltaPage {
  messages: GraphMessageLike[];
  removed: RemovedEntry[];
  /** More pages in this round. Exactly one of `nextLink` / `deltaLink` is set. */
  nextLink?: string;
  /** The round is over; keep this for the next incremental round. */
  deltaLink?: string;
}

export type AttachmentKind = 'file' | 'item' | 'reference';

/** Attachment metadata, without bytes (`$select=id,name,contentType,size,isInline` plus `@odata.type`). */
export interface AttachmentInfo {
  id: string;
  name: string;
  contentType: string;
  size: number;
  isInline: boolean;
  /** From `@odata.type`: fileAttachment, itemAttachment, referenceAttachment. */
  kind: AttachmentKind;
  contentId?: string;
  /** Reference attachments: the link, when Graph gives one. */
  url?: string;
  /**
   * File attachments listed with `withContent` (Graph's `contentBytes`, decoded): the raw bytes. Absent for item
   * and reference attachments, and for file attachments listed without content.
   */
  content?: Buffer;
}

export interface ListAttachmentsOptions {
  /**
   * List the file attachments with their bytes (`GET /messages/{id}/attachments` without `$select`, so Graph
   * includes `contentBytes`): one request instead of one per attachment. Only for messages known to be small
   * (see `GraphMessageLike.messageSizeBytes`): the whole response is held in memory.
   */
  withContent?: boolean;
}

export interface MailSource {
  /**
   * Resolves display names or paths (`Inbox/Orders`, `/`-separated, matched case-insensitively; well-known
   * names such as `Inbox`, `Sent Items` may use Graph's well-known folder ids) to folder ids, one result per
   * requested name, in order. An unknown folder throws `MailSourceError` code `ErrorFolderNotFound` with
   * `folderName` set (callers resolve the others again without it).
   */
  resolveFolders(mailbox: string, names: readonly string[]): Promise<ResolvedFolder[]>;
  /** One delta request (one page). */
  deltaPage(request: DeltaPageRequest): Promise<DeltaPage>;
  /**
   * `GET /messages/{id}/attachments?$select=id,name,contentType,size,isInline` (no bytes); with
   * `withContent`, without `$select`, so file attachments carry their bytes (`AttachmentInfo.content`).
   */
  listAttachments(mailbox: string, messageId: string, options?: ListAttachmentsOptions): Promise<AttachmentInfo[]>;
  /** A file attachment's raw bytes: `GET /messages/{id}/attachments/{aid}/$value`, streamed. */
  downloadAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream>;
  /** An item attachment as MIME (`.../attachments/{aid}/$value`), streamed. */
  getMimeOfItemAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream>;
  /**
   * Called once after a 401, before the request is retried once: drop the cached token so the next request
   * acquires a new one. Optional (a source without tokens needs none).
   */
  invalidateToken?(): Promise<void>;
}

// -----------------------------------------------------------------------------------------------------------
// Errors

export interface MailSourceErrorOptions {
  retryAfterSeconds?: number;
  /** For `ErrorFolderNotFound`: the requested name that does not exist. */
  folderName?: string;
  cause?: unknown;
}

/**
 * A failed Graph call. `code` is Graph's error code (`ErrorAccessDenied`, `syncStateNotFound`, `TooManyRequests`,
 * `AADSTS7000222`...), `status` the HTTP status (0 for a network failure). Branch with the helpers below.
 */
export class MailSourceError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly folderName: string | undefined;

  constructor(status: number, code: string, message: string, options: MailSourceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailSourceError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.folderName = options.folderName;
  }

  /** Whether the same call can succeed later without anyone changing anything. */
  get retryable(): boolean {
    return classifyMailSourceError(this) === 'throttled' || classifyMailSourceError(this) === 'transient';
  }
}

export const isMailSourceError = (error: unknown): error is MailSourceError => error instanceof MailSourceError;

const lower = (code: string | undefined): string => (code ?? '').toLowerCase();

/** 410 Gone, or `syncStateNotFound` / `resyncRequired` / `syncStateInvalid` in any letter case. */
export function isDeltaExpired(error: unknown): boolean {
  if (!isMailSourceError(error)) return false;
  const code = lower(error.code);
  return (
    error.status === 410 || code === 'syncstatenotfound' || code === 'resyncrequired' || code === 'syncstateinvalid'
  );
}

/** 429 (Graph throttling, `MailboxConcurrency`) or 503 (service busy): wait `Retry-After`, then retry once. */
export function isThrottled(error: unknown): boolean {
  return isMailSourceError(error) && (error.status === 429 || error.status === 503);
}

/** A 401 from Graph (token rejected). Token *acquisition* failures carry an AADSTS code: see `isAuthFailure`. */
export function isUnauthorized(error: unknown): boolean {
  return isMailSourceError(error) && error.status === 401 && !isAuthFailure(error);
}

const AUTH_FAILURE_CODES = new Set(['invalid_client', 'unauthorized_client', 'invalid_grant', 'invalid_request']);
/** The service principal cannot get a token at all (bad/expired secret, app not in tenant, no consent). */
export function isAuthFailure(error: unknown): boolean {
  if (!isMailSourceError(error)) return false;
  return /^aadsts\d+$/i.test(error.code) || AUTH_FAILURE_CODES.has(lower(error.code));
}

const FOLDER_MISSING_CODES = new Set(['errorfoldernotfound', 'erroritemnotfound']);
/** The folder (a stored folder id, or a configured folder name) does not exist. */
export function isFolderMissing(error: unknown): boolean {
  return isMailSourceError(error) && FOLDER_MISSING_CODES.has(lower(error.code));
}

const MAILBOX_ERROR_CODES = new Set([
  'erroraccessdenied',
  'accessdenied',
  'authorization_requestdenied',
  'errorinvaliduser',
  'mailboxnotenabledforrestapi',
  'mailboxnotsupportedforrestapi',
  'errormailboxnotenabled',
  'errornonexistentmailbox',
  'resourcenotfound',
  'request_resourcenotfound',
  'errorfoldernotfound',
  'erroritemnotfound',
  'invalidauthenticationtoken',
]);

/**
 * A problem with this mailbox (or its folder, or the app's access to it) that retrying will not fix: the
 * account goes to Failed with the code and `remedyFor(code)`; other accounts are unaffected.
 */
export function isMailboxError(error: unknown): boolean {
  if (!isMailSourceError(error)) return false;
  if (isThrottled(error) || isDeltaExpired(error)) return false;
  return (
    MAILBOX_ERROR_CODES.has(lower(error.code)) || error.status === 403 || error.status === 401 || isAuthFailure(error)
  );
}

export type MailSourceErrorClass =
  'deltaExpired' | 'throttled' | 'unauthorized' | 'authFailure' | 'folderMissing' | 'mailbox' | 'transient' | 'unknown';

/** One place that decides what a failure means, in precedence order. */
export function classifyMailSourceError(error: unknown): MailSourceErrorClass {
  if (!isMailSourceError(error)) return 'unknown';
  if (isDeltaExpired(error)) return 'deltaExpired';
  if (isThrottled(error)) return 'throttled';
  if (isAuthFailure(error)) return 'authFailure';
  if (isUnauthorized(error)) return 'unauthorized';
  if (isFolderMissing(error)) return 'folderMissing';
  if (isMailboxError(error)) return 'mailbox';
  if (error.status === 0 || error.status >= 500 || error.status === 408) return 'transient';
  return 'unknown';
}

const REMEDIES: Record<string, string> = {
  erroraccessdenied:
    'The app may not read this mailbox. If the message says "Access to OData is disabled", the mailbox is outside ' +
    "the app's mailbox scope: add it to the RBAC for Applications management scope (or the Application Access " +
    'Policy group). Otherwise grant the application permission Mail.Read with admin consent and validate the service principal.',
  accessdenied: 'Grant the application permission Mail.Read with admin consent, then validate the service principal.',
  authorization_requestdenied:
    'The app lacks a required permission: grant Mail.Read (application) with admin consent in Entra ID.',
  errorinvaliduser:
    "No such mailbox in this tenant: check the account's email address and that its service principal belongs to the mailbox's tenant.",
  resourcenotfound:
    "No such user or mailbox in this tenant: check the account's email address and the service principal's tenant.",
  request_resourcenotfound:
    "No such user or mailbox in this tenant: check the account's email address and the service principal's tenant.",
  errornonexistentmailbox: 'The user has no Exchange Online mailbox: assign a licence or use a mailbox that exists.',
  mailboxnotenabledforrestapi:
    'The mailbox is not reachable through Microsoft Graph: it may be on-premises, inactive, soft-deleted or not yet provisioned. ' +
    'Move it to Exchange Online or check that it is active.',
  mailboxnotsupportedforrestapi:
    'This kind of mailbox is not supported by Microsoft Graph (e.g. on-premises or a public folder mailbox).',
  errormailboxnotenabled: 'The mailbox is disabled: enable it in Exchange Online.',
  errorfoldernotfound:
    "A folder in the account's folder filter does not exist: correct its name or path (e.g. Inbox/Orders) or remove it.",
  erroritemnotfound:
    "A folder in the account's folder filter no longer exists: correct its name or path or remove it from the filter.",
  invalidauthenticationtoken:
    "Microsoft Graph rejected the service principal's token: validate the service principal (tenant, credential, cloud).",
  invalid_client:
    "The service principal's credential was rejected: create a new client secret or certificate in Entra ID and update it.",
  aadsts7000215:
    "The client secret is wrong: copy the secret's value (not its id) from Entra ID into the service principal.",
  aadsts7000222: 'The client secret has expired: create a new one in Entra ID and update the service principal.',
  aadsts700016:
    'The app registration does not exist in this tenant: check the client id and tenant, or have an admin consent to the app in the tenant.',
  aadsts90002: 'The tenant was not found: check the tenant id and the cloud of the service principal.',
  aadsts65001: 'Admin consent is missing: a tenant administrator must grant consent to the application permissions.',
};

/** A human remedy for a Graph / Entra error code (case-insensitive), or a generic one. */
export function remedyFor(code: string): string {
  return (
    REMEDIES[lower(code)] ??
    (/^aadsts/i.test(code)
      ? 'Entra ID refused to issue a token: validate the service principal and check its credential and consent.'
      : 'Check the mailbox and the service principal (permissions, scoping, credential), then sync again.')
  );
}

/**
 * Parses a `Retry-After` header: delay seconds (`"30"`) or an HTTP date. Returns whole seconds ≥ 0, or
 * `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text));
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
