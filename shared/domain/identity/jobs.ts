/**
 * Scheduled identity work and what other areas call to get a token:
 * - `refreshAllTokens`: hourly; keeps a fresh token in every enabled principal's encrypted cache.
 * - `validateServicePrincipals`: daily; disables a principal only on a definitive credential error.
 * - `listCredentialWarnings`: credentials expiring within 30 days (for /api/health).
 * - `graphAccessForAccount`: the sync worker's way to a token for an email account.
 * One principal failing never stops the others.
 */
import { AppError, isAppError } from '../../errors';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { ServicePrincipalRepository } from '../ports/repositories';
import type { ServicePrincipalRecord } from '../records';
import { SYSTEM_ACTOR, withAudit } from './audit';
import { credentialExpiry, credentialWarning } from './credential-expiry';
import type { AccessToken, TokenProvider } from './ports';
import { classifyTokenError, type TokenFailure } from './token-errors';

export interface IdentityJobDeps {
  servicePrincipals: ServicePrincipalRepository;
  tokens: TokenProvider;
  clock: Clock;
  logger: Logger;
}

/** Runs `work` over `items` with at most `limit` in flight; never rejects (work must catch). */
async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

async function collect(iterable: AsyncIterable<ServicePrincipalRecord>): Promise<ServicePrincipalRecord[]> {
  const out: ServicePrincipalRecord[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

export interface RefreshResult {
  servicePrincipal: string;
  ok: boolean;
  /** `refreshed`: a token request was made; `cached`: the stored token is still good for a while. */
  outcome: 'refreshed' | 'cached' | 'failed';
  tokenExpiresAt?: string;
  code?: string;
}

export interface RefreshSummary {
  principals: number;
  refreshed: number;
  cached: number;
  failed: number;
  results: RefreshResult[];
}

/**
 * Acquires a token for every enabled principal. A token that stays valid for more than `refreshWithinMs`
 * (default 70 minutes: past the next hourly run) is left alone; others are refreshed from Entra ID.
 */
export async function refreshAllTokens(
  deps: IdentityJobDeps,
  options: { refreshWithinMs?: number; concurrency?: number } = {},
): Promise<RefreshSummary> {
  const refreshWithinMs = options.refreshWithinMs ?? 70 * 60_000;
  const principals = await collect(deps.servicePrincipals.listAll({ enabled: true }));
  const results: RefreshResult[] = [];
  await forEachBounded(principals, options.concurrency ?? 8, async (principal) => {
    const log = deps.logger.child({ servicePrincipal: principal.servicePrincipalName, tenantId: principal.tenantId });
    const now = deps.clock.now().getTime();
    const expires = principal.tokenExpiresAt ? Date.parse(principal.tokenExpiresAt) : 0;
    const forceRefresh = expires - now < refreshWithinMs;
    try {
      const token = await deps.tokens.getToken(principal, { forceRefresh });
      const outcome = token.fromCache ? 'cached' : 'refreshed';
      results.push({
        servicePrincipal: principal.servicePrincipalName,
        ok: true,
        outcome,
        tokenExpiresAt: token.expiresOn.toISOString(),
      });
      log.info('token refresh', { outcome, expiresAt: token.expiresOn.toISOString() });
    } catch (error) {
      const failure = classifyTokenError(error);
      results.push({
        servicePrincipal: principal.servicePrincipalName,
        ok: false,
        outcome: 'failed',
        code: failure.code,
      });
      log.warn('token refresh failed', { code: failure.code, kind: failure.kind, remedy: failure.remedy });
    }
  });
  const count = (o: RefreshResult['outcome']): number => results.filter((r) => r.outcome === o).length;
  return {
    principals: principals.length,
    refreshed: count('refreshed'),
    cached: count('cached'),
    failed: count('failed'),
    results,
  };
}

// ---------------------------------------------------------------------------------------------------------

export interface ValidationResult {
  servicePrincipal: string;
  outcome: 'valid' | 'disabled' | 'failed';
  code?: string;
  credentialWarning?: string;
}

export interface ValidationSummary {
  checked: number;
  valid: number;
  disabled: number;
  /** Failed without a definitive credential error (outage, throttling, configuration): left enabled. */
  failed: number;
  results: ValidationResult[];
}

/**
 * Tests every enabled principal with a fresh token request. Disables one only on a definitive credential
 * error (invalid_client, AADSTS7000215, 7000222, 700016, 90002); network errors, 5xx and 429 leave it enabled.
 * Records `lastValidatedAt`, `validationError`, `credentialWarning`, and an audit entry (log always; on the
 * principal when its state changes).
 */
export async function validateServicePrincipals(
  deps: IdentityJobDeps,
  options: { concurrency?: number } = {},
): Promise<ValidationSummary> {
  const principals = await collect(deps.servicePrincipals.listAll({ enabled: true }));
  const results: ValidationResult[] = [];
  await forEachBounded(principals, options.concurrency ?? 4, async (principal) => {
    const name = principal.servicePrincipalName;
    const log = deps.logger.child({
      servicePrincipal: name,
      tenantId: principal.tenantId,
      audit: 'service-principal-validation',
    });
    let failure: TokenFailure | undefined;
    try {
      await deps.tokens.getToken(principal, { forceRefresh: true });
    } catch (error) {
      failure = classifyTokenError(error);
    }
    const now = deps.clock.now();
    const at = now.toISOString();
    try {
      const updated = await deps.servicePrincipals.update(name, (current) => {
        if (!current.enabled) return undefined; // an admin disabled it meanwhile: nothing to record
        const warning = credentialWarning(current.credential, now);
        const { credentialWarning: _w, validationError: previous, ...rest } = current;
        let next: ServicePrincipalRecord = {
          ...rest,
          lastValidatedAt: at,
          ...(warning ? { credentialWarning: warning } : {}),
        };
        if (!failure) {
          if (previous) {
            next = withAudit(next, {
              at,
              action: 'validated',
              actor: SYSTEM_ACTOR,
              message: `Valid again (was ${previous.code}).`,
            });
          }
          return next;
        }
        next = { ...next, validationError: { code: failure.code, message: failure.message, at } };
        if (failure.definitive) {
          return withAudit(
            { ...next, enabled: false },
            {
              at,
              action: 'disabled',
              actor: SYSTEM_ACTOR,
              code: failure.code,
              message: `${failure.message} ${failure.remedy}`,
            },
          );
        }
        if (previous?.code !== failure.code) {
          next = withAudit(next, {
            at,
            action: 'validation-failed',
            actor: SYSTEM_ACTOR,
            code: failure.code,
            message: failure.message,
          });
        }
        return next;
      });
      const disabled = failure?.definitive === true && !updated.enabled;
      const outcome: ValidationResult['outcome'] = !failure ? 'valid' : disabled ? 'disabled' : 'failed';
      results.push({
        servicePrincipal: name,
        outcome,
        ...(failure ? { code: failure.code } : {}),
        ...(updated.credentialWarning ? { credentialWarning: updated.credentialWarning } : {}),
      });
      if (outcome === 'valid') log.info('service principal valid', { expiryWarning: updated.credentialWarning });
      else if (outcome === 'disabled')
        log.error('service principal disabled: credential rejected', { code: failure?.code, remedy: failure?.remedy });
      else
        log.warn('service principal validation failed; left enabled', {
          code: failure?.code,
          kind: failure?.kind,
          remedy: failure?.remedy,
        });
      if (updated.credentialWarning)
        log.warn('service principal credential expires soon', { expiryWarning: updated.credentialWarning });
    } catch (error) {
      results.push({ servicePrincipal: name, outcome: 'failed', code: isAppError(error) ? error.code : 'INTERNAL' });
      log.error('could not record the validation result', { error });
    }
  });
  const count = (o: ValidationResult['outcome']): number => results.filter((r) => r.outcome === o).length;
  return {
    checked: principals.length,
    valid: count('valid'),
    disabled: count('disabled'),
    failed: count('failed'),
    results,
  };
}

// ---------------------------------------------------------------------------------------------------------

export interface CredentialWarning {
  servicePrincipalName: string;
  tenantId: string;
  tenantName?: string;
  credentialKind: 'clientSecret' | 'certificate' | 'federated';
  expiresAt: string;
  daysLeft: number;
  expired: boolean;
  message: string;
}

/** Enabled principals whose credential expires within 30 days (or has expired), soonest first. For /api/health. */
export async function listCredentialWarnings(deps: {
  servicePrincipals: ServicePrincipalRepository;
  clock: Clock;
}): Promise<CredentialWarning[]> {
  const now = deps.clock.now();
  const warnings: CredentialWarning[] = [];
  for await (const p of deps.servicePrincipals.listAll({ enabled: true })) {
    const expiry = credentialExpiry(p.credential, now);
    if (!expiry) continue;
    warnings.push({
      servicePrincipalName: p.servicePrincipalName,
      tenantId: p.tenantId,
      ...(p.tenantName ? { tenantName: p.tenantName } : {}),
      ...expiry,
    });
  }
  return warnings.sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
}

// ---------------------------------------------------------------------------------------------------------

export interface GraphAccess {
  principal: ServicePrincipalRecord;
  /** e.g. `https://graph.microsoft.com/v1.0` (validated when the principal was saved). */
  graphApiEndpoint: string;
  token: AccessToken;
}

/**
 * The sync worker's entry point: the account's principal and a token for it. Throws CREDENTIAL_REJECTED
 * (not retryable; `details.tokenErrorCode`, `details.remedy`) when the principal is missing, disabled or
 * refused, DEPENDENCY_UNAVAILABLE / RATE_LIMITED (retryable) on outages.
 */
export async function graphAccessForAccount(
  deps: { servicePrincipals: ServicePrincipalRepository; tokens: TokenProvider },
  account: { accountName: string; servicePrincipal: string },
): Promise<GraphAccess> {
  const principal = await deps.servicePrincipals.get(account.servicePrincipal);
  if (!principal) {
    throw new AppError('CREDENTIAL_REJECTED', `Service principal "${account.servicePrincipal}" does not exist.`, {
      details: {
        servicePrincipal: account.servicePrincipal,
        tokenErrorCode: 'PRINCIPAL_NOT_FOUND',
        remedy: 'Link the email account to an existing service principal.',
        definitive: false,
      },
    });
  }
  if (!principal.enabled) {
    const reason = principal.validationError
      ? ` (${principal.validationError.code}: ${principal.validationError.message})`
      : '';
    throw new AppError(
      'CREDENTIAL_REJECTED',
      `Service principal "${principal.servicePrincipalName}" is disabled${reason}.`,
      {
        details: {
          servicePrincipal: principal.servicePrincipalName,
          tokenErrorCode: 'PRINCIPAL_DISABLED',
          remedy:
            'A System Manager must fix the service principal (Test connection shows what is wrong) and enable it again.',
          definitive: false,
        },
      },
    );
  }
  const token = await deps.tokens.getToken(principal);
  return { principal, graphApiEndpoint: principal.graphApiEndpoint, token };
}
