/**
 * A local identity provider for API tests: an RS256 key pair made at test time, its JWKS served over HTTPS
 * (the stack's certificate, trusted through NODE_EXTRA_CA_CERTS), a token minter for the standard test
 * callers and for every kind of bad token, and a `TokenVerifier` wired to it.
 *
 *   const idp = await startTestIdentityProvider();
 *   setHttpRuntimeForTests({ tokenVerifier: idp.verifier });
 *   const token = await idp.tokenFor('alice');
 *   ...
 *   await idp.close();
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import {
  createJwtVerifier,
  makePrincipal,
  type ApiRole,
  type Principal,
  type TokenVerifier,
} from '../../shared/http/auth';
import { testStack } from './stack';

export interface TestCaller {
  username: string;
  oid: string;
  roles: ApiRole[];
}

/** The callers of the authorization matrix: two ordinary users, an Inbox User and a System Manager. */
export const TEST_CALLERS = {
  alice: { username: 'alice@contoso.test', oid: '11111111-1111-4111-8111-111111111111', roles: [] },
  bob: { username: 'bob@contoso.test', oid: '22222222-2222-4222-8222-222222222222', roles: [] },
  inbox: { username: 'ina.inbox@contoso.test', oid: '33333333-3333-4333-8333-333333333333', roles: ['InboxUser'] },
  admin: { username: 'sam.admin@contoso.test', oid: '44444444-4444-4444-8444-444444444444', roles: ['SystemManager'] },
} as const satisfies Record<string, TestCaller>;
export type TestCallerName = keyof typeof TEST_CALLERS;

/** The `Principal` the API derives from a test caller's token. */
export const principalOf = (name: TestCallerName): Principal => {
  const caller = TEST_CALLERS[name];
  return makePrincipal(caller.username, caller.oid, caller.roles);
};

export interface MintOptions {
  /** Default: the provider's first issuer. */
  issuer?: string;
  /** Default: the provider's audience. */
  audience?: string;
  /** Seconds from now; negative for an expired token (default 3600). */
  expiresInSeconds?: number;
  /** `nbf` this many seconds from now (default: absent). */
  notBeforeSeconds?: number;
  /** `trusted`: the published key; `unknown`: a key the JWKS does not list (same kid). */
  key?: 'trusted' | 'unknown';
  /** `HS256` signs with the published public key's PEM as the HMAC secret (the classic confusion attack). */
  alg?: 'RS256' | 'none' | 'HS256';
  /** Extra or overriding claims; a claim set to `undefined` is removed. */
  claims?: Record<string, unknown>;
}

export interface TestIdentityProvider {
  jwksUri: string;
  issuers: string[];
  audience: string;
  /** A verifier for this provider (fresh JWKS cache). */
  verifier: TokenVerifier;
  /** Builds another verifier (e.g. with other cache settings). */
  createVerifier(options?: { cooldownMs?: number; cacheMaxAgeMs?: number }): TokenVerifier;
  /** A valid token for a test caller (options may spoil it). */
  tokenFor(caller: TestCallerName | TestCaller, options?: MintOptions): Promise<string>;
  /** A token with exactly these claims (plus iss/aud/exp/iat unless overridden in `options.claims`). */
  mint(claims: Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksRequests(): number;
  /** Replace the published keys with a new pair (key rotation); returns the new kid. */
  rotateKey(): Promise<string>;
  close(): Promise<void>;
}

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

async function makeKey(kid: string = randomUUID()): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function startTestIdentityProvider(
  options: { audience?: string; issuers?: string[] } = {},
): Promise<TestIdentityProvider> {
  const stack = testStack();
  let trusted = await makeKey();
  const unknown = await makeKey(trusted.kid);
  let requests = 0;
  const server: Server = createServer(
    { cert: readFileSync(stack.tlsCertPath), key: readFileSync(stack.tlsKeyPath) },
    (req, res) => {
      if (req.url === '/discovery/v2.0/keys') {
        requests += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [trusted.publicJwk] }));
        return;
      }
      res.writeHead(404).end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `https://127.0.0.1:${port}`;
  const tenantId = '9e7a1d2b-0000-4000-8000-00000000c0de';
  const issuers = options.issuers ?? [`${base}/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`];
  const audience = options.audience ?? 'api://m365-mail-sync-tests';
  const jwksUri = `${base}/discovery/v2.0/keys`;
  const createVerifier = (o: { cooldownMs?: number; cacheMaxAgeMs?: number } = {}): TokenVerifier =>
    createJwtVerifier({ jwksUri, issuers, audience, ...o });

  const mint = async (claims: Record<string, unknown>, mintOptions: MintOptions = {}): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: mintOptions.issuer ?? issuers[0],
      aud: mintOptions.audience ?? audience,
      iat: now,
      exp: now + (mintOptions.expiresInSeconds ?? 3600),
      tid: tenantId,
      ver: '2.0',
      ...(mintOptions.notBeforeSeconds !== undefined ? { nbf: now + mintOptions.notBeforeSeconds } : {}),
      ...claims,
      ...mintOptions.claims,
    };
    for (const [key, value] of Object.entries(payload)) if (value === undefined) delete payload[key];
    const alg = mintOptions.alg ?? 'RS256';
    if (alg === 'none') return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
    if (alg === 'HS256') {
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: trusted.kid })
        .sign(new TextEncoder().encode(trusted.publicPem));
    }
    const key = mintOptions.key === 'unknown' ? unknown : trusted;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
  };

  return {
    jwksUri,
    issuers,
    audience,
    verifier: createVerifier(),
    createVerifier,
    mint,
    tokenFor(caller, mintOptions) {
      const c = typeof caller === 'string' ? TEST_CALLERS[caller] : caller;
      return mint(
        { preferred_username: c.username, oid: c.oid, sub: `sub-${c.oid}`, roles: [...c.roles], name: c.username },
        mintOptions,
      );
    },
    jwksRequests: () => requests,
    async rotateKey() {
      trusted = await makeKey();
      return trusted.kid;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
