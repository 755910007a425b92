/**
 * The two HTTP clients the demo uses: the M365 simulator's control API (what an Entra ID / Exchange admin
 * would do by hand: tenants, app registrations, mailboxes, mail delivery, user sign-in) and the service's own
 * public API, called exactly as a portal would (bearer tokens, JSON bodies).
 */
import type { MailboxSeed, SimUser } from '../m365-simulator/contract';
import type { FolderSyncStatus, SyncStatus } from '../../shared/api/sync-control';

export class DemoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface JsonRequest {
  method: string;
  url: string;
  token?: string;
  body?: unknown;
}

async function requestJson<T>({ method, url, token, body }: JsonRequest): Promise<{ status: number; json: T }> {
  const response = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const problem = (json ?? {}) as { code?: unknown; detail?: unknown; error?: { code?: unknown; message?: unknown } };
    const code =
      typeof problem.code === 'string'
        ? problem.code
        : typeof problem.error?.code === 'string'
          ? problem.error.code
          : undefined;
    const detail =
      typeof problem.detail === 'string'
        ? problem.detail
        : typeof problem.error?.message === 'string'
          ? problem.error.message
          : text.slice(0, 300);
    const path = new URL(url).pathname;
    throw new DemoHttpError(response.status, code, `${method} ${path} answered ${response.status}: ${detail}`);
  }
  return { status: response.status, json: json as T };
}

// ---------------------------------------------------------------------------------------------------------

export interface SimTenantInfo {
  id: string;
  displayName: string;
  domain: string;
}

export interface SimAppInfo {
  appId: string;
  tenantId: string;
  secrets: Array<{ id: string; value: string; expiresAt: string }>;
}

/** The simulator's control API (`/_sim/...`: no auth, loopback only). */
export class SimulatorControl {
  constructor(readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await requestJson<T>({ method, url: `${this.baseUrl}${path}`, body })).json;
  }

  createTenant(input: { id: string; displayName: string; domain: string }): Promise<SimTenantInfo> {
    return this.call('POST', '/_sim/tenants', input);
  }

  createApp(tenantId: string, input: { appId: string; displayName: string; roles: string[] }): Promise<SimAppInfo> {
    // One secret, value made by the simulator (as the portal shows it once, when created).
    return this.call('POST', `/_sim/tenants/${tenantId}/apps`, { ...input, secrets: [{}] });
  }

  createUser(
    tenantId: string,
    input: {
      userPrincipalName: string;
      displayName: string;
      userPurpose: 'user' | 'shared';
      mailbox?: MailboxSeed;
    },
  ): Promise<SimUser> {
    return this.call('POST', `/_sim/tenants/${tenantId}/users`, input);
  }

  /** A signed API token for `username` (a stand-in for the portal signing the user in with Entra ID). */
  async userToken(
    tenantId: string,
    input: { audience: string; username: string; name?: string; roles?: string[]; expiresInSeconds?: number },
  ): Promise<string> {
    const result = await this.call<{ accessToken: string }>('POST', `/_sim/tenants/${tenantId}/user-tokens`, {
      audience: input.audience,
      preferredUsername: input.username,
      ...(input.name ? { name: input.name } : {}),
      ...(input.roles && input.roles.length > 0 ? { roles: input.roles } : {}),
      expiresInSeconds: input.expiresInSeconds ?? 24 * 3600,
    });
    return result.accessToken;
  }

  /** Delivers one message into a mailbox folder (as Exchange would); returns its immutable id. */
  async deliver(
    mailbox: string,
    folder: string,
    message: {
      subject: string;
      from: { name: string; address: string };
      body: string;
      importance?: 'low' | 'normal' | 'high';
    },
  ): Promise<string> {
    const created = await this.call<{ immutableIds: string[] }>(
      'POST',
      `/_sim/mailboxes/${encodeURIComponent(mailbox)}/messages`,
      {
        folder,
        message: {
          subject: message.subject,
          from: { emailAddress: message.from },
          toRecipients: [{ emailAddress: { address: mailbox } }],
          body: { contentType: 'text', content: message.body },
          importance: message.importance ?? 'normal',
          isRead: false,
        },
      },
    );
    return created.immutableIds[0] ?? '';
  }
}

// ---------------------------------------------------------------------------------------------------------

/** The API's sync-status view (`GET /api/sync-status`), as the demo reads it. */
export type { FolderSyncStatus };
export type AccountSyncStatus = Omit<SyncStatus, 'recentLogs'>;

export interface CommunicationSummary {
  id: string;
  emailAccount: string;
  owner: string;
  subject: string;
  folder: string;
  communicationDate: string;
  attachments: unknown[];
  removedInM365: boolean;
}

export interface EmailAccountInfo {
  accountName: string;
  emailAddress: string;
  accountType: string;
  user: string;
}

interface Page<T> {
  items: T[];
  continuationToken: string | null;
}

/** The service's HTTP API (`{apiUrl}` = `http://127.0.0.1:7071/api`), called as a portal would. */
export class ApiClient {
  constructor(readonly apiUrl: string) {}

  private async call<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
    return (await requestJson<T>({ method, url: `${this.apiUrl}${path}`, token, body })).json;
  }

  /** `POST /api/service-principals`; an existing one of that name gets the new secret instead (PATCH). */
  async registerServicePrincipal(
    adminToken: string,
    input: {
      servicePrincipalName: string;
      tenantId: string;
      tenantName: string;
      clientId: string;
      clientSecret: string;
      authorityUrl: string;
      graphApiEndpoint: string;
      company: string;
      description: string;
    },
  ): Promise<'created' | 'updated'> {
    try {
      await this.call('POST', '/service-principals', adminToken, input);
      return 'created';
    } catch (error) {
      if (!(error instanceof DemoHttpError) || error.status !== 409) throw error;
      const { servicePrincipalName, ...changes } = input;
      await this.call('PATCH', `/service-principals/${encodeURIComponent(servicePrincipalName)}`, adminToken, {
        ...changes,
        enabled: true,
      });
      return 'updated';
    }
  }

  /** `POST /api/email-accounts/enable-sync` with the mailbox owner's own token. */
  enableSync(
    userToken: string,
    input: { servicePrincipal: string; folderFilter: Array<{ folderName: string }> },
  ): Promise<EmailAccountInfo> {
    return this.call('POST', '/email-accounts/enable-sync', userToken, input);
  }

  /** `POST /api/shared-mailboxes` (System Manager); an existing account of that name is kept. */
  async addSharedMailbox(
    adminToken: string,
    input: { servicePrincipal: string; emailAddress: string; folderFilter: Array<{ folderName: string }> },
  ): Promise<EmailAccountInfo> {
    try {
      return await this.call('POST', '/shared-mailboxes', adminToken, input);
    } catch (error) {
      if (!(error instanceof DemoHttpError) || error.status !== 409) throw error;
      return this.call('GET', `/email-accounts/${encodeURIComponent(`M365-${input.emailAddress}`)}`, adminToken);
    }
  }

  /** `POST /api/sync`: sync every account the token's user owns. */
  syncOwnAccounts(token: string): Promise<{ queued: number; accounts: string[]; skipped: unknown[] }> {
    return this.call('POST', '/sync', token);
  }

  /** `POST /api/email-accounts/{name}/sync` (the account's user; System Managers for shared mailboxes). */
  syncAccount(token: string, accountName: string): Promise<{ queued: boolean; syncing: boolean; statusUrl: string }> {
    return this.call('POST', `/email-accounts/${encodeURIComponent(accountName)}/sync`, token);
  }

  /** `GET /api/sync-status`, every page. */
  async syncStatus(token: string): Promise<AccountSyncStatus[]> {
    return this.all<AccountSyncStatus>('/sync-status', token);
  }

  /** `GET /api/communications?emailAccount=...`, every page (200 per page). */
  communications(
    token: string,
    filter: { emailAccount?: string; since?: string } = {},
  ): Promise<CommunicationSummary[]> {
    const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => Boolean(e[1])));
    return this.all<CommunicationSummary>(`/communications?${query.toString()}`, token);
  }

  private async all<T>(pathAndQuery: string, token: string): Promise<T[]> {
    const items: T[] = [];
    let continuationToken: string | null = null;
    const separator = pathAndQuery.includes('?') ? '&' : '?';
    do {
      const page: Page<T> = await this.call<Page<T>>(
        'GET',
        `${pathAndQuery}${separator}limit=200${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`,
        token,
      );
      items.push(...page.items);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return items;
  }
}
