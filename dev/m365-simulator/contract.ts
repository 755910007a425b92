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

/* ------------------------------------------------------------------------------------------------------
 * Public surface used by tests, benchmarks, `npm start` and other engineers (implemented by the core,
 * except the routes marked (mail), implemented by the mail module).
 *
 * Start in-process:  `import { startSimulator } from 'dev/m365-simulator/server'`
 *   startSimulator(options: SimulatorOptions): Promise<StartedSimulator>
 * Standalone:        `npm run sim -- --port 8443 [--seed seed.json]`
 *
 * Entra ID (per tenant id, or a tenant's verified domain):
 *   POST /{tenant}/oauth2/v2.0/token                 client_credentials: client_secret or client_assertion (JWT)
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration
 *   GET  /{tenant}/discovery/v2.0/keys  and  /common/discovery/v2.0/keys   (JWKS, RS256)
 *   Access tokens: RS256 JWT with iss `${url}/{tenantId}/v2.0`, aud = the requested resource
 *   (`https://graph.microsoft.com` for `${graph}/.default`, `https://vault.azure.net` for Key Vault), tid, appid,
 *   roles, exp, nbf, iat. @azure/identity's ClientSecretCredential works with
 *   `{ authorityHost: url, disableInstanceDiscovery: true }`; MSAL Node with `knownAuthorities: ['127.0.0.1:PORT']`.
 * Graph:     `${url}/v1.0/...`   (the Graph client: baseUrl = url, customHosts = new Set(['127.0.0.1']))
 * Key Vault: `${url}/secrets/{name}[/{version}]?api-version=...`  (SecretClient with
 *   `disableChallengeResourceVerification: true`; any valid simulator token with aud https://vault.azure.net).
 *
 * Control API (JSON, no auth, loopback only):
 *   POST   /_sim/tenants                          { id?, displayName, domain? }            -> SimTenant
 *   POST   /_sim/tenants/{t}/apps                 { appId?, displayName, roles: string[],
 *                                                   mailboxScope?: string[] | null,         (null/absent: all mailboxes)
 *                                                   secrets?: [{ value?, expiresAt? }],
 *                                                   certificates?: [{ certificatePem }],
 *                                                   federatedIssuers?: [{ issuer, subject }] }
 *                                                -> { appId, tenantId, secrets: [{ id, value, expiresAt }] }
 *   PATCH  /_sim/tenants/{t}/apps/{appId}         { roles?, mailboxScope? }
 *   POST   /_sim/tenants/{t}/apps/{appId}/secrets { value?, expiresAt? }  -> { id, value, expiresAt }
 *   DELETE /_sim/tenants/{t}/apps/{appId}/secrets/{id}
 *   DELETE /_sim/tenants/{t}/apps/{appId}         (app no longer in tenant: AADSTS700016)
 *   POST   /_sim/tenants/{t}/users                { userPrincipalName, displayName?, userPurpose?, mailboxEnabled?,
 *                                                   mailbox?: MailboxSeed }                  -> SimUser
 *   POST   /_sim/tenants/{t}/user-tokens          { audience, preferredUsername, oid?, roles?: string[],
 *                                                   expiresInSeconds?, notBeforeSeconds? }  -> { accessToken }
 *          (signed with the same keys as app tokens: a stand-in for Entra-issued API tokens)
 *   GET    /_sim/counters      -> SimCounters          POST /_sim/counters/reset
 *   PUT    /_sim/faults        { seed, rules: FaultRule[] }   DELETE /_sim/faults
 *   POST   /_sim/reset          (everything; then re-applies the seed given at start, if any)
 *   Additions (core):
 *   GET    /_sim/tenants                            -> { value: SimTenant[] }   (SimTenant: id, displayName, domain, domains)
 *   POST   /_sim/tenants/{t}/apps/{appId}/certificates { certificatePem } -> { id, thumbprint, thumbprintSha256, expiresAt }
 *          (app creation also answers `certificates: [...]` in that shape)
 *   GET    /_sim/tenants/{t}/users               -> { value: SimUser[] }
 *   PATCH  /_sim/tenants/{t}/users/{user}        { displayName?, userPurpose?, mailboxEnabled? } -> SimUser
 *   DELETE /_sim/tenants/{t}/users/{user}
 *   user-tokens also accept { name?, scopes?: string[] (scp), clientId? (azp) } and answer { accessToken, expiresOn }
 *   GET    /_sim/faults        -> { seed, rules }
 *   GET    /_sim/limits        PUT /_sim/limits { mailboxConcurrency?, mailboxRequestsPerWindow?, windowSeconds?,
 *                                                concurrencyRetryAfterSeconds? }
 *   PUT    /_sim/keyvault      { tenantId }   (the tenant named in Key Vault's challenge; default: the first tenant)
 *   Seed files: { tenants?: [{ ...tenant, apps?: [app], users?: [user] }], keyVault?, limits?, faults? }
 *   (mail) POST   /_sim/mailboxes/{user}/seed                     MailboxSeed
 *   (mail) POST   /_sim/mailboxes/{user}/messages                 { folder?, count?, seed?, message?: Partial<graph message> }
 *                                                                 -> { ids: string[] }
 *   (mail) POST   /_sim/mailboxes/{user}/messages/{id}/move       { destination: folder name or id } -> { id }
 *   (mail) PATCH  /_sim/mailboxes/{user}/messages/{id}            { isRead?, subject?, categories?, ... }
 *   (mail) DELETE /_sim/mailboxes/{user}/messages/{id}
 *   (mail) POST   /_sim/mailboxes/{user}/delta/expire             { folder? }   (next delta call with an older token: 410)
 *   (mail) GET    /_sim/mailboxes/{user}/folders                  -> [{ id, displayName, path, totalItemCount }]
 *   (mail, additive) POST /messages also returns { restIds, immutableIds }; move returns { id, restId, immutableId };
 *          POST /delta/expire also takes { code?: 'SyncStateNotFound' | 'resyncRequired' | ..., status?: 4xx };
 *          GET  /_sim/mailboxes/{user}/messages?folder=&top=     -> { value: [{ id, immutableId, subject, ... }] }
 *          POST /_sim/subscriptions/{id}/lifecycle               { event: reauthorizationRequired | subscriptionRemoved | missed }
 *          GET  /_sim/subscriptions                               -> { value: Subscription[] } (all apps)
 * ---------------------------------------------------------------------------------------------------- */

export interface SimulatorOptions {
  /** 0 or absent: a free port. */
  port?: number;
  host?: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  /** Tenants, apps, users and mailboxes to create at start (same shapes as the control API). */
  seed?: unknown;
}

export interface StartedSimulator {
  /** e.g. `https://127.0.0.1:8443` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface FaultRule {
  /** Regular expression matched against `METHOD path` (e.g. `GET /v1.0/users/[^/]+/mailFolders/.+/delta`). */
  route?: string;
  /** Only for this mailbox (UPN or id). */
  mailbox?: string;
  /** Share of matching requests (0–1) answered with `status` (429 and 503 carry Retry-After). */
  rate: number;
  status?: 429 | 500 | 503;
  retryAfterSeconds?: number;
  /** Share of matching requests whose connection is destroyed without an answer. */
  dropRate?: number;
  /** Added latency for matching requests. */
  latencyMs?: number;
}

export interface SimCounters {
  /** Requests per route pattern (`GET /v1.0/users/{user}/mailFolders/{folderId}/messages/delta`). */
  requestsByRoute: Record<string, number>;
  /** Graph requests per mailbox (UPN, lowercased). */
  requestsByMailbox: Record<string, number>;
  /** Highest number of in-flight Graph requests per mailbox (per app) seen since the last reset. */
  peakConcurrencyByMailbox: Record<string, number>;
  /** Token requests per app id (client credentials). */
  tokenRequestsByApp: Record<string, number>;
  throttled: number;
  faultsInjected: number;
  totalGraphRequests: number;
}
