/**
 * Shared pieces of the mail routes: permissions, mailbox/folder/message resolution with Graph's errors,
 * OData context URLs and the `Prefer` options the core does not parse.
 */
import { SimHttpError, type RouteContext, type SimRequest, type SimUser } from '../contract';
import type { FolderState, MailboxStore, MailStore } from './store';

/** Application permissions, as Graph documents them per API. */
export const PERMISSIONS = {
  readBasic: ['Mail.ReadBasic.All', 'Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'],
  read: ['Mail.Read', 'Mail.ReadWrite'],
  folders: [
    'Mail.ReadBasic.All',
    'Mail.ReadBasic',
    'Mail.Read',
    'Mail.ReadWrite',
    'MailboxFolder.Read.All',
    'MailboxFolder.ReadWrite.All',
  ],
  write: ['Mail.ReadWrite'],
  send: ['Mail.Send'],
} as const;

export interface MailRouteServices {
  store: MailStore;
  now: () => Date;
}

export function hasAnyRole(ctx: RouteContext, roles: readonly string[]): boolean {
  const granted = new Set((ctx.caller?.roles ?? []).map((r) => r.toLowerCase()));
  return roles.some((r) => granted.has(r.toLowerCase()));
}

/** Mail.ReadBasic(.All) without Mail.Read: bodies and attachments are withheld. */
export function isReadBasic(ctx: RouteContext): boolean {
  return !hasAnyRole(ctx, PERMISSIONS.read);
}

export function userOf(ctx: RouteContext): SimUser {
  if (!ctx.mailbox) throw new SimHttpError(500, 'InternalServerError', 'The route has no resolved mailbox.');
  return ctx.mailbox;
}

export function mailboxOf(services: MailRouteServices, ctx: RouteContext): MailboxStore {
  return services.store.mailbox(userOf(ctx));
}

export function folderOr404(mailbox: MailboxStore, idOrName: string): FolderState {
  const folder = mailbox.findFolder(idOrName);
  if (folder) return folder;
  if (/^[A-Za-z0-9\-_+/]+={0,2}$/.test(idOrName) && idOrName.length >= 16) {
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  }
  throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
}

export function messageOr404(mailbox: MailboxStore, id: string): number {
  const found = mailbox.lookupMessage(id);
  if (found.ok) return found.slot;
  if (found.reason === 'malformed') throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
}

/** `users('a%40b.com')` as Graph writes it in `@odata.context`. */
export function contextUser(req: SimRequest): string {
  return `users('${encodeURIComponent(req.params['user'] ?? '')}')`;
}

export function metadata(ctx: RouteContext, fragment: string): string {
  return `${ctx.baseUrl}/v1.0/$metadata#${fragment}`;
}

/** `Prefer: outlook.body-content-type="text"` (the core parses only IdType and odata.maxpagesize). */
export function preferredBodyType(req: SimRequest): 'html' | 'text' | undefined {
  const header = req.headers['prefer'];
  const values = Array.isArray(header) ? header.join(',') : (header ?? '');
  const m = /outlook\.body-content-type\s*=\s*"?(text|html)"?/i.exec(values);
  return m?.[1] ? (m[1].toLowerCase() as 'html' | 'text') : undefined;
}

export function jsonBody<T>(req: SimRequest): T {
  const body = req.json<unknown>();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SimHttpError(400, 'BadRequest', 'The request body must be a JSON object.');
  }
  return body as T;
}
