/** Valid inputs for every repository, with overrides; and a controllable clock. */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../../shared/domain/ports/clock';
import type {
  CommunicationUpsert,
  NewEmailAccount,
  NewServicePrincipal,
  NewSyncLog,
} from '../../../../shared/domain/ports/repositories';
import { AppError } from '../../../../shared/errors';

export class TestClock implements Clock {
  private current: number;
  constructor(start = '2026-03-01T09:00:00.000Z') {
    this.current = Date.parse(start);
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export function newServicePrincipal(name: string, overrides: Partial<NewServicePrincipal> = {}): NewServicePrincipal {
  const tenantId = randomUUID();
  return {
    servicePrincipalName: name,
    tenantId,
    tenantName: 'Contoso Corp',
    clientId: randomUUID(),
    cloud: 'global',
    authorityUrl: `https://login.microsoftonline.com/${tenantId}`,
    graphApiEndpoint: 'https://graph.microsoft.com/v1.0',
    enabled: true,
    credential: { kind: 'clientSecret', secretRef: { name: 'sp-contoso-secret' } },
    scopes: 'https://graph.microsoft.com/.default',
    ...overrides,
  };
}

export function newEmailAccount(
  accountName: string,
  servicePrincipal: string,
  emailAddress: string,
  overrides: Partial<NewEmailAccount> = {},
): NewEmailAccount {
  return {
    accountName,
    accountType: 'User Mailbox',
    emailAddress,
    user: 'Alice@Contoso.com',
    enabled: true,
    servicePrincipal,
    folderFilter: [{ folderName: 'Inbox' }, { folderName: 'Sent Items' }],
    autoCreateContact: true,
    syncAttachments: true,
    maxAttachmentSize: 10,
    ...overrides,
  };
}

export function newSyncLog(emailAccount: string, start: Date, overrides: Partial<NewSyncLog> = {}): NewSyncLog {
  return {
    emailAccount,
    folderName: 'Inbox',
    syncType: 'Scheduled',
    syncStartTime: start.toISOString(),
    syncEndTime: new Date(start.getTime() + 5_000).toISOString(),
    status: 'Success',
    emailsFetched: 3,
    emailsCreated: 2,
    emailsUpdated: 1,
    emailsSkipped: 0,
    emailsRemoved: 0,
    ...overrides,
  };
}

export function newCommunication(
  emailAccount: string,
  id: string,
  communicationDate: string,
  overrides: Partial<CommunicationUpsert> = {},
): CommunicationUpsert {
  return {
    id,
    emailAccount,
    accountType: 'User Mailbox',
    owner: 'alice@contoso.com',
    subject: `Subject ${id}`,
    sender: 'bob@fabrikam.com',
    recipients: 'alice@contoso.com',
    cc: '',
    bcc: '',
    sentOrReceived: 'Received',
    communicationDate,
    content: '<p>Hello</p>',
    seen: false,
    folder: 'Inbox',
    graphMessageId: `AAMk-${id}`,
    categories: [],
    attachments: [],
    removedInM365: false,
    ...overrides,
  };
}

/** The AppError `promise` rejects with (fails the test if it resolves or rejects with something else). */
export async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

/** Settled results of concurrent calls, split into successes and AppErrors. */
export async function settle<T>(calls: Promise<T>[]): Promise<{ ok: T[]; failed: AppError[] }> {
  const results = await Promise.allSettled(calls);
  const ok: T[] = [];
  const failed: AppError[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') ok.push(result.value);
    else if (result.reason instanceof AppError) failed.push(result.reason);
    else throw result.reason;
  }
  return { ok, failed };
}

/** Every item of every page, following continuation tokens. */
export async function allPages<T>(
  fetch: (token: string | null) => Promise<{ items: T[]; continuationToken: string | null }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token: string | null = null;
  let pages = 0;
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.continuationToken;
    pages++;
    if (pages > 1000) throw new Error('paging does not terminate');
  } while (token !== null);
  return { items, pages };
}
