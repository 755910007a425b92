/**
 * Email account use cases behind the HTTP API: list, read, change, delete, set folders, enable sync of
 * one's own mailbox, add a shared mailbox, read sync logs. Access rules: `shared/http/authorization.ts`.
 *
 * Records the caller may not see answer NOT_FOUND (no existence leak); records they may see but not change
 * answer FORBIDDEN. An `If-Match` ETag makes a change conditional (CONFLICT `stale` when it no longer
 * matches); without one, changes still never overwrite a concurrent write silently (the repository retries
 * its read-modify-write on a stale ETag).
 */
import { AppError, forbidden, notFound, staleWrite, validationFailed } from '../errors';
import type { Page, PageRequest, Repositories } from '../domain/ports/repositories';
import {
  DEFAULT_FOLDERS,
  emailAddress as emailAddressSchema,
  recordName,
  type AccountType,
  type EmailAccountRecord,
  type FolderFilterEntry,
  type SyncLogRecord,
} from '../domain/records';
import type { Principal } from '../http/auth';
import { canEditEmailAccount, canReadEmailAccount, emailAccountScope } from '../http/authorization';
import { fetchPage } from '../http/pagination';
import type { EmailAccountPatchBody, EnableSyncBody, SharedMailboxBody } from './schemas';

export const DEFAULT_MAX_ATTACHMENT_MB = 10;

const WHAT = 'The email account';

/** The account if the caller may see it; NOT_FOUND otherwise (whether or not it exists). */
export async function getVisibleAccount(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
): Promise<EmailAccountRecord> {
  const account = await repositories.emailAccounts.get(accountName);
  if (!account || !canReadEmailAccount(principal, account)) throw notFound(WHAT);
  return account;
}

/** The account if the caller may change it: NOT_FOUND when they may not see it, FORBIDDEN when read-only. */
export async function getEditableAccount(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
): Promise<EmailAccountRecord> {
  const account = await getVisibleAccount(repositories, principal, accountName);
  if (!canEditEmailAccount(principal, account)) {
    throw forbidden(
      account.accountType === 'Shared Mailbox'
        ? 'Only a System Manager can change a shared mailbox account.'
        : 'You can change only your own email account.',
    );
  }
  return account;
}

// ---------------------------------------------------------------------------------------------------------
// Lists

export interface AccountListFilter {
  accountType?: AccountType;
  enabled?: boolean;
}

/**
 * The accounts the caller may see. For Inbox Users (own user mailboxes plus every shared mailbox) the list
 * runs in two phases; the continuation token records the phase around the repository's own token.
 */
export async function listEmailAccounts(
  repositories: Repositories,
  principal: Principal,
  page: PageRequest,
  filter: AccountListFilter,
): Promise<Page<EmailAccountRecord>> {
  const scope = emailAccountScope(principal);
  const accounts = repositories.emailAccounts;
  if (scope.kind === 'all') return fetchPage(() => accounts.list(page, filter));

  const phases: { accountType: AccountType; user?: string }[] = [];
  if (filter.accountType !== 'Shared Mailbox') phases.push({ accountType: 'User Mailbox', user: scope.ownUser });
  if (scope.includeSharedMailboxes && filter.accountType !== 'User Mailbox')
    phases.push({ accountType: 'Shared Mailbox' });
  if (phases.length === 0) return { items: [], continuationToken: null };

  let { phase, token } = decodePhaseToken(page.continuationToken, phases.length);
  const items: EmailAccountRecord[] = [];
  for (; phase < phases.length; phase += 1, token = null) {
    const current = phases[phase] as (typeof phases)[number];
    const result = await fetchPage(() =>
      accounts.list(
        { limit: page.limit - items.length, continuationToken: token },
        { ...current, ...(filter.enabled === undefined ? {} : { enabled: filter.enabled }) },
      ),
    );
    items.push(...result.items);
    if (result.continuationToken)
      return { items, continuationToken: encodePhaseToken(phase, result.continuationToken) };
    if (items.length >= page.limit) {
      const next = phase + 1;
      return { items, continuationToken: next < phases.length ? encodePhaseToken(next, null) : null };
    }
  }
  return { items, continuationToken: null };
}

function encodePhaseToken(phase: number, token: string | null): string {
  return Buffer.from(JSON.stringify({ p: phase, t: token }), 'utf8').toString('base64url');
}

function decodePhaseToken(value: string | null | undefined, phases: number): { phase: number; token: string | null } {
  if (!value) return { phase: 0, token: null };
  const bad = () =>
    validationFailed(
      [{ field: 'query.continuationToken', message: 'is not a valid continuation token for this query' }],
      'The continuation token is not valid for this query.',
    );
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const { p, t } = (parsed ?? {}) as { p?: unknown; t?: unknown };
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= phases || (t !== null && typeof t !== 'string')) {
    throw bad();
  }
  return { phase: p, token: t };
}

/** Shared mailboxes: all of them for System Managers and Inbox Users; none for anyone else (spec 2.4). */
export async function listSharedMailboxes(
  repositories: Repositories,
  principal: Principal,
  page: PageRequest,
  filter: { enabled?: boolean },
): Promise<Page<EmailAccountRecord>> {
  if (!principal.isSystemManager && !principal.isInboxUser) return { items: [], continuationToken: null };
  return fetchPage(() => repositories.emailAccounts.list(page, { ...filter, accountType: 'Shared Mailbox' }));
}

export async function listSyncLogs(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
  page: PageRequest,
): Promise<Page<SyncLogRecord>> {
  const account = await getVisibleAccount(repositories, principal, accountName);
  return fetchPage(() => repositories.syncLogs.listForAccount(account.accountName, page));
}

// ---------------------------------------------------------------------------------------------------------
// Creating accounts

/** The service principal's stored name, when it exists and is enabled; VALIDATION_FAILED otherwise. */
async function requireEnabledServicePrincipal(repositories: Repositories, name: string): Promise<string> {
  const principal = await repositories.servicePrincipals.get(name);
  if (!principal || !principal.enabled) {
    throw validationFailed(
      [{ field: 'servicePrincipal', message: 'is not an enabled service principal' }],
      'No enabled service principal has this name.',
    );
  }
  return principal.servicePrincipalName;
}

function defaultAccountName(email: string): string {
  const name = `M365-${email}`;
  if (!recordName.safeParse(name).success) {
    throw validationFailed(
      [{ field: 'accountName', message: 'is required: the default name M365-{emailAddress} is not a valid name' }],
      'Give an accountName for this address.',
    );
  }
  return name;
}

const defaultFolders = (): FolderFilterEntry[] =>
  DEFAULT_FOLDERS.map((folderName) => ({ folderName, syncEnabled: true }));

interface NewAccountInput {
  accountType: AccountType;
  accountName: string;
  emailAddress: string;
  servicePrincipal: string;
  settings: Pick<
    EnableSyncBody,
    'syncFromDate' | 'folderFilter' | 'autoCreateContact' | 'syncAttachments' | 'maxAttachmentSize'
  >;
}

async function createAccount(repositories: Repositories, principal: Principal, input: NewAccountInput) {
  const { settings } = input;
  return repositories.emailAccounts.create({
    accountName: input.accountName,
    accountType: input.accountType,
    emailAddress: input.emailAddress,
    user: principal.username,
    enabled: true,
    servicePrincipal: input.servicePrincipal,
    ...(settings.syncFromDate ? { syncFromDate: settings.syncFromDate } : {}),
    folderFilter: settings.folderFilter ?? defaultFolders(),
    autoCreateContact: settings.autoCreateContact ?? true,
    syncAttachments: settings.syncAttachments ?? true,
    maxAttachmentSize: settings.maxAttachmentSize ?? DEFAULT_MAX_ATTACHMENT_MB,
    linkingRules: [],
    createdBy: principal.username,
  });
}

/**
 * Enables sync of the caller's own mailbox (spec 2.4 `enable_email_sync`): creates the user mailbox
 * account, or re-enables the caller's existing one of the same name and address (`created: false`).
 */
export async function enableSync(
  repositories: Repositories,
  principal: Principal,
  body: EnableSyncBody,
): Promise<{ account: EmailAccountRecord; created: boolean }> {
  // The caller's own addresses: the username (UPN / preferred_username) and the `email` claim.
  const own = [principal.username, principal.email].filter(
    (address): address is string => address !== undefined && emailAddressSchema.safeParse(address).success,
  );
  const email = body.emailAddress ?? own[0];
  if (!email) {
    throw validationFailed([{ field: 'emailAddress', message: 'is required: your username is not an email address' }]);
  }
  if (!own.includes(email)) throw forbidden('You can enable sync only for your own mailbox.');
  const servicePrincipal = await requireEnabledServicePrincipal(repositories, body.servicePrincipal);
  const accountName = body.accountName ?? defaultAccountName(email);

  const existing = await repositories.emailAccounts.get(accountName);
  if (
    existing &&
    existing.accountType === 'User Mailbox' &&
    existing.emailAddress === email &&
    canEditEmailAccount(principal, existing)
  ) {
    const account = await repositories.emailAccounts.update(accountName, (current) =>
      applySettings({ ...current, enabled: true, servicePrincipal }, body),
    );
    return { account, created: false };
  }
  const account = await createAccount(repositories, principal, {
    accountType: 'User Mailbox',
    accountName,
    emailAddress: email,
    servicePrincipal,
    settings: body,
  });
  return { account, created: true };
}

/** Adds a shared mailbox (System Managers only, checked by the route); the caller becomes its `user`. */
export async function addSharedMailbox(
  repositories: Repositories,
  principal: Principal,
  body: SharedMailboxBody,
): Promise<EmailAccountRecord> {
  if (!principal.isSystemManager) throw forbidden('Only a System Manager can add a shared mailbox.');
  const servicePrincipal = await requireEnabledServicePrincipal(repositories, body.servicePrincipal);
  return createAccount(repositories, principal, {
    accountType: 'Shared Mailbox',
    accountName: body.accountName ?? defaultAccountName(body.emailAddress),
    emailAddress: body.emailAddress,
    servicePrincipal,
    settings: body,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Changing accounts

/**
 * The new folder list: entries keep their sync state (delta links, last sync time) when the folder was
 * already listed (matched case-insensitively); new folders start fresh.
 */
export function mergeFolderFilter(
  current: readonly FolderFilterEntry[],
  requested: readonly { folderName: string; syncEnabled: boolean }[],
): FolderFilterEntry[] {
  const byName = new Map(current.map((entry) => [entry.folderName.toLowerCase(), entry]));
  return requested.map((folder) => {
    const previous = byName.get(folder.folderName.toLowerCase());
    return previous
      ? { ...previous, folderName: folder.folderName, syncEnabled: folder.syncEnabled }
      : { folderName: folder.folderName, syncEnabled: folder.syncEnabled };
  });
}

type Settings = Partial<
  Pick<
    EmailAccountPatchBody,
    'syncFromDate' | 'folderFilter' | 'autoCreateContact' | 'syncAttachments' | 'maxAttachmentSize' | 'linkingRules'
  >
>;

function applySettings(account: EmailAccountRecord, settings: Settings): EmailAccountRecord {
  const next: EmailAccountRecord = { ...account };
  if (settings.syncFromDate === null) delete next.syncFromDate;
  else if (settings.syncFromDate !== undefined) next.syncFromDate = settings.syncFromDate;
  if (settings.folderFilter) next.folderFilter = mergeFolderFilter(account.folderFilter, settings.folderFilter);
  if (settings.autoCreateContact !== undefined) next.autoCreateContact = settings.autoCreateContact;
  if (settings.syncAttachments !== undefined) next.syncAttachments = settings.syncAttachments;
  if (settings.maxAttachmentSize !== undefined) next.maxAttachmentSize = settings.maxAttachmentSize;
  if (settings.linkingRules !== undefined) next.linkingRules = settings.linkingRules;
  return next;
}

/** Read-modify-write honouring an optional `If-Match`. */
async function updateAccount(
  repositories: Repositories,
  account: EmailAccountRecord,
  ifMatch: string | null,
  change: (current: EmailAccountRecord) => EmailAccountRecord,
): Promise<EmailAccountRecord> {
  const expected = parseIfMatch(ifMatch);
  if (expected && expected !== account.etag) throw staleWrite(WHAT);
  return repositories.emailAccounts.update(account.accountName, (current) => {
    if (expected && current.etag !== expected) throw staleWrite(WHAT);
    return change(current);
  });
}

export async function updateEmailAccount(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
  body: EmailAccountPatchBody,
  ifMatch: string | null,
): Promise<EmailAccountRecord> {
  const account = await getEditableAccount(repositories, principal, accountName);
  const servicePrincipal =
    body.servicePrincipal === undefined
      ? undefined
      : await requireEnabledServicePrincipal(repositories, body.servicePrincipal);
  return updateAccount(repositories, account, ifMatch, (current) => {
    const next = applySettings(current, body);
    if (body.enabled !== undefined) next.enabled = body.enabled;
    if (servicePrincipal !== undefined) next.servicePrincipal = servicePrincipal;
    return next;
  });
}

export async function setFolderFilter(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
  folders: readonly { folderName: string; syncEnabled: boolean }[],
  ifMatch: string | null,
): Promise<EmailAccountRecord> {
  const account = await getEditableAccount(repositories, principal, accountName);
  return updateAccount(repositories, account, ifMatch, (current) => ({
    ...current,
    folderFilter: mergeFolderFilter(current.folderFilter, folders),
  }));
}

/** Deletes the account's configuration. Its communications stay (they belong to their owner). */
export async function deleteEmailAccount(
  repositories: Repositories,
  principal: Principal,
  accountName: string,
  ifMatch: string | null,
): Promise<void> {
  const account = await getEditableAccount(repositories, principal, accountName);
  const expected = parseIfMatch(ifMatch);
  const deleted = await repositories.emailAccounts.delete(account.accountName, expected ?? account.etag);
  if (!deleted) throw notFound(WHAT);
}

/** `If-Match: "etag"` or `If-Match: etag` → the ETag; `*` or absent → undefined. */
export function parseIfMatch(header: string | null): string | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (value === '' || value === '*') return undefined;
  if (value.length > 200 || value.includes(',')) {
    throw new AppError('VALIDATION_FAILED', 'If-Match must hold one ETag.', {
      errors: [{ field: '(if-match)', message: 'must be a single ETag' }],
    });
  }
  return value.replace(/^W\//, '');
}
