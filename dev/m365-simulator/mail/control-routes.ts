/**
 * Mail control API (`/_sim/mailboxes/{user}/…`, no auth, loopback only): seed a mailbox, deliver messages
 * (generated or given), move, patch, delete, expire delta tokens, list folders and messages.
 * `{user}` is a UPN / address of a directory user, or the id of a mailbox that already exists.
 */
import type { Message } from '@microsoft/microsoft-graph-types';
import { SimHttpError, type MailboxSeed, type MailModuleDeps, type SimRequest, type SimRouter } from '../contract';
import { composeContent } from './compose';
import { generateMessage, GenKind } from './generator';
import { hash32 } from './prng';
import { folderSummary } from './routes-read';
import { jsonBody, type MailRouteServices } from './routes-common';
import { messageUpdate } from './routes-write';
import { isoSeconds } from './serialize';
import { genKindForFolder, type FolderState, type MailboxStore } from './store';

const MAILBOX = '/_sim/mailboxes/{user}';
const MAX_DELIVERY = 100_000;

function bad(message: string): SimHttpError {
  return new SimHttpError(400, 'BadRequest', message);
}

export function validateMailboxSeed(body: unknown): MailboxSeed {
  const seed = body as Partial<MailboxSeed> | null;
  if (!seed || typeof seed !== 'object') throw bad('A MailboxSeed object is required.');
  if (typeof seed.seed !== 'number' || !Number.isInteger(seed.seed)) throw bad("'seed' must be an integer.");
  if (!seed.folders || typeof seed.folders !== 'object')
    throw bad("'folders' must map folder paths to message counts.");
  for (const [path, count] of Object.entries(seed.folders)) {
    if (!path.trim()) throw bad('Folder paths must not be empty.');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 1_000_000) {
      throw bad(`The count for '${path}' must be an integer from 0 to 1,000,000.`);
    }
  }
  if (
    seed.attachmentRate !== undefined &&
    (typeof seed.attachmentRate !== 'number' || seed.attachmentRate < 0 || seed.attachmentRate > 1)
  ) {
    throw bad("'attachmentRate' must be between 0 and 1.");
  }
  if (seed.since !== undefined && (typeof seed.since !== 'string' || !Number.isFinite(Date.parse(seed.since)))) {
    throw bad("'since' must be an ISO date-time.");
  }
  return seed as MailboxSeed;
}

export function registerControlRoutes(router: SimRouter, services: MailRouteServices, deps: MailModuleDeps): void {
  const mailboxFor = (req: SimRequest): MailboxStore => {
    const param = req.params['user'] ?? '';
    const user = deps.directory.findByAddress(param);
    if (user) return services.store.mailbox(user);
    const existing = services.store.find(param);
    if (existing) return existing;
    throw new SimHttpError(
      404,
      'ErrorInvalidUser',
      `No simulated user or mailbox '${param}' (use the UPN, or the id of a seeded mailbox).`,
    );
  };
  const folderFor = (mailbox: MailboxStore, ref: unknown, create: boolean): FolderState => {
    if (ref === undefined || ref === null) return mailbox.wellKnown('inbox');
    if (typeof ref !== 'string' || !ref.trim())
      throw bad('A folder must be a display-name path, well-known name or folder id.');
    const folder = mailbox.findFolder(ref) ?? mailbox.resolveFolderPath(ref, create);
    if (!folder) throw new SimHttpError(404, 'ErrorItemNotFound', `Folder '${ref}' does not exist.`);
    return folder;
  };
  const slotFor = (mailbox: MailboxStore, id: string): number => {
    const found = mailbox.lookupMessage(id);
    if (!found.ok) throw new SimHttpError(404, 'ErrorItemNotFound', `Message '${id}' does not exist.`);
    return found.slot;
  };
  const summaries = (mailbox: MailboxStore) =>
    mailbox.folders.filter((f) => f.parentSlot >= 0).map((f) => folderSummary(mailbox, f));

  router.add(
    'POST',
    `${MAILBOX}/seed`,
    (req) => {
      const mailbox = mailboxFor(req);
      const seeded = mailbox.seedMailbox(validateMailboxSeed(req.json()));
      return { status: 200, body: { seeded, folders: summaries(mailbox) } };
    },
    { auth: 'none' },
  );

  router.add(
    'POST',
    `${MAILBOX}/messages`,
    (req, ctx) => {
      const mailbox = mailboxFor(req);
      const body = jsonBody<{ folder?: unknown; count?: unknown; seed?: unknown; message?: Message }>(req);
      const folder = folderFor(mailbox, body.folder, true);
      const count = body.count === undefined ? 1 : body.count;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_DELIVERY) {
        throw bad(`'count' must be an integer from 1 to ${MAX_DELIVERY}.`);
      }
      if (body.seed !== undefined && (typeof body.seed !== 'number' || !Number.isInteger(body.seed)))
        throw bad("'seed' must be an integer.");
      const kind = genKindForFolder(folder);
      const nowMs = services.now().getTime();
      const slots: number[] = [];
      for (let i = 0; i < count; i++) {
        const receivedMs = nowMs - (count - 1 - i);
        if (body.message !== undefined) {
          if (typeof body.message !== 'object' || body.message === null) throw bad("'message' must be an object.");
          const seed =
            typeof body.seed === 'number'
              ? hash32(body.seed, i)
              : hash32(mailbox.seed, mailbox.table.count, 0x6374726c);
          const base = generateMessage({ ...mailbox.generator, seed }, 0, kind, receivedMs);
          const received =
            typeof body.message.receivedDateTime === 'string' ? Date.parse(body.message.receivedDateTime) : NaN;
          const content = composeContent(body.message, {
            from: null,
            nowMs,
            domain: mailbox.owner.address.split('@')[1] ?? 'contoso.com',
            anyHeaders: true,
            defaults: base,
          });
          const isRead =
            typeof body.message.isRead === 'boolean'
              ? body.message.isRead
              : kind === GenKind.Sent || kind === GenKind.Draft;
          slots.push(
            mailbox.addMessage({
              folderSlot: folder.slot,
              receivedMs: Number.isFinite(received) ? received : receivedMs,
              content,
              genKind: kind,
              isRead,
            }),
          );
        } else {
          slots.push(
            mailbox.addMessage({
              folderSlot: folder.slot,
              receivedMs,
              genKind: kind,
              isRead: kind === GenKind.Sent || kind === GenKind.Draft,
              ...(typeof body.seed === 'number' ? { genSeed: body.seed } : {}),
            }),
          );
        }
      }
      return {
        status: 201,
        body: {
          ids: slots.map((s) => mailbox.messageId(s, ctx.immutableIds)),
          restIds: slots.map((s) => mailbox.messageId(s, false)),
          immutableIds: slots.map((s) => mailbox.messageId(s, true)),
        },
      };
    },
    { auth: 'none' },
  );

  router.add(
    'GET',
    `${MAILBOX}/messages`,
    (req) => {
      const mailbox = mailboxFor(req);
      const folderRef = req.query.get('folder');
      const folder = folderRef === null ? undefined : folderFor(mailbox, folderRef, false);
      const top = Math.min(Number(req.query.get('top') ?? 100) || 100, 10_000);
      const slots = Array.from(mailbox.sortedSlots(folder?.slot).subarray(0, top));
      return {
        status: 200,
        body: {
          value: slots.map((slot) => ({
            id: mailbox.messageId(slot, false),
            immutableId: mailbox.messageId(slot, true),
            subject: mailbox.content(slot).subject,
            receivedDateTime: isoSeconds(mailbox.table.received[slot] ?? 0),
            isRead: mailbox.isRead(slot),
            folder: mailbox.folderPath(mailbox.folderOf(slot)),
          })),
        },
      };
    },
    { auth: 'none' },
  );

  router.add(
    'POST',
    `${MAILBOX}/messages/{id}/move`,
    (req, ctx) => {
      const mailbox = mailboxFor(req);
      const slot = slotFor(mailbox, req.params['id'] ?? '');
      const body = jsonBody<{ destination?: unknown }>(req);
      if (body.destination === undefined) throw bad("'destination' (folder name, path or id) is required.");
      mailbox.moveMessage(slot, folderFor(mailbox, body.destination, false).slot);
      return {
        status: 200,
        body: {
          id: mailbox.messageId(slot, ctx.immutableIds),
          restId: mailbox.messageId(slot, false),
          immutableId: mailbox.messageId(slot, true),
        },
      };
    },
    { auth: 'none' },
  );

  router.add(
    'PATCH',
    `${MAILBOX}/messages/{id}`,
    (req, ctx) => {
      const mailbox = mailboxFor(req);
      const slot = slotFor(mailbox, req.params['id'] ?? '');
      mailbox.updateMessage(slot, messageUpdate(jsonBody<Record<string, unknown>>(req), true, true));
      return {
        status: 200,
        body: { id: mailbox.messageId(slot, ctx.immutableIds), changeKey: mailbox.changeKeyOf(slot) },
      };
    },
    { auth: 'none' },
  );

  router.add(
    'DELETE',
    `${MAILBOX}/messages/{id}`,
    (req) => {
      const mailbox = mailboxFor(req);
      mailbox.deleteMessage(slotFor(mailbox, req.params['id'] ?? ''));
      return { status: 204 };
    },
    { auth: 'none' },
  );

  router.add(
    'POST',
    `${MAILBOX}/delta/expire`,
    (req) => {
      const mailbox = mailboxFor(req);
      const body = req.body.length ? jsonBody<{ folder?: unknown; code?: unknown; status?: unknown }>(req) : {};
      const folder = body.folder === undefined ? undefined : folderFor(mailbox, body.folder, false);
      if (body.code !== undefined && (typeof body.code !== 'string' || !body.code))
        throw bad("'code' must be a string such as SyncStateNotFound or resyncRequired.");
      if (body.status !== undefined && (typeof body.status !== 'number' || body.status < 400 || body.status > 499))
        throw bad("'status' must be a 4xx status.");
      mailbox.expireDelta(folder?.slot, {
        ...(typeof body.code === 'string' ? { code: body.code } : {}),
        ...(typeof body.status === 'number' ? { status: body.status } : {}),
      });
      return { status: 204 };
    },
    { auth: 'none' },
  );

  router.add('GET', `${MAILBOX}/folders`, (req) => ({ status: 200, body: summaries(mailboxFor(req)) }), {
    auth: 'none',
  });
}
