/**
 * The simulator's token signing keys (RS256, generated at start, never written anywhere), access token
 * issuing, and access token validation for Graph and Key Vault.
 */
import { generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, exportJWK, type JWK } from 'jose';

const generateRsa = promisify(generateKeyPair);

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const VAULT_RESOURCE = 'https://vault.azure.net';
export const VAULT_APP_ID = 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093';
export const TOKEN_EXCHANGE_RESOURCE = 'api://AzureADTokenExchange';

/** Resources an app can request `/.default` tokens for: identifier → the token's `aud`. */
export const KNOWN_RESOURCES: ReadonlyMap<string, string> = new Map([
  [GRAPH_RESOURCE, GRAPH_RESOURCE],
  [GRAPH_APP_ID, GRAPH_RESOURCE],
  [VAULT_RESOURCE, VAULT_RESOURCE],
  [VAULT_APP_ID, VAULT_RESOURCE],
  [TOKEN_EXCHANGE_RESOURCE.toLowerCase(), TOKEN_EXCHANGE_RESOURCE],
]);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

export class SigningKeys {
  private constructor(private readonly keys: SigningKey[]) {}

  static async generate(): Promise<SigningKeys> {
    const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return new SigningKeys([{ kid, privateKey, publicKey, jwk: { ...jwk, kid, use: 'sig', alg: 'RS256' } }]);
  }

  get active(): SigningKey {
    const key = this.keys[0];
    if (!key) throw new Error('no signing key');
    return key;
  }

  find(kid: string | undefined): SigningKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  /** JWKS document, as Entra publishes it (`kty`, `use`, `kid`, `n`, `e`, plus the issuer). */
  jwks(issuer: string): { keys: (JWK & { issuer: string })[] } {
    return { keys: this.keys.map((k) => ({ ...k.jwk, issuer })) };
  }

  async sign(claims: Record<string, unknown>): Promise<string> {
    const key = this.active;
    return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: key.kid }).sign(key.privateKey);
  }
}

export const TOKEN_LIFETIME_SECONDS = 3599;

export interface AppTokenInput {
  baseUrl: string;
  tenantId: string;
  appId: string;
  servicePrincipalId: string;
  audience: string;
  roles: string[];
  nowSeconds: number;
}

/** Claims of an app-only (client credentials) v2.0 access token. */
export function appTokenClaims(input: AppTokenInput): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    aud: input.audience,
    iss: `${input.baseUrl}/${input.tenantId}/v2.0`,
    iat: input.nowSeconds,
    nbf: input.nowSeconds,
    exp: input.nowSeconds + TOKEN_LIFETIME_SECONDS,
    aio: randomUUID(),
    appid: input.appId,
    appidacr: '1',
    azp: input.appId,
    azpacr: '1',
    idp: `${input.baseUrl}/${input.tenantId}/`,
    idtyp: 'app',
    oid: input.servicePrincipalId,
    sub: input.servicePrincipalId,
    tid: input.tenantId,
    uti: randomUUID().replace(/-/g, ''),
    ver: '2.0',
  };
  if (input.roles.length > 0) claims['roles'] = input.roles;
  return claims;
}

export type TokenFailure = 'malformed' | 'signature' | 'issuer' | 'audience' | 'expired' | 'notYetValid';

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  exp: number;
  nbf?: number;
  appid?: string;
  azp?: string;
  oid?: string;
  roles?: string[];
  idtyp?: string;
  [claim: string]: unknown;
}

export type TokenCheck =
  { ok: true; claims: AccessTokenClaims } | { ok: false; failure: TokenFailure; detail?: string };

/** Entra and resource servers allow five minutes of clock skew. */
const CLOCK_SKEW_SECONDS = 300;
/** Verified signatures kept to skip repeated RSA work for the same token (bounded). */
const VERIFIED_CACHE_SIZE = 512;

export class TokenValidator {
  private verified = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly baseUrl: () => string,
    private readonly tenantExists: (tenantId: string) => boolean,
  ) {}

  /** Checks signature, issuer (one of the simulator's tenants), audience (any of `audiences`) and lifetime. */
  async check(token: string, audiences: readonly string[], nowSeconds: number): Promise<TokenCheck> {
    let claims = this.verified.get(token);
    if (!claims) {
      const parts = token.split('.');
      if (parts.length !== 3) return { ok: false, failure: 'malformed' };
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        return { ok: false, failure: 'malformed' };
      }
      const key = this.keys.find(kid);
      if (!key) return { ok: false, failure: 'signature' };
      try {
        const { payload } = await compactVerify(token, key.publicKey, { algorithms: ['RS256'] });
        claims = JSON.parse(Buffer.from(payload).toString('utf8')) as AccessTokenClaims;
      } catch {
        return { ok: false, failure: 'signature' };
      }
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(token, claims);
    }
    const tid = typeof claims.tid === 'string' ? claims.tid : '';
    if (claims.iss !== `${this.baseUrl()}/${tid}/v2.0` || !this.tenantExists(tid)) {
      return { ok: false, failure: 'issuer', detail: String(claims.iss) };
    }
    const aud = typeof claims.aud === 'string' ? claims.aud.replace(/\/$/, '') : '';
    if (!audiences.includes(aud)) return { ok: false, failure: 'audience', detail: aud };
    if (typeof claims.exp !== 'number' || claims.exp + CLOCK_SKEW_SECONDS < nowSeconds) {
      return { ok: false, failure: 'expired' };
    }
    if (typeof claims.nbf === 'number' && claims.nbf - CLOCK_SKEW_SECONDS > nowSeconds) {
      return { ok: false, failure: 'notYetValid' };
    }
    return { ok: true, claims };
  }

  clearCache(): void {
    this.verified = new Map();
  }
}
