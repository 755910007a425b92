/**
 * Communication and contact use cases behind the HTTP API. Visibility (spec section 5): System Managers and
 * Inbox Users see every communication; everyone else only those they own. The visibility filter is part of
 * the repository query, so paging never reveals what the caller may not see.
 */
import { notFound, staleWrite } from '../errors';
import type { Page, PageRequest, Repositories } from '../domain/ports/repositories';
import type { CommunicationRecord, ContactRecord } from '../domain/records';
import type { Principal } from '../http/auth';
import {
  canLinkCommunication,
  canReadCommunication,
  communicationOwnerScope,
  contactOwnerScope,
} from '../http/authorization';
import { fetchPage } from '../http/pagination';
import { parseIfMatch } from './email-accounts';

const WHAT = 'The communication';

export interface CommunicationListFilter {
  emailAccount?: string;
  folder?: string;
  referenceDoctype?: string;
  referenceName?: string;
  since?: string;
}

export async function listCommunications(
  repositories: Repositories,
  principal: Principal,
  page: PageRequest,
  filter: CommunicationListFilter,
): Promise<Page<CommunicationRecord>> {
  const owner = communicationOwnerScope(principal);
  return fetchPage(() =>
    repositories.communications.list(page, {
      ...(filter.emailAccount ? { emailAccount: filter.emailAccount } : {}),
      ...(filter.folder ? { folder: filter.folder } : {}),
      ...(filter.referenceDoctype ? { referenceDoctype: filter.referenceDoctype } : {}),
      ...(filter.referenceName ? { referenceName: filter.referenceName } : {}),
      ...(filter.since ? { since: new Date(filter.since) } : {}),
      ...(owner ? { owner } : {}),
    }),
  );
}

/** The communication if the caller may see it; NOT_FOUND otherwise. */
export async function getCommunication(
  repositories: Repositories,
  principal: Principal,
  id: string,
): Promise<CommunicationRecord> {
  const communication = await repositories.communications.findById(id);
  if (!communication || !canReadCommunication(principal, communication)) throw notFound(WHAT);
  return communication;
}

/** Links the communication to a record (`referenceDoctype` + `referenceName`), or unlinks it (both null). */
export async function linkCommunication(
  repositories: Repositories,
  principal: Principal,
  id: string,
  link: { referenceDoctype: string | null; referenceName: string | null },
  ifMatch: string | null,
): Promise<CommunicationRecord> {
  const communication = await getCommunication(repositories, principal, id);
  if (!canLinkCommunication(principal, communication)) throw notFound(WHAT);
  const expected = parseIfMatch(ifMatch);
  if (expected && expected !== communication.etag) throw staleWrite(WHAT);
  return repositories.communications.update(communication.emailAccount, communication.id, (current) => {
    if (expected && current.etag !== expected) throw staleWrite(WHAT);
    const next: CommunicationRecord = { ...current };
    if (link.referenceDoctype === null || link.referenceName === null) {
      delete next.referenceDoctype;
      delete next.referenceName;
    } else {
      next.referenceDoctype = link.referenceDoctype;
      next.referenceName = link.referenceName;
    }
    return next;
  });
}

/** The detail view's extra field. */
export const withBodyFlag = (communication: CommunicationRecord) => ({
  ...communication,
  contentStoredSeparately: communication.contentBlob !== undefined && communication.contentBlob !== '',
});

// ---------------------------------------------------------------------------------------------------------
// Contacts

export async function listContacts(
  repositories: Repositories,
  principal: Principal,
  page: PageRequest,
  filter: { email?: string },
): Promise<Page<ContactRecord>> {
  const owner = contactOwnerScope(principal);
  return fetchPage(() =>
    repositories.contacts.list(page, {
      ...(filter.email ? { email: filter.email } : {}),
      ...(owner ? { owner } : {}),
    }),
  );
}

/** What a caller sees of a contact: the account names only for those who see every communication. */
export function contactFor(
  principal: Principal,
  contact: ContactRecord,
): Omit<ContactRecord, 'emailAccounts'> & {
  emailAccounts?: string[];
} {
  if (principal.isSystemManager || principal.isInboxUser) return contact;
  const { emailAccounts: _accounts, owners: _owners, ...rest } = contact;
  return rest as Omit<ContactRecord, 'emailAccounts'>;
}
