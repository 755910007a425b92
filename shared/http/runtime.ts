/**
 * What every HTTP route needs from the process besides logging: the token verifier, built lazily from
 * `getConfig().apiAuth` on first use. Tests replace it with `setHttpRuntimeForTests`.
 */
import { getConfig } from '../config';
import { createJwtVerifier, type TokenVerifier } from './auth';

export interface HttpRuntime {
  tokenVerifier: TokenVerifier;
}

let configured: HttpRuntime | undefined;
let override: Partial<HttpRuntime> = {};

export function httpRuntime(): HttpRuntime {
  if (override.tokenVerifier) return { tokenVerifier: override.tokenVerifier };
  if (!configured) {
    const { apiAuth } = getConfig();
    configured = {
      tokenVerifier: createJwtVerifier({
        jwksUri: apiAuth.jwksUri,
        issuers: apiAuth.issuers,
        audience: apiAuth.audience,
      }),
    };
  }
  return configured;
}

/** Tests: replace parts of the runtime (`undefined` restores the configured defaults). */
export function setHttpRuntimeForTests(runtime: Partial<HttpRuntime> | undefined): void {
  override = runtime ?? {};
  configured = undefined;
}
