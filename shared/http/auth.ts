/**
 * Bearer-token authentication for the HTTP API.
 *
 * Tokens are RS256 JWTs issued by Entra ID (app roles `SystemManager` and `InboxUser` arrive in the `roles`
 * claim). A token is accepted only when its signature matches a key from the JWKS at `API_AUTH_JWKS_URI`,
 * `iss` is one of `API_AUTH_ISSUERS`, `aud` equals `API_AUTH_AUDIENCE`, and `exp` / `nbf` hold (60 s clock
 * tolerance). `alg: none`, HS* and every other algorithm are refused before any key is looked up.
 *
 * Failures are `UNAUTHENTICATED` (401) with a fixed message: the token and the precise reason never reach
 * the response (the reason is logged without the token). A JWKS endpoint that cannot be reached is our
 * problem, not the caller's: `DEPENDENCY_UNAVAILABLE` (503).
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError, dependencyUnavailable } from '../errors';
import type { Logger } from '../domain/ports/logger';

export const API_ROLES = ['SystemManager', 'InboxUser'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** The authenticated caller. `username` is lowercased; it is what records store in `user` / `owner`. */
export interface Principal {
  username: string;
  /** Entra object id (`oid`, else `sub`). */
  oid: string;
  /** The `email` claim, lowercased, when present (may differ from a UPN-shaped username). */
  email?: string;
  roles: ReadonlySet<ApiRole>;
  isSystemManager: boolean;
  isInboxUser: boolean;
}

export function makePrincipal(username: string, oid: string, roles: Iterable<ApiRole> = [], email?: string): Principal {
  const set = new Set(roles);
  return {
    username: username.trim().toLowerCase(),
    oid,
    ...(email ? { email: email.trim().toLowerCase() } : {}),
    roles: set,
    isSystemManager: set.has('SystemManager'),
    isInboxUser: set.has('InboxUser'),
  };
}

export interface TokenVerifier {
  /** Verifies the `Authorization` header value. Throws UNAUTHENTICATED (or DEPENDENCY_UNAVAILABLE). */
  verify(authorizationHeader: string | null | undefined, logger?: Logger): Promise<Principal>;
}

export interface JwtVerifierOptions {
  jwksUri: string;
  issuers: readonly string[];
  audience: string;
  /** Seconds of clock skew accepted on `exp` / `nbf` (default 60). */
  clockToleranceSeconds?: number;
  /** How long fetched keys are used before a refetch (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /** After a fetch, an unknown `kid` does not trigger another fetch for this long (default 30 s). */
  cooldownMs?: number;
  /** JWKS request timeout (default 5 s). */
  timeoutMs?: number;
}

/** Longest `Authorization` header considered (Entra tokens are 1–3 KB; groups overage stays well under). */
const MAX_TOKEN_LENGTH = 16 * 1024;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Thrown by the key resolver when the key set itself could not be fetched (network, non-200, bad JSON). */
class KeySetUnavailable extends Error {}

export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  if (options.issuers.length === 0) throw new Error('createJwtVerifier: at least one issuer is required');
  const remote = createRemoteJWKSet(new URL(options.jwksUri), {
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  const keyFor: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys ||
        error instanceof joseErrors.JOSEAlgNotAllowed ||
        error instanceof joseErrors.JOSENotSupported
      ) {
        throw error;
      }
      throw new KeySetUnavailable('JWKS unavailable', { cause: error });
    }
  };
  const issuers = [...options.issuers];
  const clockTolerance = options.clockToleranceSeconds ?? 60;

  return {
    async verify(header, logger) {
      const token = bearerToken(header);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keyFor, {
          algorithms: ['RS256'],
          issuer: issuers,
          audience: options.audience,
          clockTolerance,
          requiredClaims: ['exp', 'iss', 'aud'],
        }));
      } catch (error) {
        if (error instanceof KeySetUnavailable) {
          logger?.error('api token keys unavailable', { reason: describe(error.cause) });
          throw dependencyUnavailable('The identity provider (signing keys)', error.cause);
        }
        logger?.warn('api token rejected', { reason: describe(error) });
        throw invalidToken();
      }
      return principalFromClaims(payload, logger);
    },
  };
}

/** The identity in a verified token: `preferred_username`, else `upn`, else `email`; `oid`, else `sub`. */
export function principalFromClaims(payload: JWTPayload, logger?: Logger): Principal {
  const username = [payload['preferred_username'], payload['upn'], payload['email']].find(
    (v): v is string => typeof v === 'string' && v.trim().length > 0,
  );
  const oid = [payload['oid'], payload.sub].find((v): v is string => typeof v === 'string' && v.length > 0);
  if (!username || !oid) {
    logger?.warn('api token rejected', { reason: 'no username or object id claim' });
    throw invalidToken();
  }
  const claimed = Array.isArray(payload['roles']) ? (payload['roles'] as unknown[]) : [];
  const roles = API_ROLES.filter((role) => claimed.includes(role));
  const email = typeof payload['email'] === 'string' ? payload['email'] : undefined;
  return makePrincipal(username, oid, roles, email);
}

function bearerToken(header: string | null | undefined): string {
  if (header === null || header === undefined || header.trim() === '') {
    throw new AppError('UNAUTHENTICATED', 'This operation requires a bearer token (Authorization: Bearer <JWT>).');
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header.trim());
  const token = match?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw invalidToken();
  return token;
}

const invalidToken = (): AppError =>
  new AppError('UNAUTHENTICATED', 'The bearer token is invalid or expired.', { details: { tokenPresent: true } });

/** A log-safe reason: the jose error code and message (jose never puts the token in either). */
function describe(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return 'unknown';
}
