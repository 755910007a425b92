/**
 * MSAL cache plugin that keeps one principal's token cache in its Cosmos record, encrypted (AES-256-GCM,
 * `TokenCacheCipher`). Before a cache lookup it loads the stored cache when another process wrote a newer
 * one; after MSAL obtains a token it writes the cache back with an ETag-safe read-modify-write that keeps
 * whichever cache holds the later-expiring token, so concurrent refreshes never corrupt or regress it.
 * Persistence failures are logged and never fail the token request.
 */
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import type { ServicePrincipalRepository } from '../../domain/ports/repositories';
import type { ServicePrincipalRecord } from '../../domain/records';
import type { TokenCacheCipher } from '../../domain/identity/token-cache-cipher';
import { isAppError } from '../../errors';

/** What makes a cached token belong to this client: the same app, tenant, authority and credential. */
export function credentialIdentity(record: ServicePrincipalRecord): string {
  const c = record.credential;
  const credential =
    c.kind === 'federated'
      ? `federated:${c.managedIdentityClientId ?? ''}:${c.audience}`
      : c.kind === 'certificate'
        ? `certificate:${c.secretRef.name}:${c.secretRef.version ?? ''}:${c.thumbprintSha256}`
        : `clientSecret:${c.secretRef.name}:${c.secretRef.version ?? ''}`;
  return JSON.stringify([record.id, record.tenantId, record.clientId, record.authorityUrl, record.scopes, credential]);
}

/** The latest `expires_on` of the access tokens in MSAL's serialized cache. */
export function latestAccessTokenExpiry(serializedCache: string): Date | undefined {
  try {
    const cache = JSON.parse(serializedCache) as { AccessToken?: Record<string, { expires_on?: string }> };
    const seconds = Object.values(cache.AccessToken ?? {})
      .map((t) => Number(t.expires_on))
      .filter((n) => Number.isFinite(n) && n > 0);
    return seconds.length ? new Date(Math.max(...seconds) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

export interface EncryptedCachePluginDeps {
  repository: ServicePrincipalRepository;
  cipher: TokenCacheCipher;
  clock: Clock;
  logger: Logger;
}

export class EncryptedRecordCachePlugin implements ICachePlugin {
  /** IV of the stored blob that MSAL's in-memory cache currently reflects. */
  private loadedIv: string | undefined;
  private readThisCall = false;

  constructor(
    private readonly principal: ServicePrincipalRecord,
    private readonly identity: string,
    private readonly deps: EncryptedCachePluginDeps,
  ) {}

  /** Called once per token request: the stored cache is read at most once per request. */
  beginRequest(): void {
    this.readThisCall = false;
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    if (this.readThisCall) return;
    this.readThisCall = true;
    let record: ServicePrincipalRecord | undefined;
    try {
      record = await this.deps.repository.get(this.principal.servicePrincipalName);
    } catch (error) {
      this.deps.logger.warn('token cache: could not read the stored cache; using the in-process cache', {
        code: isAppError(error) ? error.code : 'unknown',
      });
      return;
    }
    const blob = record?.tokenCache;
    if (!record || !blob || blob.iv === this.loadedIv || credentialIdentity(record) !== this.identity) return;
    try {
      const serialized = await this.deps.cipher.decrypt(blob, this.principal.id);
      context.tokenCache.deserialize(serialized);
      this.loadedIv = blob.iv;
    } catch (error) {
      // Unreadable (rotated-away key, tampering): ignore it; MSAL requests a new token and we overwrite it.
      this.loadedIv = blob.iv;
      this.deps.logger.warn('token cache: the stored cache cannot be decrypted; a new token will be requested', {
        code: isAppError(error) ? error.code : 'unknown',
        keyId: blob.keyId,
      });
    }
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    const serialized = context.tokenCache.serialize();
    const expiresAt = latestAccessTokenExpiry(serialized);
    try {
      const blob = await this.deps.cipher.encrypt(serialized, this.principal.id);
      const refreshedAt = this.deps.clock.now().toISOString();
      let written = false;
      await this.deps.repository.update(this.principal.servicePrincipalName, (current) => {
        written = false;
        // The principal changed (new credential, tenant, app) since this client was built: not our cache.
        if (credentialIdentity(current) !== this.identity) return undefined;
        const stored = current.tokenExpiresAt ? Date.parse(current.tokenExpiresAt) : undefined;
        if (current.tokenCache && stored !== undefined && expiresAt && stored > expiresAt.getTime()) return undefined;
        written = true;
        return {
          ...current,
          tokenCache: blob,
          lastTokenRefresh: refreshedAt,
          ...(expiresAt ? { tokenExpiresAt: expiresAt.toISOString() } : {}),
        };
      });
      if (written) this.loadedIv = blob.iv;
    } catch (error) {
      this.deps.logger.warn('token cache: could not store the refreshed cache', {
        code: isAppError(error) ? error.code : 'unknown',
      });
    }
  }
}
