/** Ports of the identity area: getting app-only tokens, and probing Microsoft Graph with one. */
import type { ServicePrincipalRecord } from '../records';

export interface AccessToken {
  /** The bearer token. Never log it, store it outside the encrypted cache, or return it from an API. */
  accessToken: string;
  expiresOn: Date;
  /** True when no token request was made (in-process memo, or MSAL's cache restored from Cosmos). */
  fromCache: boolean;
}

export interface GetTokenOptions {
  /** Ignore every cache and ask Entra ID (validation, test connection, the hourly refresh). */
  forceRefresh?: boolean;
}

/**
 * App-only tokens for Microsoft Graph, one principal at a time. Implementations keep each principal's
 * tokens apart (no shared client or cache between principals), persist the token cache encrypted into the
 * principal's record, and update `lastTokenRefresh` / `tokenExpiresAt` when they obtain a new token.
 *
 * Throws `TokenRequestError` (an AppError): `DEPENDENCY_UNAVAILABLE` / `RATE_LIMITED` (retryable) or
 * `CREDENTIAL_REJECTED` (an admin must act), with `details.tokenErrorCode` and `details.remedy`.
 */
export interface TokenProvider {
  getToken(principal: ServicePrincipalRecord, options?: GetTokenOptions): Promise<AccessToken>;
}

export interface GraphProbeResponse {
  /** HTTP status; 0 when Graph could not be reached. */
  status: number;
  /** Graph's `error.code` (e.g. `Authorization_RequestDenied`, `ErrorAccessDenied`), when it sent one. */
  errorCode?: string | undefined;
}

/** One authenticated GET against the principal's Graph endpoint (test connection). */
export interface GraphProbe {
  /** `pathAndQuery` is relative to the Graph endpoint, e.g. `/users?$top=1&$select=id`. Never throws for HTTP errors. */
  get(graphApiEndpoint: string, accessToken: string, pathAndQuery: string): Promise<GraphProbeResponse>;
}
