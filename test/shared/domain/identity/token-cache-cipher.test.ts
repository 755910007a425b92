import { randomBytes } from 'node:crypto';
import { TokenCacheCipher, TokenCacheUnreadableError } from '../../../../shared/domain/identity';
import { FakeClock, InMemorySecretStore } from './fakes';

const KEY_NAME = 'token-cache-key';
const CACHE = JSON.stringify({ AccessToken: { k: { secret: 'eyJ0eXAi.access-token-value' } } });

describe('TokenCacheCipher', () => {
  it('round-trips, creating the key in the secret store on first use', async () => {
    const secrets = new InMemorySecretStore();
    const cipher = new TokenCacheCipher(secrets, KEY_NAME, new FakeClock());
    const blob = await cipher.encrypt(CACHE, 'contoso');
    const key = await secrets.get(KEY_NAME);
    expect(key?.value).toHaveLength(44); // 32 bytes in base64
    expect(blob.keyId).toBe(key?.version);
    expect(Buffer.from(blob.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(blob.tag, 'base64')).toHaveLength(16);
    expect(JSON.stringify(blob)).not.toContain('access-token-value');
    expect(await cipher.decrypt(blob, 'contoso')).toBe(CACHE);
  });

  it('uses a fresh IV each time', async () => {
    const cipher = new TokenCacheCipher(new InMemorySecretStore(), KEY_NAME, new FakeClock());
    const a = await cipher.encrypt(CACHE, 'p');
    const b = await cipher.encrypt(CACHE, 'p');
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it('a new process (new cipher) decrypts with the key version named beside the ciphertext', async () => {
    const secrets = new InMemorySecretStore();
    const blob = await new TokenCacheCipher(secrets, KEY_NAME, new FakeClock()).encrypt(CACHE, 'p');
    expect(await new TokenCacheCipher(secrets, KEY_NAME, new FakeClock()).decrypt(blob, 'p')).toBe(CACHE);
  });

  it('rotates: after a new key version, new blobs use it and old blobs still decrypt', async () => {
    const secrets = new InMemorySecretStore();
    const clock = new FakeClock();
    const cipher = new TokenCacheCipher(secrets, KEY_NAME, clock, { latestKeyTtlMs: 60_000 });
    const old = await cipher.encrypt(CACHE, 'p');
    const rotated = await secrets.set(KEY_NAME, randomBytes(32).toString('base64'));

    // Within the TTL the cached latest key is still used; after it, the new version.
    expect((await cipher.encrypt(CACHE, 'p')).keyId).toBe(old.keyId);
    clock.advance(61_000);
    const fresh = await cipher.encrypt(CACHE, 'p');
    expect(fresh.keyId).toBe(rotated.version);
    expect(fresh.keyId).not.toBe(old.keyId);

    const otherProcess = new TokenCacheCipher(secrets, KEY_NAME, clock);
    expect(await otherProcess.decrypt(old, 'p')).toBe(CACHE);
    expect(await otherProcess.decrypt(fresh, 'p')).toBe(CACHE);
  });

  it('refuses a blob copied onto another principal, a tampered blob, or a deleted key version', async () => {
    const secrets = new InMemorySecretStore();
    const cipher = new TokenCacheCipher(secrets, KEY_NAME, new FakeClock());
    const blob = await cipher.encrypt(CACHE, 'tenant-a');
    await expect(cipher.decrypt(blob, 'tenant-b')).rejects.toBeInstanceOf(TokenCacheUnreadableError);

    const bytes = Buffer.from(blob.ciphertext, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await expect(cipher.decrypt({ ...blob, ciphertext: bytes.toString('base64') }, 'tenant-a')).rejects.toBeInstanceOf(
      TokenCacheUnreadableError,
    );
    await expect(
      new TokenCacheCipher(secrets, KEY_NAME, new FakeClock()).decrypt(
        { ...blob, keyId: 'no-such-version' },
        'tenant-a',
      ),
    ).rejects.toBeInstanceOf(TokenCacheUnreadableError);
  });

  it('concurrent first uses create one key per process, not one per call', async () => {
    const secrets = new InMemorySecretStore();
    const cipher = new TokenCacheCipher(secrets, KEY_NAME, new FakeClock());
    const blobs = await Promise.all(Array.from({ length: 10 }, () => cipher.encrypt(CACHE, 'p')));
    expect(new Set(blobs.map((b) => b.keyId)).size).toBe(1);
    expect(secrets.versions.get(KEY_NAME)).toHaveLength(1);
  });
});
