/**
 * Service principal use cases behind the HTTP API. Reads apply the visibility rules of
 * `shared/http/authorization.ts` (`servicePrincipalView`: System Managers see every field but secrets,
 * everyone else only the name and tenant name of enabled principals). Writes and test connection are the
 * identity domain's use cases (`shared/domain/identity`), built by the identity factory; nothing here ever
 * handles a secret beyond passing the request body on.
 */
import { servicePrincipalUseCases, testConnectionDeps } from '../adapters/identity/factory';
import type { PublicServicePrincipal } from '../domain/identity/public-view';
import { testServicePrincipalConnection, type TestConnectionResult } from '../domain/identity/test-connection';
import type { Logger } from '../domain/ports/logger';
import type { Page, PageRequest, Repositories } from '../domain/ports/repositories';
import { notFound } from '../errors';
import type { Principal } from '../http/auth';
import { servicePrincipalView, type ServicePrincipalNameView } from '../http/authorization';
import { fetchPage } from '../http/pagination';
import { parseIfMatch } from './email-accounts';

const what = (name: string): string => `Service principal "${name}"`;

/** Where a principal can be read (`Location` of a create). */
export const servicePrincipalUrl = (name: string): string => `/api/service-principals/${encodeURIComponent(name)}`;

/**
 * The principals the caller may see: all of them (optionally filtered) for System Managers, the enabled
 * ones' names for everyone else (`enabled=false` gives them an empty list).
 */
export async function listVisibleServicePrincipals(
  repositories: Repositories,
  principal: Principal,
  page: PageRequest,
  filter: { enabled?: boolean },
  now: Date,
): Promise<Page<PublicServicePrincipal | ServicePrincipalNameView>> {
  if (!principal.isSystemManager && filter.enabled === false) return { items: [], continuationToken: null };
  const effective = principal.isSystemManager ? filter : { enabled: true };
  const result = await fetchPage(() => repositories.servicePrincipals.list(page, effective));
  return {
    items: result.items.flatMap((record) => {
      const visible = servicePrincipalView(principal, record, now);
      return visible ? [visible.view] : [];
    }),
    continuationToken: result.continuationToken,
  };
}

/** The admin view of one principal (the route requires the System Manager role); NOT_FOUND when missing. */
export async function getServicePrincipalView(
  repositories: Repositories,
  principal: Principal,
  name: string,
  now: Date,
): Promise<PublicServicePrincipal> {
  const record = await repositories.servicePrincipals.get(name);
  const visible = record ? servicePrincipalView(principal, record, now) : undefined;
  if (visible?.kind !== 'admin') throw notFound(what(name));
  return visible.view;
}

export function createServicePrincipal(
  logger: Logger,
  principal: Principal,
  body: unknown,
): Promise<PublicServicePrincipal> {
  return servicePrincipalUseCases(logger).createServicePrincipal(body, principal.username);
}

export function updateServicePrincipal(
  logger: Logger,
  principal: Principal,
  name: string,
  body: unknown,
  ifMatchHeader: string | null,
): Promise<PublicServicePrincipal> {
  const ifMatch = parseIfMatch(ifMatchHeader);
  return servicePrincipalUseCases(logger).updateServicePrincipal(
    name,
    body,
    principal.username,
    ifMatch === undefined ? {} : { ifMatch },
  );
}

/** CONFLICT `in-use` while email accounts use it; CONFLICT `stale` when `If-Match` no longer matches. */
export function deleteServicePrincipal(logger: Logger, name: string, ifMatchHeader: string | null): Promise<void> {
  const ifMatch = parseIfMatch(ifMatchHeader);
  return servicePrincipalUseCases(logger).deleteServicePrincipal(name, ifMatch === undefined ? {} : { ifMatch });
}

/** Always a result (failed checks carry their codes and remedies); NOT_FOUND for an unknown principal. */
export function testServicePrincipal(
  logger: Logger,
  name: string,
  mailboxes: string[] | undefined,
): Promise<TestConnectionResult> {
  return testServicePrincipalConnection(testConnectionDeps(logger), name, mailboxes ? { mailboxes } : {});
}
