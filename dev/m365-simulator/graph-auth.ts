/**
 * The Graph side of authentication and authorisation, with the errors Graph / Exchange Online answer:
 * bearer token validation (401 InvalidAuthenticationToken), application permissions (403), mailbox
 * resolution in the caller's tenant (404), RBAC-for-applications mailbox scope (403) and mailboxes that are
 * not enabled for REST (404).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SimHttpError, type GraphCaller, type SimUser } from './contract';
import type { Directory } from './directory';
import { GRAPH_APP_ID, GRAPH_RESOURCE, type TokenFailure, type TokenValidator } from './entra/tokens';

/** Exchange (mail, mailbox settings) or directory (users) semantics for errors and checks. */
export type GraphFlavour = 'exchange' | 'directory';

const GRAPH_AUDIENCES = [GRAPH_RESOURCE, GRAPH_APP_ID] as const;

const TOKEN_MESSAGES: Record<TokenFailure | 'empty', string> = {
  empty: 'Access token is empty.',
  malformed: 'CompactToken parsing failed with error code: 80049217',
  signature: 'Access token validation failure.',
  issuer: 'Access token validation failure. Invalid issuer.',
  audience: 'Access token validation failure. Invalid audience.',
  expired: 'Lifetime validation failed, the token is expired.',
  notYetValid: 'Lifetime validation failed, the token is not yet valid.',
};

export class GraphGate {
  constructor(
    private readonly directory: Directory,
    private readonly tokens: TokenValidator,
    private readonly baseUrl: () => string,
    private readonly nowSeconds: () => number,
  ) {}

  async authenticate(headers: IncomingHttpHeaders | Record<string, string>): Promise<GraphCaller> {
    const header: string | string[] | undefined = headers['authorization'];
    const value = typeof header === 'string' ? header : header?.[0];
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
    if (!match?.[1]) throw this.unauthenticated('empty');
    const result = await this.tokens.check(match[1], GRAPH_AUDIENCES, this.nowSeconds());
    if (!result.ok) throw this.unauthenticated(result.failure);
    const { claims } = result;
    return {
      tenantId: claims.tid,
      appId: claims.appid ?? claims.azp ?? '',
      roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
    };
  }

  checkPermission(caller: GraphCaller, anyOf: readonly string[] | undefined, flavour: GraphFlavour): void {
    if (!anyOf || anyOf.length === 0) return;
    const granted = new Set(caller.roles.map((r) => r.toLowerCase()));
    if (anyOf.some((role) => granted.has(role.toLowerCase()))) return;
    if (flavour === 'directory') {
      throw new SimHttpError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    throw new SimHttpError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  }

  /** Resolves `{user}` (id, UPN or address) in the caller's tenant and applies the mailbox checks. */
  resolveUser(caller: GraphCaller, idOrUpn: string, flavour: GraphFlavour): SimUser {
    const user = this.directory.getUser(caller.tenantId, idOrUpn);
    if (flavour === 'directory') {
      if (!user) {
        throw new SimHttpError(
          404,
          'Request_ResourceNotFound',
          `Resource '${idOrUpn}' does not exist or one of its queried reference-property objects are not present.`,
        );
      }
      return user;
    }
    if (!user) throw new SimHttpError(404, 'ErrorInvalidUser', `The requested user '${idOrUpn}' is invalid.`);
    const principal = this.directory.getPrincipal(caller.tenantId, caller.appId);
    if (!this.directory.inMailboxScope(principal, user)) {
      throw new SimHttpError(403, 'ErrorAccessDenied', 'Access to OData is disabled.');
    }
    if (!user.mailboxEnabled) {
      throw new SimHttpError(
        404,
        'MailboxNotEnabledForRESTAPI',
        'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
      );
    }
    return user;
  }

  private unauthenticated(failure: TokenFailure | 'empty'): SimHttpError {
    return new SimHttpError(401, 'InvalidAuthenticationToken', TOKEN_MESSAGES[failure], {
      'www-authenticate': `Bearer realm="", authorization_uri="${this.baseUrl()}/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
    });
  }
}
