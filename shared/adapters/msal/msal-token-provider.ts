/**
 * TokenProvider on MSAL Node: one `ConfidentialClientApplication` per service principal per process
 * (rebuilt when the principal's app, tenant, authority or credential changes), client credentials for the
 * principal's `{graph}/.default` scope, MSAL's cache persisted encrypted into the principal's record.
 *
 * Principals never share a client or a cache. Per principal, token requests are serialised (concurrent
 * callers share one acquisition), and a valid token is memoised so the hot path does no I/O at all.
 *
 * Before any credential is sent, the principal's endpoints are re-checked against Microsoft's hosts and
 * ALLOWED_DEV_HOSTS. The client secret and certificate key are read from the SecretStore into memory only.
 */
import type { TokenCredential } from '@azure/core-auth';
import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';
import { isAppError } from '../../errors';
import { privateKeyPemOf } from '../../domain/identity/certificate';
import { assertEndpointsSafe, isAllowedDevHost } from '../../domain/identity/endpoints';
import type { AccessToken, GetTokenOptions, TokenProvider } from '../../domain/identity/ports';
import type { TokenCacheCipher } from '../../domain/identity/token-cache-cipher';
import { TokenRequestError, toTokenRequestError } from '../../domain/identity/token-errors';
import type { Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import type { ServicePrincipalRepository } from '../../domain/ports/repositories';
import type { SecretStore } from '../../domain/ports/secret-store';
import type { ServicePrincipalRecord } from '../../domain/records';
import { EncryptedRecordCachePlugin, credentialIdentity } from './encrypted-cache-plugin';

export interface MsalTokenProviderOptions {
  repository: ServicePrincipalRepository;
  secrets: SecretStore;
  cipher: TokenCacheCipher;
  clock: Clock;
  logger: Logger;
  /** ALLOWED_DEV_HOSTS (lowercase host:port). */
  allowedDevHosts: readonly string[];
  /**
   * The credential whose token is a federated principal's client assertion: a user-assigned managed
   * identity (`managedIdentityClientId`), or the app's own identity when absent.
   */
  federatedCredential: (managedIdentityClientId: string | undefined) => TokenCredential;
  /** A memoised token is handed out only while it has more than this left (default 300 s, like MSAL). */
  refreshMarginSeconds?: number;
}

interface PrincipalClient {
  identity: string;
  app: ConfidentialClientApplication;
  plugin: EncryptedRecordCachePlugin;
  memo?: { accessToken: string; expiresOn: Date };
  /** Tail of this principal's queue of token requests. */
  queue: Promise<unknown>;
}

const configurationFailure = (code: string, message: string, remedy: string) =>
  ({ code, kind: 'configuration', definitive: false, retryable: false, message, remedy }) as const;

export class MsalTokenProvider implements TokenProvider {
  private readonly clients = new Map<string, Promise<PrincipalClient>>();
  private readonly marginMs: number;

  constructor(private readonly options: MsalTokenProviderOptions) {
    this.marginMs = (options.refreshMarginSeconds ?? 300) * 1000;
  }

  /** How many MSAL clients this process holds (one per principal). */
  get clientCount(): number {
    return this.clients.size;
  }

  async getToken(principal: ServicePrincipalRecord, options: GetTokenOptions = {}): Promise<AccessToken> {
    const name = principal.servicePrincipalName;
    try {
      assertEndpointsSafe(principal, this.options.allowedDevHosts);
    } catch {
      throw new TokenRequestError(
        configurationFailure(
          'ENDPOINT_NOT_ALLOWED',
          'The authority or Graph endpoint is not a Microsoft host of its cloud (nor an allowed dev host); no credential was sent.',
          'Edit the service principal: use the cloud defaults or a Microsoft Entra ID / Graph URL of its cloud.',
        ),
        name,
      );
    }
    const client = await this.clientFor(principal);
    const fresh = (): AccessToken | undefined => {
      const memo = client.memo;
      if (options.forceRefresh || !memo) return undefined;
      if (memo.expiresOn.getTime() - this.options.clock.now().getTime() <= this.marginMs) return undefined;
      return { accessToken: memo.accessToken, expiresOn: memo.expiresOn, fromCache: true };
    };
    const memoised = fresh();
    if (memoised) return memoised;

    const run = client.queue.then(async () => {
      const again = fresh(); // another caller may have just refreshed it
      if (again) return again;
      client.plugin.beginRequest();
      try {
        const result = await client.app.acquireTokenByClientCredential({
          scopes: [principal.scopes],
          ...(options.forceRefresh ? { skipCache: true } : {}),
        });
        if (!result?.accessToken) throw new Error('MSAL returned no token');
        const expiresOn = result.expiresOn ?? new Date(this.options.clock.now().getTime() + 3600_000);
        client.memo = { accessToken: result.accessToken, expiresOn };
        return { accessToken: result.accessToken, expiresOn, fromCache: result.fromCache };
      } catch (error) {
        throw toTokenRequestError(error, name);
      }
    });
    client.queue = run.catch(() => undefined);
    return run;
  }

  /** Drops the principal's client (tests, or after deleting the principal). */
  forget(principalId: string): void {
    this.clients.delete(principalId);
  }

  private async clientFor(principal: ServicePrincipalRecord): Promise<PrincipalClient> {
    const identity = credentialIdentity(principal);
    const existing = this.clients.get(principal.id);
    if (existing) {
      const client = await existing.catch(() => undefined);
      if (client?.identity === identity) return client;
      if (this.clients.get(principal.id) === existing) this.clients.delete(principal.id);
    }
    // Credential version or settings changed (or first use): one new client, shared by concurrent callers.
    let pending = this.clients.get(principal.id);
    if (!pending) {
      pending = this.buildClient(principal, identity);
      this.clients.set(principal.id, pending);
      pending.catch(() => {
        if (this.clients.get(principal.id) === pending) this.clients.delete(principal.id);
      });
    }
    return pending;
  }

  private async buildClient(principal: ServicePrincipalRecord, identity: string): Promise<PrincipalClient> {
    const name = principal.servicePrincipalName;
    const authority = new URL(principal.authorityUrl);
    const plugin = new EncryptedRecordCachePlugin(principal, identity, {
      repository: this.options.repository,
      cipher: this.options.cipher,
      clock: this.options.clock,
      logger: this.options.logger.child({ servicePrincipal: name }),
    });
    const log = this.options.logger.child({ servicePrincipal: name, component: 'msal' });
    const config: Configuration = {
      auth: {
        clientId: principal.clientId,
        authority: principal.authorityUrl,
        // A dev authority (the simulator) must never trigger instance discovery against Microsoft's hosts.
        ...(isAllowedDevHost(authority, this.options.allowedDevHosts)
          ? { knownAuthorities: [authority.host], authorityMetadata: devAuthorityMetadata(principal.authorityUrl) }
          : {}),
        ...(await this.credentialOptions(principal)),
      },
      cache: { cachePlugin: plugin },
      system: {
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message, containsPii) => {
            if (!containsPii && level <= LogLevel.Warning) log.debug('msal', { level, message });
          },
        },
      },
    };
    return { identity, app: new ConfidentialClientApplication(config), plugin, queue: Promise.resolve() };
  }

  private async credentialOptions(principal: ServicePrincipalRecord): Promise<Partial<Configuration['auth']>> {
    const c = principal.credential;
    const name = principal.servicePrincipalName;
    if (c.kind === 'federated') {
      const credential = this.options.federatedCredential(c.managedIdentityClientId);
      const scope = `${c.audience.replace(/\/$/, '')}/.default`;
      return {
        clientAssertion: async () => {
          const token = await credential.getToken(scope);
          if (!token) throw new Error('The managed identity returned no token for the federated assertion');
          return token.token;
        },
      };
    }
    let stored;
    try {
      stored = await this.options.secrets.get(c.secretRef.name, c.secretRef.version);
    } catch (error) {
      throw toTokenRequestError(error, name);
    }
    if (!stored) {
      throw new TokenRequestError(
        configurationFailure(
          'SECRET_NOT_FOUND',
          `The ${c.kind === 'certificate' ? 'certificate' : 'client secret'} is missing from Key Vault.`,
          'Enter the credential again on this service principal (it is stored in Key Vault).',
        ),
        name,
      );
    }
    if (c.kind === 'clientSecret') return { clientSecret: stored.value };
    const privateKey = privateKeyPemOf(stored.value);
    if (!privateKey) {
      throw new TokenRequestError(
        configurationFailure(
          'CERTIFICATE_UNREADABLE',
          'The stored certificate has no usable private key.',
          'Upload the certificate PEM again.',
        ),
        name,
      );
    }
    return { clientCertificate: { thumbprintSha256: c.thumbprintSha256, privateKey } };
  }
}

/**
 * Entra-shaped endpoint metadata for a dev authority (the simulator), so MSAL makes no discovery request
 * there either: for Microsoft's hosts MSAL uses its built-in metadata, and a token request is the only call.
 */
function devAuthorityMetadata(authorityUrl: string): string {
  const base = authorityUrl.replace(/\/$/, '');
  return JSON.stringify({
    token_endpoint: `${base}/oauth2/v2.0/token`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    jwks_uri: `${base}/discovery/v2.0/keys`,
    issuer: `${base}/v2.0`,
  });
}

/** True when `error` came from a token request (for callers that branch without importing the class). */
export const isTokenRequestError = (error: unknown): error is TokenRequestError =>
  error instanceof TokenRequestError || (isAppError(error) && typeof error.details?.['tokenErrorCode'] === 'string');
