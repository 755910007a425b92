/**
 * The SecretStore port on Azure Key Vault (`@azure/keyvault-secrets`). The one secret store of every
 * deployment: locally it talks to the M365 simulator's Key Vault over the same SDK.
 *
 * Errors never carry the SDK's error object (its request can hold the secret value being written): only
 * the HTTP status and Key Vault's error code.
 */
import type { TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import { AppError } from '../../errors';
import { CLOUD_PROFILES } from '../../domain/identity/clouds';
import { isAllowedDevHost } from '../../domain/identity/endpoints';
import type { SecretStore, StoredSecret } from '../../domain/ports/secret-store';

export interface KeyVaultSecretStoreOptions {
  vaultUrl: string;
  credential: TokenCredential;
  /** ALLOWED_DEV_HOSTS: a vault on one of these hosts (the simulator) skips the challenge resource check. */
  allowedDevHosts: readonly string[];
  /** Retries of failed requests (default 3, with the SDK's exponential backoff). */
  maxRetries?: number;
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
}

function restFacts(error: unknown): RestErrorLike {
  if (error === null || typeof error !== 'object') return {};
  const e = error as Record<string, unknown>;
  return {
    ...(typeof e['statusCode'] === 'number' ? { statusCode: e['statusCode'] } : {}),
    ...(typeof e['code'] === 'string' ? { code: e['code'] } : {}),
  };
}

function keyVaultError(operation: string, name: string, error: unknown): AppError {
  const { statusCode, code } = restFacts(error);
  const details = {
    operation,
    vaultItem: name,
    ...(statusCode ? { status: statusCode } : {}),
    ...(code ? { keyVaultCode: code } : {}),
  };
  if (statusCode === 401 || statusCode === 403) {
    return new AppError(
      'DEPENDENCY_UNAVAILABLE',
      `Key Vault refused to ${operation} secret "${name}" (${statusCode}): grant the Function App's identity the "Key Vault Secrets Officer" role on the vault.`,
      { details, retryable: false },
    );
  }
  if (statusCode === 429)
    return new AppError('RATE_LIMITED', `Key Vault is throttling (${operation} "${name}").`, { details });
  if (statusCode === 400 || statusCode === 409) {
    return new AppError(
      'INTERNAL',
      `Key Vault rejected the request to ${operation} secret "${name}" (${code ?? statusCode}).`,
      { details },
    );
  }
  return new AppError('DEPENDENCY_UNAVAILABLE', `Key Vault is not reachable right now (${operation} "${name}").`, {
    details,
  });
}

/** Checks the vault URL is a Key Vault host of a Microsoft cloud, or an allowed dev host. */
function vaultIsDevHost(vaultUrl: string, allowedDevHosts: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(vaultUrl);
  } catch {
    throw new AppError('CONFIG_INVALID', 'KEY_VAULT_URL is not a valid URL.');
  }
  if (url.protocol !== 'https:') throw new AppError('CONFIG_INVALID', 'KEY_VAULT_URL must use https.');
  if (isAllowedDevHost(url, allowedDevHosts)) return true;
  const host = url.hostname.toLowerCase();
  const known = Object.values(CLOUD_PROFILES).some((p) => host.endsWith(p.keyVaultSuffix));
  if (!known) {
    throw new AppError(
      'CONFIG_INVALID',
      'KEY_VAULT_URL must be a Key Vault host (*.vault.azure.net, *.vault.usgovcloudapi.net, *.vault.azure.cn) or be listed in ALLOWED_DEV_HOSTS.',
    );
  }
  return false;
}

export class KeyVaultSecretStore implements SecretStore {
  private readonly client: SecretClient;

  constructor(options: KeyVaultSecretStoreOptions) {
    const dev = vaultIsDevHost(options.vaultUrl, options.allowedDevHosts);
    this.client = new SecretClient(options.vaultUrl, options.credential, {
      ...(dev ? { disableChallengeResourceVerification: true } : {}),
      retryOptions: { maxRetries: options.maxRetries ?? 3 },
    });
  }

  async set(
    name: string,
    value: string,
    options: { expiresOn?: Date; contentType?: string; tags?: Record<string, string> } = {},
  ): Promise<StoredSecret> {
    try {
      const stored = await this.client.setSecret(name, value, {
        ...(options.expiresOn ? { expiresOn: options.expiresOn } : {}),
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.tags ? { tags: options.tags } : {}),
      });
      return { name, value, version: stored.properties.version ?? '', expiresOn: stored.properties.expiresOn };
    } catch (error) {
      throw keyVaultError('write', name, error);
    }
  }

  async get(name: string, version?: string): Promise<StoredSecret | undefined> {
    try {
      const secret = await this.client.getSecret(name, version ? { version } : {});
      if (secret.value === undefined) return undefined;
      return {
        name,
        value: secret.value,
        version: secret.properties.version ?? '',
        expiresOn: secret.properties.expiresOn,
      };
    } catch (error) {
      if (restFacts(error).statusCode === 404) return undefined;
      throw keyVaultError('read', name, error);
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.client.beginDeleteSecret(name);
    } catch (error) {
      if (restFacts(error).statusCode === 404) return;
      throw keyVaultError('delete', name, error);
    }
  }
}
