import type { Container } from '@azure/cosmos';
import { duplicate, notFound, staleWrite, type AppError } from '../../errors';
import type { Clock } from '../../domain/ports/clock';
import type {
  EmailAccountFilter,
  EmailAccountRepository,
  Mutator,
  NewEmailAccount,
  Page,
  PageRequest,
} from '../../domain/ports/repositories';
import { idForName, type EmailAccountRecord } from '../../domain/records';
import { CosmosDocuments, WhereBuilder } from './documents';
import {
  EMAIL_ACCOUNT_KIND as KIND,
  MAX_WRITE_ATTEMPTS,
  backoffBeforeRetry,
  emailClaimIdOf as claimIdOf,
  idForValidName,
  namedReplacement,
  newNamedRecord,
  updateWithRetry,
  withoutEtag,
} from './record-rules';

const WHAT = KIND.what;

/**
 * Reserves an email address under one service principal. Lives in the emailAccounts container (its own
 * partition, pk /id); created before the account (409 = taken), moved when the address or service principal
 * changes (new claim first), released when the account goes. Every account query filters on `docType`, so
 * claims never show up as accounts.
 */
interface EmailClaim {
  id: string;
  docType: 'emailClaim';
  accountId: string;
  servicePrincipalId: string;
  emailAddress: string;
  createdAt: string;
  etag?: string;
}

export interface EmailAccountRepositoryOptions {
  /**
   * A claim whose account does not hold it is treated as abandoned (a crash between claim and account write)
   * only after this long, so claims of writes still in flight are never taken over. Default 5 minutes.
   */
  claimGraceMs?: number;
}

type ClaimPurpose = 'create' | 'replace';

/** Container `emailAccounts`, pk /id, id = idForName(accountName). */
export class CosmosEmailAccountRepository implements EmailAccountRepository {
  private readonly docs: CosmosDocuments;
  private readonly claimGraceMs: number;

  constructor(
    container: Container,
    private readonly clock: Clock,
    options: EmailAccountRepositoryOptions = {},
  ) {
    this.docs = new CosmosDocuments(container);
    this.claimGraceMs = options.claimGraceMs ?? 5 * 60_000;
  }

  async create(input: NewEmailAccount): Promise<EmailAccountRecord> {
    const record = newNamedRecord(KIND, input, this.clock.now().toISOString());
    const claim = await this.acquireClaim(record, 'create');
    let outcome;
    try {
      outcome = await this.docs.create<EmailAccountRecord>(withoutEtag(record));
    } catch (error) {
      await this.releaseClaim(claim);
      throw error;
    }
    if (outcome.ok) return outcome.record;
    await this.releaseClaim(claim);
    if (outcome.status === 409) throw duplicate(`An email account named "${record.accountName}"`, 'accountName');
    throw staleWrite(WHAT);
  }

  async get(accountName: string): Promise<EmailAccountRecord | undefined> {
    const id = idForValidName(accountName);
    if (id === undefined) return undefined;
    const found = await this.docs.read<EmailAccountRecord>(id, id);
    return found?.docType === 'emailAccount' ? found : undefined;
  }

  async replace(record: EmailAccountRecord): Promise<EmailAccountRecord> {
    const { next, etag } = namedReplacement(KIND, record, this.clock.now().toISOString());
    const current = await this.get(next.accountName);
    if (!current) throw notFound(WHAT);
    if (current.etag !== etag) throw staleWrite(WHAT);

    const moves = claimIdOf(current) !== claimIdOf(next);
    const claim = moves ? await this.acquireClaim(next, 'replace') : undefined;
    let outcome;
    try {
      outcome = await this.docs.replace<EmailAccountRecord>(next, next.id, etag);
    } catch (error) {
      if (claim) await this.releaseClaim(claim);
      throw error;
    }
    if (!outcome.ok) {
      if (claim) await this.releaseClaim(claim);
      throw outcome.status === 404 ? notFound(WHAT) : staleWrite(WHAT);
    }
    if (moves) await this.releaseClaimOf(current);
    return outcome.record;
  }

  update(accountName: string, mutate: Mutator<EmailAccountRecord>): Promise<EmailAccountRecord> {
    return updateWithRetry({
      what: WHAT,
      read: () => this.get(accountName),
      replace: (next, current) => this.replace({ ...next, id: current.id, etag: current.etag }),
      mutate,
    });
  }

  async delete(accountName: string, etag?: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      await backoffBeforeRetry(attempt);
      const current = await this.get(accountName);
      if (!current) return false;
      if (etag !== undefined && current.etag !== etag) throw staleWrite(WHAT);
      const outcome = await this.docs.delete(current.id, current.id, current.etag);
      if (outcome.ok) {
        await this.releaseClaimOf(current);
        return true;
      }
      if (outcome.status === 404) return false;
      if (etag !== undefined) throw staleWrite(WHAT);
    }
    throw staleWrite(WHAT);
  }

  async list(page: PageRequest, filter: EmailAccountFilter = {}): Promise<Page<EmailAccountRecord>> {
    return this.docs.queryPage<EmailAccountRecord>(accountQuery('SELECT * FROM c', filter, 'c.id'), page);
  }

  listAll(filter: EmailAccountFilter = {}): AsyncIterable<EmailAccountRecord> {
    return this.docs.queryAll<EmailAccountRecord>(accountQuery('SELECT * FROM c', filter, 'c.id'));
  }

  async countByServicePrincipal(servicePrincipalName: string): Promise<number> {
    const count = await this.docs.queryValue<number>(
      accountQuery('SELECT VALUE COUNT(1) FROM c', { servicePrincipal: servicePrincipalName }),
    );
    return count ?? 0;
  }

  /** Creates (or takes over an abandoned) claim on the account's address; CONFLICT when it is taken. */
  private async acquireClaim(account: EmailAccountRecord, purpose: ClaimPurpose): Promise<EmailClaim> {
    const claim: EmailClaim = {
      id: claimIdOf(account),
      docType: 'emailClaim',
      accountId: account.id,
      servicePrincipalId: idForName(account.servicePrincipal),
      emailAddress: account.emailAddress,
      createdAt: this.clock.now().toISOString(),
    };
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      await backoffBeforeRetry(attempt);
      const created = await this.docs.create<EmailClaim>(claim);
      if (created.ok) return created.record;
      const existing = await this.docs.read<EmailClaim>(claim.id, claim.id);
      if (!existing) continue; // released meanwhile: try again
      if ((await this.claimIsHeld(existing)) || this.isRecent(existing)) {
        throw this.claimConflict(purpose, existing.accountId === account.id ? 'own' : 'other');
      }
      // Abandoned: take it over, only if nobody else touched it since we read it.
      const taken = await this.docs.replace<EmailClaim>(claim, claim.id, existing.etag);
      if (taken.ok) return taken.record;
    }
    throw this.claimConflict(purpose, 'other');
  }

  private claimConflict(purpose: ClaimPurpose, holder: 'own' | 'other'): AppError {
    if (holder === 'other') {
      return duplicate('An email account with this email address for this service principal', 'emailAddress');
    }
    // The same account id holds (or is acquiring) the claim: a concurrent create of the same name, or a
    // concurrent change of this account.
    return purpose === 'create' ? duplicate('An email account with this name', 'accountName') : staleWrite(WHAT);
  }

  private isRecent(claim: EmailClaim): boolean {
    const age = this.clock.now().getTime() - Date.parse(claim.createdAt);
    return !(age >= this.claimGraceMs);
  }

  private async claimIsHeld(claim: EmailClaim): Promise<boolean> {
    const holder = await this.docs.read<EmailAccountRecord>(claim.accountId, claim.accountId);
    return holder?.docType === 'emailAccount' && claimIdOf(holder) === claim.id;
  }

  /** Best effort: a claim left behind is taken over after the grace period. */
  private async releaseClaim(claim: EmailClaim): Promise<void> {
    try {
      await this.docs.delete(claim.id, claim.id, claim.etag);
    } catch {
      // Left for takeover.
    }
  }

  private async releaseClaimOf(account: EmailAccountRecord): Promise<void> {
    try {
      const id = claimIdOf(account);
      const claim = await this.docs.read<EmailClaim>(id, id);
      if (claim?.accountId === account.id) await this.releaseClaim(claim);
    } catch {
      // Left for takeover.
    }
  }
}

function accountQuery(select: string, filter: EmailAccountFilter, orderBy?: string) {
  const where = new WhereBuilder().add('c.docType = ?', 'emailAccount');
  if (filter.user !== undefined) where.add('c.user = ?', filter.user.trim().toLowerCase());
  if (filter.servicePrincipal !== undefined) {
    where.add('LOWER(c.servicePrincipal) = ?', idForName(filter.servicePrincipal));
  }
  if (filter.accountType !== undefined) where.add('c.accountType = ?', filter.accountType);
  if (filter.enabled !== undefined) where.add('c.enabled = ?', filter.enabled);
  return where.query(select, orderBy);
}
