/**
 * Write routes: update, delete and move a message; sendMail and reply (saved to Sent Items, delivered to
 * recipients hosted in the simulator).
 */
import type { FollowupFlag, Message } from '@microsoft/microsoft-graph-types';
import { SimHttpError, type MailModuleDeps, type RouteHandler, type SimRouter, type SimUser } from '../contract';
import { allRecipients, composeContent, replyContent } from './compose';
import { GenKind, type MessageContent, type Person } from './generator';
import {
  PERMISSIONS,
  contextUser,
  folderOr404,
  isReadBasic,
  jsonBody,
  mailboxOf,
  messageOr404,
  metadata,
  userOf,
  type MailRouteServices,
} from './routes-common';
import { messageJson } from './serialize';
import type { FlagStatus, MailboxStore, MessagePatch } from './store';

const USER = '/v1.0/users/{user}';
/** Largest JSON request Graph accepts for sendMail / reply (larger attachments need upload sessions). */
const MAX_SEND_BYTES = 4 * 1024 * 1024;

const UPDATABLE = new Set([
  'isRead',
  'categories',
  'flag',
  'importance',
  'inferenceClassification',
  'subject',
  'body',
  'isReadReceiptRequested',
  'isDeliveryReceiptRequested',
]);
const DRAFT_ONLY = new Set(['subject', 'body']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a Graph `PATCH /messages/{id}` body into a store update. */
export function messageUpdate(
  body: Record<string, unknown>,
  isDraft: boolean,
  allowAny: boolean,
): { isRead?: boolean; flagStatus?: FlagStatus; patch: MessagePatch } {
  const update: { isRead?: boolean; flagStatus?: FlagStatus; patch: MessagePatch } = { patch: {} };
  for (const [name, value] of Object.entries(body)) {
    if (name.startsWith('@odata.')) continue;
    if (!UPDATABLE.has(name)) {
      throw new SimHttpError(
        400,
        'RequestBodyRead',
        `The property '${name}' does not exist on type 'microsoft.graph.message' or cannot be updated.`,
      );
    }
    if (DRAFT_ONLY.has(name) && !isDraft && !allowAny) {
      throw new SimHttpError(
        400,
        'ErrorInvalidPropertyUpdateSentMessage',
        `Update operation failed: property '${name}' can't be updated for a sent message.`,
      );
    }
    const invalid = (): SimHttpError =>
      new SimHttpError(400, 'RequestBodyRead', `Invalid value for property '${name}'.`);
    switch (name) {
      case 'isRead':
        if (typeof value !== 'boolean') throw invalid();
        update.isRead = value;
        break;
      case 'categories':
        if (!Array.isArray(value) || !value.every((c) => typeof c === 'string')) throw invalid();
        update.patch.categories = value;
        break;
      case 'importance':
        if (value !== 'low' && value !== 'normal' && value !== 'high') throw invalid();
        update.patch.importance = value;
        break;
      case 'inferenceClassification':
        if (value !== 'focused' && value !== 'other') throw invalid();
        update.patch.inferenceClassification = value;
        break;
      case 'subject':
        if (typeof value !== 'string') throw invalid();
        update.patch.subject = value;
        break;
      case 'body': {
        if (!isObject(value) || typeof value['content'] !== 'string') throw invalid();
        update.patch.body = {
          contentType: value['contentType'] === 'text' ? 'text' : 'html',
          content: value['content'],
        };
        break;
      }
      case 'flag': {
        if (!isObject(value)) throw invalid();
        const flag = value as FollowupFlag;
        const status = flag.flagStatus ?? 'flagged';
        if (status !== 'notFlagged' && status !== 'flagged' && status !== 'complete') throw invalid();
        update.flagStatus = status;
        update.patch.flag = {
          ...(flag.startDateTime !== undefined ? { startDateTime: flag.startDateTime as never } : {}),
          ...(flag.dueDateTime !== undefined ? { dueDateTime: flag.dueDateTime as never } : {}),
          ...(flag.completedDateTime !== undefined ? { completedDateTime: flag.completedDateTime as never } : {}),
        };
        break;
      }
      default:
        break;
    }
  }
  return update;
}

/** Stores a sent message in the sender's Sent Items and delivers copies to hosted recipients' Inboxes. */
export function deliver(
  services: MailRouteServices,
  deps: Pick<MailModuleDeps, 'directory'>,
  sender: MailboxStore | undefined,
  content: MessageContent,
  saveToSentItems: boolean,
): void {
  const nowMs = services.now().getTime();
  if (sender && saveToSentItems) {
    sender.addMessage({
      folderSlot: sender.wellKnown('sentitems').slot,
      receivedMs: nowMs,
      content,
      genKind: GenKind.Sent,
      isRead: true,
      createdMs: nowMs,
    });
  }
  const delivered: MessageContent = { ...content, bcc: [], sentOffsetMs: 0 };
  for (const recipient of allRecipients(content)) {
    const user: SimUser | undefined = deps.directory.findByAddress(recipient.address);
    if (!user?.mailboxEnabled) continue;
    const mailbox = services.store.mailbox(user);
    mailbox.addMessage({
      folderSlot: mailbox.wellKnown('inbox').slot,
      receivedMs: nowMs,
      content: delivered,
      genKind: GenKind.Incoming,
      isRead: false,
      createdMs: nowMs,
    });
  }
}

function ownerOf(user: SimUser): Person {
  return { name: user.displayName, address: user.mail || user.userPrincipalName };
}

function sizeCheck(body: Buffer): void {
  if (body.length > MAX_SEND_BYTES) {
    throw new SimHttpError(
      413,
      'RequestEntityTooLarge',
      'The maximum request length supported is 4MB. Use an upload session for larger attachments.',
    );
  }
}

export function registerWriteRoutes(router: SimRouter, services: MailRouteServices, deps: MailModuleDeps): void {
  const write = [...PERMISSIONS.write];

  const patch: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const update = messageUpdate(jsonBody<Record<string, unknown>>(req), mailbox.content(slot).isDraft, false);
    mailbox.updateMessage(slot, update);
    const json = messageJson(mailbox, slot, { immutable: ctx.immutableIds, readBasic: isReadBasic(ctx) });
    return { status: 200, body: { '@odata.context': metadata(ctx, `${contextUser(req)}/messages/$entity`), ...json } };
  };
  const remove: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    mailbox.deleteMessage(messageOr404(mailbox, req.params['id'] ?? ''));
    return { status: 204 };
  };
  const move: RouteHandler = (req, ctx) => {
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const body = jsonBody<{ destinationId?: unknown }>(req);
    if (typeof body.destinationId !== 'string')
      throw new SimHttpError(400, 'ErrorInvalidParameter', "The 'destinationId' parameter is required.");
    const destination = folderOr404(mailbox, body.destinationId);
    mailbox.moveMessage(slot, destination.slot);
    const json = messageJson(mailbox, slot, { immutable: ctx.immutableIds, readBasic: isReadBasic(ctx) });
    return { status: 201, body: { '@odata.context': metadata(ctx, `${contextUser(req)}/messages/$entity`), ...json } };
  };
  for (const prefix of [`${USER}/messages/{id}`, `${USER}/mailFolders/{folderId}/messages/{id}`]) {
    router.add('PATCH', prefix, patch, { auth: 'graph', anyOf: write });
    router.add('DELETE', prefix, remove, { auth: 'graph', anyOf: write });
    router.add('POST', `${prefix}/move`, move, { auth: 'graph', anyOf: write });
  }

  router.add(
    'POST',
    `${USER}/sendMail`,
    (req, ctx) => {
      sizeCheck(req.body);
      const user = userOf(ctx);
      const body = jsonBody<{ message?: Message; saveToSentItems?: unknown }>(req);
      if (!isObject(body.message))
        throw new SimHttpError(400, 'ErrorInvalidParameter', "The 'message' parameter is required.");
      const from = ownerOf(user);
      const content = composeContent(body.message, {
        from,
        nowMs: services.now().getTime(),
        domain: from.address.split('@')[1] ?? 'contoso.com',
      });
      if (allRecipients(content).length === 0) {
        throw new SimHttpError(
          400,
          'ErrorInvalidRecipients',
          "At least one recipient isn't valid., Recipient is missing.",
        );
      }
      const save = body.saveToSentItems !== false && body.saveToSentItems !== 'false';
      deliver(services, deps, mailboxOf(services, ctx), content, save);
      return { status: 202 };
    },
    { auth: 'graph', anyOf: [...PERMISSIONS.send] },
  );

  const reply: RouteHandler = (req, ctx) => {
    sizeCheck(req.body);
    const mailbox = mailboxOf(services, ctx);
    const slot = messageOr404(mailbox, req.params['id'] ?? '');
    const body = req.body.length ? jsonBody<{ comment?: unknown; message?: Message }>(req) : {};
    const original = mailbox.content(slot);
    const received = mailbox.table.received[slot] ?? 0;
    const nowMs = services.now().getTime();
    const content = replyContent(
      original,
      ownerOf(userOf(ctx)),
      typeof body.comment === 'string' ? body.comment : '',
      isObject(body.message) ? body.message : undefined,
      nowMs,
      received - (original.sentOffsetMs ?? 0),
    );
    if (allRecipients(content).length === 0) {
      throw new SimHttpError(
        400,
        'ErrorInvalidRecipients',
        "At least one recipient isn't valid., Recipient is missing.",
      );
    }
    deliver(services, deps, mailbox, content, true);
    return { status: 202 };
  };
  for (const prefix of [`${USER}/messages/{id}`, `${USER}/mailFolders/{folderId}/messages/{id}`]) {
    router.add('POST', `${prefix}/reply`, reply, { auth: 'graph', anyOf: [...PERMISSIONS.send] });
  }
}
