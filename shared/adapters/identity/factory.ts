/**
 * Builds the identity area's adapters (Key Vault secret store, token-cache cipher, MSAL token provider,
 * Graph probe) from the composition root's clients and credential, once per process, and hands out the
 * dependency bundles of the identity use cases.
 *
 *   const useCases = servicePrincipalUseCases(logger);          // API: create/update/delete/get/list
 *   await testServicePrincipalConnection(testConnectionDeps(logger), name, body);
 *   await refreshAllTokens(identityJobDeps(logger));             // timers
 *   const { token } = await graphAccessForAccount(identityJobDeps(logger), account);   // sync worker
 *
 * Tests replace everything with `setIdentityServicesForTests(createIdentityServices({...}))`.
 */
import type { TokenCredential } from '@azure/core-auth';
import { getCredential, getLogger, getRepositories } from '../../composition-root';
import { getConfig } from '../../config';
import { makeServicePrincipalUseCases, type ServicePrincipalUseCases } from '../../domain/identity/service-principals';
import type { IdentityJobDeps } from '../../domain/identity/jobs';
import type { GraphProbe } from '../../domain/identity/ports';
import type { TestConnectionDeps } from '../../domain/identity/test-connection';
import { TokenCacheCipher } from '../../domain/identity/token-cache-cipher';
import { systemClock, type Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import type { EmailAccountRepository, ServicePrincipalRepository } from '../../domain/ports/repositories';
import type { SecretStore } from '../../domain/ports/secret-store';
import { KeyVaultSecretStore } from '../keyvault/key-vault-secret-store';
import { MsalTokenProvider } from '../msal/msal-token-provider';
import { FetchGraphProbe } from './fetch-graph-probe';

export interface IdentityServiceInputs {
  keyVaultUrl: string;
  /** ALLOWED_DEV_HOSTS (lowercase host:port). */
  allowedDevHosts: readonly string[];
  tokenCacheKeySecretName: string;
  /** The app's own credential (managed identity in Azure): used for Key Vault. */
  credential: TokenCredential;
  /** Credential for a federated principal's assertion, by user-assigned managed identity client id. */
  federatedCredential: (managedIdentityClientId: string | undefined) => TokenCredential;
  servicePrincipals: ServicePrincipalRepository;
  emailAccounts: EmailAccountRepository;
  clock?: Clock;
  /** The process logger (MSAL and cache messages); use cases get the caller's logger. */
  logger: Logger;
}

export interface IdentityServices {
  servicePrincipals: ServicePrincipalRepository;
  emailAccounts: EmailAccountRepository;
  secrets: SecretStore;
  cipher: TokenCacheCipher;
  tokens: MsalTokenProvider;
  graphProbe: GraphProbe;
  clock: Clock;
  allowedDevHosts: readonly string[];
}

export function createIdentityServices(inputs: IdentityServiceInputs): IdentityServices {
  const clock = inputs.clock ?? systemClock;
  const secrets = new KeyVaultSecretStore({
    vaultUrl: inputs.keyVaultUrl,
    credential: inputs.credential,
    allowedDevHosts: inputs.allowedDevHosts,
  });
  const cipher = new TokenCacheCipher(secrets, inputs.tokenCacheKeySecretName, clock);
  const tokens = new MsalTokenProvider({
    repository: inputs.servicePrincipals,
    secrets,
    cipher,
    clock,
    logger: inputs.logger,
    allowedDevHosts: inputs.allowedDevHosts,
    federatedCredential: inputs.federatedCredential,
  });
  return {
    servicePrincipals: inputs.servicePrincipals,
    emailAccounts: inputs.emailAccounts,
    secrets,
    cipher,
    tokens,
    graphProbe: new FetchGraphProbe({ allowedDevHosts: inputs.allowedDevHosts }),
    clock,
    allowedDevHosts: inputs.allowedDevHosts,
  };
}

let built: IdentityServices | undefined;
let override: IdentityServices | undefined;

/** The process's identity services, built lazily from the configuration and the composition root. */
export function identityServices(): IdentityServices {
  if (override) return override;
  if (!built) {
    const config = getConfig();
    const repositories = getRepositories();
    built = createIdentityServices({
      keyVaultUrl: config.keyVault.url,
      allowedDevHosts: config.allowedDevHosts,
      tokenCacheKeySecretName: config.tokenCacheKeySecretName,
      credential: getCredential(),
      federatedCredential: (clientId) => getCredential(clientId),
      servicePrincipals: repositories.servicePrincipals,
      emailAccounts: repositories.emailAccounts,
      logger: getLogger(),
    });
  }
  return built;
}

/** Tests only: use these services (`undefined` goes back to the composition root's). */
export function setIdentityServicesForTests(services: IdentityServices | undefined): void {
  override = services;
  built = undefined;
}

/** create / update / delete / get / list service principals, logging to `logger`. */
export function servicePrincipalUseCases(logger: Logger): ServicePrincipalUseCases {
  const s = identityServices();
  return makeServicePrincipalUseCases({
    servicePrincipals: s.servicePrincipals,
    emailAccounts: s.emailAccounts,
    secrets: s.secrets,
    clock: s.clock,
    logger,
    allowedDevHosts: s.allowedDevHosts,
  });
}

/** For `refreshAllTokens`, `validateServicePrincipals`, `listCredentialWarnings`, `graphAccessForAccount`. */
export function identityJobDeps(logger: Logger): IdentityJobDeps {
  const s = identityServices();
  return { servicePrincipals: s.servicePrincipals, tokens: s.tokens, clock: s.clock, logger };
}

/** For `testServicePrincipalConnection`. */
export function testConnectionDeps(logger: Logger): TestConnectionDeps {
  const s = identityServices();
  return {
    servicePrincipals: s.servicePrincipals,
    emailAccounts: s.emailAccounts,
    tokens: s.tokens,
    graphProbe: s.graphProbe,
    clock: s.clock,
    logger,
  };
}
