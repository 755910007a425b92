/**
 * Encrypts MSAL's serialized token cache before it is stored in the principal's record.
 *
 * AES-256-GCM with a 32-byte key held in the secret store (Key Vault) under TOKEN_CACHE_KEY_SECRET_NAME,
 * created on first use. The key's version is stored beside the ciphertext (`keyId`), so keys can rotate:
 * a blob is decrypted with the version it names, new blobs are encrypted with the latest version. The
 * principal's id is bound in as additional authenticated data, so a blob copied onto another principal
 * does not decrypt (principals never share a cache).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../../errors';
import type { Clock } from '../ports/clock';
import type { SecretStore } from '../ports/secret-store';
import type { EncryptedBlob } from '../records';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const KEY_BYTES = 32;
const AAD_PREFIX = 'm365-mail-sync/token-cache/v1/';

export interface TokenCacheCipherOptions {
  /** How long the latest key version is trusted before asking the store again (rotation pickup). */
  latestKeyTtlMs?: number;
}

/** Decryption failed: wrong principal, tampered blob, or the key version is gone. Not retryable. */
export class TokenCacheUnreadableError extends AppError {
  constructor(reason: string) {
    super('INTERNAL', `The stored token cache cannot be read (${reason}); a new token will be requested.`);
    this.name = 'TokenCacheUnreadableError';
  }
}

interface Key {
  version: string;
  bytes: Buffer;
}

export class TokenCacheCipher {
  private readonly versions = new Map<string, Buffer>();
  private latest: { key: Key; fetchedAt: number } | undefined;
  private latestInFlight: Promise<Key> | undefined;
  private readonly latestKeyTtlMs: number;

  constructor(
    private readonly secrets: SecretStore,
    private readonly keySecretName: string,
    private readonly clock: Clock,
    options: TokenCacheCipherOptions = {},
  ) {
    this.latestKeyTtlMs = options.latestKeyTtlMs ?? 5 * 60_000;
  }

  async encrypt(plaintext: string, principalId: string): Promise<EncryptedBlob> {
    const key = await this.latestKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key.bytes, iv);
    cipher.setAAD(Buffer.from(AAD_PREFIX + principalId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      keyId: key.version,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }

  /** Throws TokenCacheUnreadableError when the blob does not decrypt for this principal. */
  async decrypt(blob: EncryptedBlob, principalId: string): Promise<string> {
    const key = await this.keyVersion(blob.keyId);
    try {
      const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(blob.iv, 'base64'));
      decipher.setAAD(Buffer.from(AAD_PREFIX + principalId, 'utf8'));
      decipher.setAuthTag(Buffer.from(blob.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(blob.ciphertext, 'base64')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new TokenCacheUnreadableError('authentication failed');
    }
  }

  private async keyVersion(version: string): Promise<Buffer> {
    const known = this.versions.get(version);
    if (known) return known;
    const stored = await this.secrets.get(this.keySecretName, version);
    if (!stored) throw new TokenCacheUnreadableError('its key version no longer exists');
    const bytes = decodeKey(stored.value);
    this.versions.set(stored.version, bytes);
    return bytes;
  }

  private async latestKey(): Promise<Key> {
    const now = this.clock.now().getTime();
    if (this.latest && now - this.latest.fetchedAt < this.latestKeyTtlMs) return this.latest.key;
    // One lookup at a time per process; concurrent encrypts share it.
    this.latestInFlight ??= this.fetchOrCreateLatest().finally(() => {
      this.latestInFlight = undefined;
    });
    return this.latestInFlight;
  }

  private async fetchOrCreateLatest(): Promise<Key> {
    let stored = await this.secrets.get(this.keySecretName);
    stored ??= await this.secrets.set(this.keySecretName, randomBytes(KEY_BYTES).toString('base64'), {
      contentType: 'application/octet-stream; aes-256-gcm key (base64)',
      tags: { purpose: 'token-cache-encryption' },
    });
    const key = { version: stored.version, bytes: decodeKey(stored.value) };
    this.versions.set(key.version, key.bytes);
    this.latest = { key, fetchedAt: this.clock.now().getTime() };
    return key;
  }
}

function decodeKey(value: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== KEY_BYTES) {
    throw new AppError('CONFIG_INVALID', 'The token-cache key in Key Vault is not 32 bytes of base64.');
  }
  return bytes;
}
