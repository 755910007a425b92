/**
 * The seam between the simulator's core (server, router, Entra ID, Key Vault, directory, limits, faults,
 * counters, control API for tenants/apps/users) and its mail module (folders, messages, delta, attachments,
 * MIME, send/reply, subscriptions, $batch, mail control routes).
 *
 * The core owns: server.ts, router.ts, entra/, keyvault/, directory.ts, limits.ts, control.ts, cli.ts.
 * The mail module owns: mail/ (entry point mail/index.ts exporting `registerMailRoutes`).
 * Neither edits the other's files; both depend only on this contract.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A parsed incoming request. `path` has no query string; `params` come from the route pattern. */
export interface SimRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Parses the body as JSON; throws a 400 `BadRequest` SimHttpError when it is not JSON. */
  json<T = unknown>(): T;
}

/**
 * What a handler returns. `body`: an object is sent as JSON (`application/json; odata.metadata=minimal`
 * unless `headers['content-type']` says otherwise); a string or Buffer as is; a `stream.Readable` is piped.
 * Empty 202/204 responses carry no content-type.
 */
export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A Graph-shaped error a handler can throw; the core renders it as `{ error: { code, message, innerError } }`. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Who called: from the validated Graph access token. */
export interface GraphCaller {
  tenantId: string;
  appId: string;
  /** Application permissions granted (`Mail.Read`, `Mail.ReadWrite`, `Mail.Send`, `User.Read.All`, ...). */
  roles: string[];
}

/** A directory user (user mailbox or shared mailbox). */
export interface SimUser {
  id: string;
  tenantId: string;
  userPrincipalName: string;
  mail: string;
  displayName: string;
  /** mailboxSettings.userPurpose */
  userPurpose: 'user' | 'shared' | 'room' | 'equipment' | 'linked' | 'others';
  /** false → MailboxNotEnabledForRESTAPI */
  mailboxEnabled: boolean;
}

export interface RouteContext {
  /** Present on routes registered with `auth: 'graph'`. */
  caller?: GraphCaller;
  /** Present when the route has a `{user}` param: resolved (id or UPN, case-insensitive), in the caller's
   *  tenant, inside the app's mailbox scope, with its mailbox enabled (the core answers 404 / 403 otherwise). */
  mailbox?: SimUser;
  /** `Prefer: IdType="ImmutableId"` was sent on this request. */
  immutableIds: boolean;
  /** `Prefer: odata.maxpagesize=N`, when sent. */
  maxPageSize?: number;
  /** The simulator's public base URL, e.g. `https://127.0.0.1:8443` (for nextLink / deltaLink). */
  baseUrl: string;
}

export type RouteHandler = (req: SimRequest, ctx: RouteContext) => SimResponse | Promise<SimResponse>;

export interface RouteOptions {
  /** `graph`: requires a valid Graph token for the mailbox's tenant; `none`: control and metadata routes. */
  auth: 'graph' | 'none';
  /** Any one of these application permissions suffices; otherwise 403 `ErrorAccessDenied`. */
  anyOf?: string[];
}

/**
 * Patterns use `{name}` segments, e.g. `/v1.0/users/{user}/mailFolders/{folderId}/messages/delta`.
 * A segment may also be a literal containing `$` such as `$value`. Matching is case-insensitive on
 * literal segments; params keep their original case (Graph ids are case-sensitive).
 * Graph routes count toward throttling, fault injection and counters (the core does that for every route
 * registered with `auth: 'graph'`, keyed by app + mailbox).
 */
export interface SimRouter {
  add(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    pattern: string,
    handler: RouteHandler,
    options: RouteOptions,
  ): void;
  /** Runs a sub-request through the full pipeline (auth, limits, handler) — used by `$batch`. */
  dispatch(request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<SimResponse>;
}

/** Services the core hands to the mail module. */
export interface MailModuleDeps {
  router: SimRouter;
  directory: {
    getUser(tenantId: string, idOrUpn: string): SimUser | undefined;
    /** Every user of a tenant (for delivering mail to recipients hosted in the simulator). */
    findByAddress(address: string): SimUser | undefined;
  };
  baseUrl: () => string;
  now: () => Date;
}

/** Per-mailbox generation spec (control API and seed files). Generated deterministically from `seed`. */
export interface MailboxSeed {
  seed: number;
  /** How many messages per folder, by display name (`Inbox`, `Sent Items`, `Archive/2024`, ...). */
  folders: Record<string, number>;
  /** Share of messages with attachments (0–1), default 0.1. */
  attachmentRate?: number;
  /** Earliest receivedDateTime (ISO); messages are spread from there to now. */
  since?: string;
}

export interface MailModule {
  /** Creates the mailbox's folders and generated messages (idempotent per user). */
  seedMailbox(user: SimUser, seed: MailboxSeed): void;
  /** Forget all mail state (tests). */
  reset(): void;
  /** Stop timers (subscription notifications). */
  close(): Promise<void>;
}

export type RegisterMailRoutes = (deps: MailModuleDeps) => MailModule;
