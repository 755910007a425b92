/**
 * Who may see and change what: the access rules of the original design (sections 1.2, 2.4, 5 and 6) as
 * pure functions of the caller and the record. Routes answer 404 for records the caller may not *see*
 * (no existence leak) and 403 for records the caller may see but not *change*.
 *
 * Email accounts
 * - System Manager: sees and edits every account; the only role that creates or edits shared mailboxes.
 * - User mailbox: its user (the `user` field) sees and edits it; nobody else but a System Manager sees it
 *   (an Inbox User's wider rights are over communications, not over other people's account settings).
 * - Shared mailbox: System Managers and Inbox Users see it (2.4 `get_shared_mailboxes`: "System Manager
 *   sees all, others see none unless they have Inbox User"); only System Managers change it — including
 *   the admin recorded in `user` once they are no longer a System Manager.
 * - Sync logs and sync status follow the account's visibility.
 *
 * Communications (section 5: Frappe's Communication permissions)
 * - System Manager and Inbox User: see all of them and may link them to records (`referenceDoctype` /
 *   `referenceName`).
 * - Everyone else: only communications they own (`owner`: the account's `user`), and may link those.
 *
 * Contacts follow the communications they were seen in: System Managers and Inbox Users see all; others
 * only contacts whose `owners` include them.
 *
 * Service principals (1.1, 2.4 `get_available_service_principals`, 6.2)
 * - System Manager: every principal, every field except secrets (the credential's Key Vault reference,
 *   the encrypted token cache) — `toPublicServicePrincipal` of the identity domain.
 * - Everyone else: only enabled principals, and only their name and tenant name (to pick one when enabling
 *   sync); a disabled principal is invisible to them (404).
 */
import type { CommunicationRecord, ContactRecord, EmailAccountRecord, ServicePrincipalRecord } from '../domain/records';
import { toPublicServicePrincipal, type PublicServicePrincipal } from '../domain/identity/public-view';
import type { Principal } from './auth';

type AccountAccessFields = Pick<EmailAccountRecord, 'accountType' | 'user'>;

const isOwner = (principal: Principal, user: string | undefined): boolean =>
  user !== undefined && user.trim().toLowerCase() === principal.username;

/** May the caller see this email account (and its sync logs and status)? */
export function canReadEmailAccount(principal: Principal, account: AccountAccessFields): boolean {
  if (principal.isSystemManager) return true;
  if (account.accountType === 'Shared Mailbox') return principal.isInboxUser;
  return isOwner(principal, account.user);
}

/** May the caller change, sync, or delete this email account? */
export function canEditEmailAccount(principal: Principal, account: AccountAccessFields): boolean {
  if (principal.isSystemManager) return true;
  if (account.accountType === 'Shared Mailbox') return false;
  return isOwner(principal, account.user);
}

/** Only System Managers create shared mailbox accounts; anyone may enable sync of their own mailbox. */
export function canCreateSharedMailbox(principal: Principal): boolean {
  return principal.isSystemManager;
}

/**
 * Which email accounts a list shows the caller, as a repository filter plan:
 * `all` (System Manager), or the caller's own user mailboxes plus — for Inbox Users — every shared mailbox.
 */
export type EmailAccountScope =
  { kind: 'all' } | { kind: 'restricted'; ownUser: string; includeSharedMailboxes: boolean };

export function emailAccountScope(principal: Principal): EmailAccountScope {
  if (principal.isSystemManager) return { kind: 'all' };
  return { kind: 'restricted', ownUser: principal.username, includeSharedMailboxes: principal.isInboxUser };
}

/** May the caller see this communication? */
export function canReadCommunication(principal: Principal, communication: Pick<CommunicationRecord, 'owner'>): boolean {
  return principal.isSystemManager || principal.isInboxUser || isOwner(principal, communication.owner);
}

/** May the caller change this communication's reference link? Same as reading it (see the header). */
export function canLinkCommunication(principal: Principal, communication: Pick<CommunicationRecord, 'owner'>): boolean {
  return canReadCommunication(principal, communication);
}

/** The owner a communication list must be restricted to, or `undefined` for callers who see all. */
export function communicationOwnerScope(principal: Principal): string | undefined {
  return principal.isSystemManager || principal.isInboxUser ? undefined : principal.username;
}

/** May the caller see this contact? */
export function canReadContact(principal: Principal, contact: Pick<ContactRecord, 'owners'>): boolean {
  return (
    principal.isSystemManager || principal.isInboxUser || contact.owners.some((owner) => isOwner(principal, owner))
  );
}

/** The owner a contact list must be restricted to, or `undefined` for callers who see all. */
export function contactOwnerScope(principal: Principal): string | undefined {
  return communicationOwnerScope(principal);
}

export interface ServicePrincipalNameView {
  servicePrincipalName: string;
  tenantName?: string;
}

/**
 * What the caller may see of a service principal: the admin view (System Manager: every field except
 * secrets, see `toPublicServicePrincipal`), the name view (an enabled principal, anyone else), or
 * `undefined` (not visible: answer 404).
 */
export function servicePrincipalView(
  principal: Principal,
  record: ServicePrincipalRecord,
  now?: Date,
): { kind: 'admin'; view: PublicServicePrincipal } | { kind: 'name'; view: ServicePrincipalNameView } | undefined {
  if (principal.isSystemManager) return { kind: 'admin', view: toPublicServicePrincipal(record, now) };
  if (!record.enabled) return undefined;
  const view: ServicePrincipalNameView = { servicePrincipalName: record.servicePrincipalName };
  if (record.tenantName) view.tenantName = record.tenantName;
  return { kind: 'name', view };
}

/** May the caller create, change, delete, test or refresh service principals? */
export function canManageServicePrincipals(principal: Principal): boolean {
  return principal.isSystemManager;
}
