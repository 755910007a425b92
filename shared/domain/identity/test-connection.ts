/**
 * "Test connection": acquire a token, read the application permissions it carries, then probe Graph the
 * way sync will use it (directory read, each mailbox). Every failed check names its code and what the admin
 * should do about it, so consent, permission and mailbox-scoping mistakes surface at setup time.
 */
import { notFound, validationFailed, fieldErrorsFromIssues } from '../../errors';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { EmailAccountRepository, ServicePrincipalRepository } from '../ports/repositories';
import type { ServicePrincipalRecord } from '../records';
import type { GraphProbe, GraphProbeResponse, TokenProvider } from './ports';
import { testConnectionInput } from './service-principal-input';
import { classifyTokenError } from './token-errors';

export interface ConnectionCheck {
  /** `token`, `permissions`, `directory`, or `mailbox:<address>`. */
  name: string;
  ok: boolean;
  /** `OK`, or the Entra ID / Graph error code. */
  code: string;
  message: string;
  /** What to do, for failed checks. */
  remedy?: string;
}

export interface TestConnectionResult {
  ok: boolean;
  servicePrincipalName: string;
  tokenExpiresAt?: string;
  checks: ConnectionCheck[];
}

export interface TestConnectionDeps {
  servicePrincipals: ServicePrincipalRepository;
  emailAccounts: Pick<EmailAccountRepository, 'listAll'>;
  tokens: TokenProvider;
  graphProbe: GraphProbe;
  clock: Clock;
  logger: Logger;
}

const MAIL_READ_ROLES = ['Mail.Read', 'Mail.ReadWrite'];
const RECOMMENDED_ROLES = ['User.Read.All', 'MailboxSettings.Read', 'Mail.Send'];
const DEFAULT_MAILBOX_PROBES = 5;
const CONSENT_REMEDY =
  'In Entra admin center > App registrations > (the app) > API permissions, add the Microsoft Graph application permissions Mail.Read (or Mail.ReadWrite) and User.Read.All, then click "Grant admin consent".';

/** Graph error codes seen by the probes, with a remedy each. */
export const GRAPH_PROBE_REMEDIES: Readonly<Record<string, { message: string; remedy: string }>> = {
  Authorization_RequestDenied: {
    message: 'The application may not read the directory (User.Read.All is missing or not consented).',
    remedy: 'Add the Microsoft Graph application permission User.Read.All and grant admin consent.',
  },
  ErrorAccessDenied: {
    message: 'The application may not open this mailbox.',
    remedy:
      'Either Mail.Read (application) lacks admin consent, or Exchange mailbox scoping excludes this mailbox ("Access to OData is disabled"): add the mailbox to the app\'s RBAC for Applications management scope or Application Access Policy group.',
  },
  MailboxNotEnabledForRESTAPI: {
    message: 'The mailbox is not reachable through Microsoft Graph.',
    remedy:
      'The mailbox must be in Exchange Online and active (not on-premises, soft-deleted or inactive); shared mailboxes must exist in Exchange Online.',
  },
  ErrorInvalidUser: {
    message: 'No such mailbox in this tenant.',
    remedy: 'Check the email address and that the mailbox belongs to this tenant.',
  },
  ResourceNotFound: {
    message: 'No such mailbox in this tenant.',
    remedy: 'Check the email address and that the mailbox belongs to this tenant.',
  },
  Request_ResourceNotFound: {
    message: 'No such user in this tenant.',
    remedy: 'Check the email address and that the mailbox belongs to this tenant.',
  },
  InvalidAuthenticationToken: {
    message: 'Microsoft Graph did not accept the token.',
    remedy: "Make the Graph endpoint and scopes match the authority's cloud (global, US Government or China).",
  },
};

function probeCheck(
  name: string,
  response: GraphProbeResponse,
  okMessage: string,
  forbiddenDefault: string,
): ConnectionCheck {
  if (response.status >= 200 && response.status < 300) return { name, ok: true, code: 'OK', message: okMessage };
  if (response.status === 0) {
    return {
      name,
      ok: false,
      code: response.errorCode ?? 'network_error',
      message: 'Microsoft Graph could not be reached.',
      remedy: 'Check outbound network access to the Graph endpoint, then test again.',
    };
  }
  if (response.status === 429 || response.status >= 500) {
    return {
      name,
      ok: false,
      code: response.errorCode ?? `HTTP_${response.status}`,
      message: `Microsoft Graph answered ${response.status}.`,
      remedy: 'Temporary: test again in a few minutes.',
    };
  }
  const known = response.errorCode ? GRAPH_PROBE_REMEDIES[response.errorCode] : undefined;
  const code = response.errorCode ?? `HTTP_${response.status}`;
  if (known) return { name, ok: false, code, ...known };
  return {
    name,
    ok: false,
    code,
    message: `Microsoft Graph answered ${response.status}.`,
    remedy: response.status === 403 ? forbiddenDefault : 'Check the service principal settings and permissions.',
  };
}

/** The `roles` claim of a JWT access token (read only, not verified: it is our own token). */
export function rolesOfToken(accessToken: string): string[] | undefined {
  const payload = accessToken.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}

function permissionsCheck(roles: string[]): ConnectionCheck {
  if (roles.length === 0) {
    return {
      name: 'permissions',
      ok: false,
      code: 'ADMIN_CONSENT_MISSING',
      message: 'The token carries no application permissions: admin consent has not been granted.',
      remedy: CONSENT_REMEDY,
    };
  }
  const missingRecommended = RECOMMENDED_ROLES.filter((r) => !roles.includes(r));
  const granted = `Granted: ${[...roles].sort().join(', ')}.`;
  if (!MAIL_READ_ROLES.some((r) => roles.includes(r))) {
    return {
      name: 'permissions',
      ok: false,
      code: 'MISSING_APPLICATION_PERMISSION',
      message: `Mail.Read (or Mail.ReadWrite) is not granted. ${granted}`,
      remedy: CONSENT_REMEDY,
    };
  }
  return {
    name: 'permissions',
    ok: true,
    code: 'OK',
    message: missingRecommended.length
      ? `${granted} Not granted (needed only for some features): ${missingRecommended.join(', ')}.`
      : granted,
  };
}

async function mailboxesToProbe(deps: TestConnectionDeps, principal: ServicePrincipalRecord): Promise<string[]> {
  const found: string[] = [];
  for await (const account of deps.emailAccounts.listAll({
    servicePrincipal: principal.servicePrincipalName,
    enabled: true,
  })) {
    if (!found.includes(account.emailAddress)) found.push(account.emailAddress);
    if (found.length >= DEFAULT_MAILBOX_PROBES) break;
  }
  return found;
}

export async function testServicePrincipalConnection(
  deps: TestConnectionDeps,
  name: string,
  rawOptions: unknown = {},
): Promise<TestConnectionResult> {
  const parsed = testConnectionInput.safeParse(rawOptions ?? {});
  if (!parsed.success) throw validationFailed(fieldErrorsFromIssues(parsed.error.issues));
  const principal = await deps.servicePrincipals.get(name);
  if (!principal) throw notFound(`Service principal "${name}"`);
  const log = deps.logger.child({ servicePrincipal: principal.servicePrincipalName, tenantId: principal.tenantId });
  const checks: ConnectionCheck[] = [];

  let accessToken: string;
  let tokenExpiresAt: string;
  try {
    const token = await deps.tokens.getToken(principal, { forceRefresh: true });
    accessToken = token.accessToken;
    tokenExpiresAt = token.expiresOn.toISOString();
    checks.push({ name: 'token', ok: true, code: 'OK', message: `Token acquired; it expires at ${tokenExpiresAt}.` });
  } catch (error) {
    const failure = classifyTokenError(error);
    checks.push({ name: 'token', ok: false, code: failure.code, message: failure.message, remedy: failure.remedy });
    await recordOutcome(deps, principal, { code: failure.code, message: failure.message }, log);
    log.warn('test connection: no token', { code: failure.code });
    return { ok: false, servicePrincipalName: principal.servicePrincipalName, checks };
  }

  const roles = rolesOfToken(accessToken);
  if (roles !== undefined) checks.push(permissionsCheck(roles));

  const directory = await deps.graphProbe.get(principal.graphApiEndpoint, accessToken, '/users?$top=1&$select=id');
  checks.push(
    probeCheck(
      'directory',
      directory,
      'The directory can be read (User.Read.All).',
      GRAPH_PROBE_REMEDIES['Authorization_RequestDenied']?.remedy ?? '',
    ),
  );

  const mailboxes = parsed.data.mailboxes ?? (await mailboxesToProbe(deps, principal));
  for (const mailbox of mailboxes) {
    const response = await deps.graphProbe.get(
      principal.graphApiEndpoint,
      accessToken,
      `/users/${encodeURIComponent(mailbox)}/mailFolders/inbox?$select=id`,
    );
    checks.push(
      probeCheck(
        `mailbox:${mailbox}`,
        response,
        'The inbox can be read.',
        GRAPH_PROBE_REMEDIES['ErrorAccessDenied']?.remedy ?? '',
      ),
    );
  }

  await recordOutcome(deps, principal, undefined, log);
  const ok = checks.every((c) => c.ok);
  log.info('test connection', { ok, failed: checks.filter((c) => !c.ok).map((c) => `${c.name}:${c.code}`) });
  return { ok, servicePrincipalName: principal.servicePrincipalName, tokenExpiresAt, checks };
}

/** Records the token outcome on the principal (never enables or disables it). Failures here are only logged. */
async function recordOutcome(
  deps: TestConnectionDeps,
  principal: ServicePrincipalRecord,
  error: { code: string; message: string } | undefined,
  log: Logger,
): Promise<void> {
  const at = deps.clock.now().toISOString();
  try {
    await deps.servicePrincipals.update(principal.servicePrincipalName, (current) => {
      const { validationError: _previous, ...rest } = current;
      return { ...rest, lastValidatedAt: at, ...(error ? { validationError: { ...error, at } } : {}) };
    });
  } catch (e) {
    log.warn('test connection: could not record the outcome', { error: e });
  }
}
