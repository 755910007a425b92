/**
 * Change notification subscriptions for messages (webhooks): create with the notificationUrl validation
 * handshake, get, list, renew, reauthorize, delete; change notifications POSTed when messages of the
 * subscribed resource are created, updated or deleted; lifecycle notifications triggered from the control API.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { ChangeNotification, ChangeNotificationCollection, Subscription } from '@microsoft/microsoft-graph-types';
import {
  SimHttpError,
  type GraphCaller,
  type MailModuleDeps,
  type RouteContext,
  type SimRequest,
  type SimRouter,
} from '../contract';
import { PERMISSIONS, hasAnyRole, jsonBody, metadata } from './routes-common';
import type { ChangeType, MailChange, MailboxStore, MailStore } from './store';

/** Documented maximum lifetime of an Outlook message subscription. */
export const MAX_SUBSCRIPTION_MINUTES = 10_080;
const VALIDATION_TIMEOUT_MS = 10_000;
const DELIVERY_TIMEOUT_MS = 3_000;
/** Notifications raised within this window are sent in one POST per subscription. */
const BATCH_WINDOW_MS = 25;
const RETRY_DELAYS_MS = [1_000, 3_000, 9_000];
const MAX_SUBSCRIPTIONS_PER_MAILBOX = 1_000;

export interface SimSubscription {
  id: string;
  tenantId: string;
  appId: string;
  userId: string;
  /** As given at creation (echoed back). */
  resource: string;
  /** Folder slot for `mailFolders('…')/messages`; undefined for the whole mailbox. */
  folderSlot: number | undefined;
  changeTypes: ChangeType[];
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationMs: number;
  immutableIds: boolean;
  reauthorizationRequired: boolean;
}

type ResourceDataJson = { '@odata.type': string; '@odata.id': string; '@odata.etag'?: string; id: string };
type NotificationJson = Omit<ChangeNotification, 'resourceData'> & { resourceData?: ResourceDataJson };

export interface DeliveryResult {
  delivered: boolean;
  status?: number;
  error?: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '0000Z');
}

function badRequest(message: string, code = 'InvalidRequest'): SimHttpError {
  return new SimHttpError(400, code, message);
}

/** `users/{id}/messages`, `users/{id}/mailFolders('inbox')/messages`, `users/{id}/mailFolders/{id}/messages`. */
export function parseResource(resource: string): { user: string; folder: string | undefined } {
  const path = resource
    .trim()
    .replace(/^\/+/, '')
    .replace(/^(v1\.0|beta)\//i, '');
  if (/^me\//i.test(path)) {
    throw badRequest('/me request is only valid with delegated authentication flow.', 'ExtensionError');
  }
  const whole = /^users\/([^/]+)\/messages\/?$/i.exec(path);
  if (whole?.[1]) return { user: decodeURIComponent(whole[1]), folder: undefined };
  const folder = /^users\/([^/]+)\/mailFolders(?:\('([^']+)'\)|\/([^/]+))\/messages\/?$/i.exec(path);
  if (folder?.[1])
    return { user: decodeURIComponent(folder[1]), folder: decodeURIComponent(folder[2] ?? folder[3] ?? '') };
  throw badRequest(
    `Resource '${resource}' is not supported: use users/{id}/messages or users/{id}/mailFolders('{id}')/messages.`,
    'ExtensionError',
  );
}

/** POSTs a body to a webhook endpoint; resolves with the status (or an error), never rejects. */
function post(
  url: string,
  body: string,
  contentType: string,
  timeoutMs: number,
  inflight: Set<() => void>,
): Promise<{ status?: number; text: string; contentType?: string; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: { status?: number; text: string; contentType?: string; error?: string }): void => {
      if (settled) return;
      settled = true;
      inflight.delete(abort);
      clearTimeout(timer);
      resolve(result);
    };
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ text: '', error: 'invalid url' });
      return;
    }
    const req = httpsRequest(target, {
      method: 'POST',
      headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
    });
    const abort = (): void => {
      req.destroy();
      finish({ text: '', error: 'aborted' });
    };
    inflight.add(abort);
    const timer = setTimeout(() => {
      req.destroy();
      finish({ text: '', error: 'timeout' });
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const type = res.headers['content-type'];
        finish({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          ...(type ? { contentType: type } : {}),
        });
      });
      res.on('error', (e: Error) => finish({ text: '', error: e.message }));
    });
    req.on('error', (e: Error) => finish({ text: '', error: e.message }));
    req.end(body);
  });
}

export class SubscriptionService {
  private readonly subscriptions = new Map<string, SimSubscription>();
  private readonly pending = new Map<string, NotificationJson[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<() => void>();
  private readonly deliveries = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly store: MailStore,
    private readonly deps: MailModuleDeps,
  ) {
    store.onChange((change) => this.onChange(change));
  }

  /* ------------------------------------------------------------------ routes */

  register(router: SimRouter): void {
    router.add('POST', '/v1.0/subscriptions', (req, ctx) => this.create(req, ctx), { auth: 'graph' });
    router.add('GET', '/v1.0/subscriptions', (_req, ctx) => this.list(ctx), { auth: 'graph' });
    router.add('GET', '/v1.0/subscriptions/{id}', (req, ctx) => this.get(req, ctx), { auth: 'graph' });
    router.add('PATCH', '/v1.0/subscriptions/{id}', (req, ctx) => this.renew(req, ctx), { auth: 'graph' });
    router.add('DELETE', '/v1.0/subscriptions/{id}', (req, ctx) => this.remove(req, ctx), { auth: 'graph' });
    router.add('POST', '/v1.0/subscriptions/{id}/reauthorize', (req, ctx) => this.reauthorize(req, ctx), {
      auth: 'graph',
    });
    router.add(
      'POST',
      '/_sim/subscriptions/{id}/lifecycle',
      async (req) => {
        const sub = this.subscriptions.get(req.params['id'] ?? '');
        if (!sub) throw new SimHttpError(404, 'NotFound', `Subscription '${req.params['id'] ?? ''}' does not exist.`);
        const body = jsonBody<{ event?: unknown }>(req);
        const event = body.event;
        if (event !== 'reauthorizationRequired' && event !== 'subscriptionRemoved' && event !== 'missed') {
          throw badRequest("'event' must be reauthorizationRequired, subscriptionRemoved or missed.", 'BadRequest');
        }
        return { status: 200, body: await this.lifecycle(sub, event) };
      },
      { auth: 'none' },
    );
    router.add(
      'GET',
      '/_sim/subscriptions',
      () => ({ status: 200, body: { value: [...this.subscriptions.values()].map((s) => this.json(s)) } }),
      { auth: 'none' },
    );
  }

  private caller(ctx: RouteContext): GraphCaller {
    if (!ctx.caller) throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    return ctx.caller;
  }

  private json(sub: SimSubscription): Subscription {
    return {
      id: sub.id,
      resource: sub.resource,
      applicationId: sub.appId,
      changeType: sub.changeTypes.join(','),
      clientState: sub.clientState,
      notificationUrl: sub.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: sub.lifecycleNotificationUrl,
      expirationDateTime: iso(sub.expirationMs),
      creatorId: sub.appId,
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    };
  }

  /** The caller's live subscription, or 404 (expired ones are removed). */
  private owned(req: SimRequest, ctx: RouteContext): SimSubscription {
    const caller = this.caller(ctx);
    const sub = this.live(req.params['id'] ?? '');
    if (!sub || sub.appId !== caller.appId || sub.tenantId !== caller.tenantId) {
      throw new SimHttpError(404, 'ResourceNotFound', `The object was not found.`);
    }
    return sub;
  }

  private live(id: string): SimSubscription | undefined {
    const sub = this.subscriptions.get(id);
    if (sub && sub.expirationMs <= this.deps.now().getTime()) {
      this.subscriptions.delete(id);
      return undefined;
    }
    return sub;
  }

  private expiration(raw: unknown): number {
    const ms = typeof raw === 'string' ? Date.parse(raw) : NaN;
    if (!Number.isFinite(ms))
      throw badRequest("'expirationDateTime' is required and must be a date-time.", 'ExtensionError');
    const now = this.deps.now().getTime();
    if (ms <= now) throw badRequest('Subscription expiration must be in the future.', 'ExtensionError');
    if (ms > now + MAX_SUBSCRIPTION_MINUTES * 60_000) {
      throw badRequest(
        `Subscription expiration can only be ${MAX_SUBSCRIPTION_MINUTES} minutes in the future.`,
        'ExtensionError',
      );
    }
    return ms;
  }

  private async create(req: SimRequest, ctx: RouteContext) {
    const caller = this.caller(ctx);
    const body = jsonBody<Record<string, unknown>>(req);
    const { changeType, notificationUrl, lifecycleNotificationUrl, resource, clientState, includeResourceData } = body;
    if (typeof resource !== 'string' || !resource) throw badRequest("'resource' is required.");
    if (typeof notificationUrl !== 'string' || !notificationUrl) throw badRequest("'notificationUrl' is required.");
    if (typeof changeType !== 'string' || !changeType) throw badRequest("'changeType' is required.");
    const changeTypes = changeType.split(',').map((c) => c.trim());
    if (!changeTypes.every((c): c is ChangeType => c === 'created' || c === 'updated' || c === 'deleted')) {
      throw badRequest(`Invalid changeType '${changeType}': use created, updated and/or deleted.`);
    }
    if (
      clientState !== undefined &&
      clientState !== null &&
      (typeof clientState !== 'string' || clientState.length > 128)
    ) {
      throw badRequest("'clientState' must be a string of at most 128 characters.");
    }
    if (includeResourceData === true) {
      throw badRequest(
        'Notifications with resource data need an encryption certificate; the simulator does not support them.',
        'ExtensionError',
      );
    }
    for (const url of [notificationUrl, lifecycleNotificationUrl]) {
      if (url === undefined || url === null) continue;
      if (typeof url !== 'string' || !/^https:\/\//i.test(url)) {
        throw badRequest(
          `The notification URL '${typeof url === 'string' ? url : JSON.stringify(url)}' must use the https scheme.`,
          'ValidationError',
        );
      }
    }
    const expirationMs = this.expiration(body['expirationDateTime']);
    if (!hasAnyRole(ctx, PERMISSIONS.readBasic)) {
      throw new SimHttpError(
        403,
        'ExtensionError',
        'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]',
      );
    }
    const target = parseResource(resource);
    // Mailbox resolution, scope and mailbox checks exactly as a Graph call on that mailbox would see them.
    const probe = await this.deps.router.dispatch({
      method: 'GET',
      url: `/v1.0/users/${encodeURIComponent(target.user)}/mailFolders/${encodeURIComponent(target.folder ?? 'inbox')}?$select=id`,
      headers: { authorization: String(req.headers['authorization'] ?? '') },
    });
    if (probe.status >= 400) {
      const error = (probe.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new SimHttpError(
        probe.status,
        error?.code ?? 'ExtensionError',
        error?.message ?? 'The resource could not be accessed.',
        probe.headers ?? {},
      );
    }
    const user = this.deps.directory.getUser(caller.tenantId, target.user);
    if (!user) throw new SimHttpError(404, 'ErrorInvalidUser', `The requested user '${target.user}' is invalid.`);
    const mailbox = this.store.mailbox(user);
    const folderSlot = target.folder === undefined ? undefined : mailbox.findFolder(target.folder)?.slot;
    const perMailbox = [...this.subscriptions.values()].filter((s) => s.userId === user.id).length;
    if (perMailbox >= MAX_SUBSCRIPTIONS_PER_MAILBOX) {
      throw new SimHttpError(
        403,
        'ExtensionError',
        `The mailbox has reached its limit of ${MAX_SUBSCRIPTIONS_PER_MAILBOX} subscriptions.`,
      );
    }
    for (const url of [notificationUrl, lifecycleNotificationUrl]) {
      if (typeof url === 'string') await this.validate(url);
    }
    const sub: SimSubscription = {
      id: randomUUID(),
      tenantId: caller.tenantId,
      appId: caller.appId,
      userId: user.id,
      resource,
      folderSlot,
      changeTypes,
      notificationUrl,
      lifecycleNotificationUrl: typeof lifecycleNotificationUrl === 'string' ? lifecycleNotificationUrl : null,
      clientState: typeof clientState === 'string' ? clientState : null,
      expirationMs,
      immutableIds: ctx.immutableIds,
      reauthorizationRequired: false,
    };
    this.subscriptions.set(sub.id, sub);
    return { status: 201, body: { '@odata.context': metadata(ctx, 'subscriptions/$entity'), ...this.json(sub) } };
  }

  /** The validation handshake: POST `?validationToken=…`, expect 200 text/plain echoing the token within 10 s. */
  private async validate(url: string): Promise<void> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const separator = url.includes('?') ? '&' : '?';
    const result = await post(
      `${url}${separator}validationToken=${encodeURIComponent(token)}`,
      '',
      'text/plain; charset=utf-8',
      VALIDATION_TIMEOUT_MS,
      this.inflight,
    );
    if (result.error === 'timeout') {
      throw badRequest(
        'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request within 10 seconds.',
        'ValidationError',
      );
    }
    if (result.status !== 200) {
      throw badRequest(
        `Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.${result.error ? ` (${result.error})` : ''}`,
        'ValidationError',
      );
    }
    if (!(result.contentType ?? '').toLowerCase().startsWith('text/plain')) {
      throw badRequest(
        'Subscription validation request failed. Response must have content type text/plain.',
        'ValidationError',
      );
    }
    if (result.text.trim() !== token) {
      throw badRequest(
        'Subscription validation request failed. Response must exactly match validationToken query parameter.',
        'ValidationError',
      );
    }
  }

  private list(ctx: RouteContext) {
    const caller = this.caller(ctx);
    const mine = [...this.subscriptions.keys()]
      .map((id) => this.live(id))
      .filter((s): s is SimSubscription => !!s && s.appId === caller.appId && s.tenantId === caller.tenantId);
    return {
      status: 200,
      body: { '@odata.context': metadata(ctx, 'subscriptions'), value: mine.map((s) => this.json(s)) },
    };
  }

  private get(req: SimRequest, ctx: RouteContext) {
    const sub = this.owned(req, ctx);
    return { status: 200, body: { '@odata.context': metadata(ctx, 'subscriptions/$entity'), ...this.json(sub) } };
  }

  private async renew(req: SimRequest, ctx: RouteContext) {
    const sub = this.owned(req, ctx);
    const body = jsonBody<Record<string, unknown>>(req);
    for (const name of Object.keys(body)) {
      if (name !== 'expirationDateTime' && name !== 'notificationUrl') {
        throw badRequest(`Property '${name}' cannot be updated on a subscription.`, 'ExtensionError');
      }
    }
    if (body['expirationDateTime'] !== undefined) sub.expirationMs = this.expiration(body['expirationDateTime']);
    if (typeof body['notificationUrl'] === 'string' && body['notificationUrl'] !== sub.notificationUrl) {
      await this.validate(body['notificationUrl']);
      sub.notificationUrl = body['notificationUrl'];
    }
    sub.reauthorizationRequired = false;
    return { status: 200, body: { '@odata.context': metadata(ctx, 'subscriptions/$entity'), ...this.json(sub) } };
  }

  private remove(req: SimRequest, ctx: RouteContext) {
    const sub = this.owned(req, ctx);
    this.subscriptions.delete(sub.id);
    this.pending.delete(sub.id);
    return { status: 204 };
  }

  private reauthorize(req: SimRequest, ctx: RouteContext) {
    const sub = this.owned(req, ctx);
    sub.reauthorizationRequired = false;
    return { status: 204 };
  }

  /* ------------------------------------------------------------------ notifications */

  private onChange(change: MailChange): void {
    if (this.closed || this.subscriptions.size === 0) return;
    const mailbox = change.mailbox;
    const nowMs = this.deps.now().getTime();
    for (const sub of this.subscriptions.values()) {
      if (sub.userId !== mailbox.user.id || sub.expirationMs <= nowMs) continue;
      if (sub.folderSlot !== undefined && sub.folderSlot !== change.folderSlot) continue;
      if (!sub.changeTypes.includes(change.changeType)) continue;
      this.enqueue(sub, this.notification(sub, mailbox, change));
    }
  }

  /** Ids are computed now: after a move or delete the message's current id no longer names it. */
  private notification(sub: SimSubscription, mailbox: MailboxStore, change: MailChange): NotificationJson {
    const t = mailbox.table;
    const id = mailbox.historicalMessageId(
      change.slot,
      change.folderSlot,
      t.moveGen[change.slot] ?? 0,
      sub.immutableIds,
    );
    const path = `Users/${mailbox.user.id}/Messages/${id}`;
    const resourceData: ResourceDataJson = { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': path, id };
    if (change.changeType !== 'deleted') resourceData['@odata.etag'] = `W/"${mailbox.changeKeyOf(change.slot)}"`;
    return {
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: iso(sub.expirationMs),
      changeType: change.changeType,
      resource: path,
      resourceData,
      clientState: sub.clientState,
      tenantId: sub.tenantId,
    };
  }

  private enqueue(sub: SimSubscription, notification: NotificationJson): void {
    const list = this.pending.get(sub.id) ?? [];
    list.push(notification);
    this.pending.set(sub.id, list);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, BATCH_WINDOW_MS);
  }

  private flush(): void {
    for (const [id, notifications] of this.pending) {
      this.pending.delete(id);
      const sub = this.subscriptions.get(id);
      if (!sub) continue;
      for (let i = 0; i < notifications.length; i += 100) {
        this.track(this.deliver(sub.notificationUrl, { value: notifications.slice(i, i + 100) }, 0));
      }
    }
  }

  private track(promise: Promise<unknown>): void {
    this.deliveries.add(promise);
    void promise.finally(() => this.deliveries.delete(promise));
  }

  /** POSTs a notification collection; non-2xx or no answer within 3 s is retried a few times, then dropped. */
  private async deliver(url: string, payload: ChangeNotificationCollection, attempt: number): Promise<DeliveryResult> {
    if (this.closed) return { delivered: false, error: 'closed' };
    const result = await post(
      url,
      JSON.stringify(payload),
      'application/json; charset=utf-8',
      DELIVERY_TIMEOUT_MS,
      this.inflight,
    );
    if (result.status !== undefined && result.status >= 200 && result.status < 300)
      return { delivered: true, status: result.status };
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay !== undefined && !this.closed) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(this.deliver(url, payload, attempt + 1));
      }, delay);
      this.timers.add(timer);
    }
    return {
      delivered: false,
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error ? { error: result.error } : {}),
    };
  }

  /** Sends a lifecycle notification now (control API); `subscriptionRemoved` also removes the subscription. */
  async lifecycle(
    sub: SimSubscription,
    event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed',
  ): Promise<DeliveryResult> {
    if (!sub.lifecycleNotificationUrl) {
      throw new SimHttpError(
        409,
        'NoLifecycleNotificationUrl',
        'The subscription was created without a lifecycleNotificationUrl.',
      );
    }
    const notification: ChangeNotification = {
      subscriptionId: sub.id,
      subscriptionExpirationDateTime: iso(sub.expirationMs),
      tenantId: sub.tenantId,
      clientState: sub.clientState,
      lifecycleEvent: event,
    };
    if (event === 'subscriptionRemoved') this.subscriptions.delete(sub.id);
    if (event === 'reauthorizationRequired') sub.reauthorizationRequired = true;
    return this.deliver(sub.lifecycleNotificationUrl, { value: [notification] }, RETRY_DELAYS_MS.length);
  }

  reset(): void {
    this.subscriptions.clear();
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const abort of [...this.inflight]) abort();
    await Promise.allSettled([...this.deliveries]);
  }
}
