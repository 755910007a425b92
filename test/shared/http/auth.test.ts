/**
 * Bearer-token verification against a local JWKS served over HTTPS: what is accepted, what is refused, and
 * that a refusal never reveals the token.
 */
import { createJwtVerifier } from '../../../shared/http/auth';
import { isAppError, type AppError } from '../../../shared/errors';
import type { Logger } from '../../../shared/domain/ports/logger';
import { startTestIdentityProvider, TEST_CALLERS, type TestIdentityProvider } from '../../support/api-tokens';

let idp: TestIdentityProvider;
beforeAll(async () => {
  idp = await startTestIdentityProvider();
});
afterAll(async () => {
  await idp.close();
});

function recordingLogger(lines: string[]): Logger {
  const write = (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${message} ${JSON.stringify(fields)}`);
  const logger: Logger = { debug: write, info: write, warn: write, error: write, child: () => logger };
  return logger;
}

async function refusal(header: string | null | undefined, lines: string[] = []): Promise<AppError> {
  try {
    await idp.verifier.verify(header, recordingLogger(lines));
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

describe('a valid token', () => {
  it('yields the caller: lowercased preferred_username, oid and the known roles', async () => {
    const token = await idp.mint({
      preferred_username: 'Sam.Admin@Contoso.TEST',
      oid: 'oid-1',
      roles: ['SystemManager', 'InboxUser', 'Something.Else'],
    });
    const principal = await idp.verifier.verify(`Bearer ${token}`);
    expect(principal.username).toBe('sam.admin@contoso.test');
    expect(principal.oid).toBe('oid-1');
    expect([...principal.roles].sort()).toEqual(['InboxUser', 'SystemManager']);
    expect(principal.isSystemManager).toBe(true);
    expect(principal.isInboxUser).toBe(true);
  });

  it('without roles is an ordinary user', async () => {
    const principal = await idp.verifier.verify(`Bearer ${await idp.tokenFor('alice')}`);
    expect(principal).toMatchObject({
      username: TEST_CALLERS.alice.username,
      isSystemManager: false,
      isInboxUser: false,
    });
    expect(principal.roles.size).toBe(0);
  });

  it('falls back to upn, then email, for the username and to sub for the object id', async () => {
    const upn = await idp.mint({ upn: 'UPN@contoso.test', email: 'Mail@contoso.test', oid: 'o' });
    expect(await idp.verifier.verify(`Bearer ${upn}`)).toMatchObject({
      username: 'upn@contoso.test',
      email: 'mail@contoso.test',
    });
    const email = await idp.mint({ email: 'Mail@contoso.test', sub: 'subject-1' });
    const principal = await idp.verifier.verify(`Bearer ${email}`);
    expect(principal.username).toBe('mail@contoso.test');
    expect(principal.oid).toBe('subject-1');
  });

  it('is accepted from any configured issuer, and with the scheme in any letter case', async () => {
    const token = await idp.tokenFor('bob', { issuer: idp.issuers[1] });
    expect((await idp.verifier.verify(`bearer ${token}`)).username).toBe(TEST_CALLERS.bob.username);
  });

  it('is accepted within the 60 s clock tolerance on exp and nbf', async () => {
    const justExpired = await idp.tokenFor('alice', { expiresInSeconds: -30 });
    await expect(idp.verifier.verify(`Bearer ${justExpired}`)).resolves.toBeDefined();
    const almostValid = await idp.tokenFor('alice', { notBeforeSeconds: 30 });
    await expect(idp.verifier.verify(`Bearer ${almostValid}`)).resolves.toBeDefined();
  });
});

describe('a refused token gets UNAUTHENTICATED (401)', () => {
  const cases: [string, () => Promise<string | null | undefined>][] = [
    ['missing header', () => Promise.resolve(undefined)],
    ['empty header', () => Promise.resolve('')],
    ['another scheme', () => Promise.resolve(`Basic ${Buffer.from('alice:pw').toString('base64')}`)],
    ['a bearer value that is not a JWT', () => Promise.resolve('Bearer not-a-jwt')],
    ['garbage in JWT shape', () => Promise.resolve('Bearer aaaa.bbbb.cccc')],
    ['two tokens', async () => `Bearer ${await idp.tokenFor('alice')} ${await idp.tokenFor('bob')}`],
    [
      'wrong issuer',
      () => idp.tokenFor('alice', { issuer: 'https://login.microsoftonline.com/evil/v2.0' }).then((t) => `Bearer ${t}`),
    ],
    ['wrong audience', () => idp.tokenFor('alice', { audience: 'api://someone-else' }).then((t) => `Bearer ${t}`)],
    ['expired', () => idp.tokenFor('alice', { expiresInSeconds: -120 }).then((t) => `Bearer ${t}`)],
    [
      'not yet valid (nbf in the future)',
      () => idp.tokenFor('alice', { notBeforeSeconds: 600 }).then((t) => `Bearer ${t}`),
    ],
    ['no exp claim', () => idp.tokenFor('alice', { claims: { exp: undefined } }).then((t) => `Bearer ${t}`)],
    ['alg none', () => idp.tokenFor('admin', { alg: 'none' }).then((t) => `Bearer ${t}`)],
    ['HS256 with the public key as secret', () => idp.tokenFor('admin', { alg: 'HS256' }).then((t) => `Bearer ${t}`)],
    ['signed by an unknown key', () => idp.tokenFor('admin', { key: 'unknown' }).then((t) => `Bearer ${t}`)],
    ['no username claim', () => idp.mint({ oid: 'o' }).then((t) => `Bearer ${t}`)],
    [
      'a tampered payload (roles added)',
      async () => {
        const [header, payload, signature] = (await idp.tokenFor('alice')).split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
        claims.roles = ['SystemManager'];
        return `Bearer ${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      },
    ],
  ];

  it.each(cases)('%s', async (_name, header) => {
    const value = await header();
    const lines: string[] = [];
    const error = await refusal(value, lines);
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.status).toBe(401);
    const token = value?.split(' ')[1];
    if (token && token.length > 10) {
      expect(error.message).not.toContain(token);
      expect(JSON.stringify(error.details ?? {})).not.toContain(token);
      expect(lines.join('\n')).not.toContain(token);
    }
  });

  it('logs why a token was refused (without the token)', async () => {
    const lines: string[] = [];
    await refusal(`Bearer ${await idp.tokenFor('alice', { audience: 'api://other' })}`, lines);
    expect(lines.join('\n')).toMatch(/api token rejected.*aud/);
  });
});

describe('the key set', () => {
  it('is fetched once and then served from the cache', async () => {
    const verifier = idp.createVerifier();
    const before = idp.jwksRequests();
    for (let i = 0; i < 5; i += 1) await verifier.verify(`Bearer ${await idp.tokenFor('alice')}`);
    expect(idp.jwksRequests() - before).toBe(1);
  });

  it('is fetched again for an unknown kid after the cooldown (key rotation), but not before', async () => {
    const verifier = idp.createVerifier({ cooldownMs: 0 });
    await verifier.verify(`Bearer ${await idp.tokenFor('alice')}`);
    await idp.rotateKey();
    const fresh = await idp.tokenFor('alice');
    await expect(verifier.verify(`Bearer ${fresh}`)).resolves.toMatchObject({ username: TEST_CALLERS.alice.username });

    const cooling = idp.createVerifier({ cooldownMs: 60_000 });
    await cooling.verify(`Bearer ${fresh}`);
    const before = idp.jwksRequests();
    await expect(cooling.verify(`Bearer ${await idp.tokenFor('alice', { key: 'unknown' })}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(idp.jwksRequests()).toBe(before);
  });

  it('being unreachable is DEPENDENCY_UNAVAILABLE (503), not the caller’s fault', async () => {
    const verifier = createJwtVerifier({
      jwksUri: 'https://127.0.0.1:1/discovery/v2.0/keys',
      issuers: idp.issuers,
      audience: idp.audience,
      timeoutMs: 2000,
    });
    await expect(verifier.verify(`Bearer ${await idp.tokenFor('alice')}`)).rejects.toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      status: 503,
    });
  });
});
