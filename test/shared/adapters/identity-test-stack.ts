/**
 * The identity area's integration stack: the M365 simulator (Entra ID, Graph, Key Vault) in-process, a
 * database of its own on the Cosmos stand-in, and a "process" factory that builds fresh identity services
 * (new MSAL clients, new cipher, new Key Vault client) over the same Cosmos database and vault, so tests
 * can play several processes side by side.
 */
import { ClientSecretCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import type { CosmosClient, Database } from '@azure/cosmos';
import fs from 'node:fs';
import { createCosmosClient, createCosmosRepositories, ensureDatabase } from '../../../shared/adapters/cosmos';
import { createIdentityServices, type IdentityServices } from '../../../shared/adapters/identity/factory';
import { makeServicePrincipalUseCases, type ServicePrincipalUseCases } from '../../../shared/domain/identity';
import type { Repositories } from '../../../shared/domain/ports/repositories';
import { systemClock, type Clock } from '../../../shared/domain/ports/clock';
import type { SimCounters, StartedSimulator } from '../../../dev/m365-simulator/contract';
import { startSimulator } from '../../../dev/m365-simulator/server';
import { testStack, uniqueName } from '../../support/stack';
import { CapturingLogger } from '../domain/identity/fakes';

export const TOKEN_CACHE_KEY_NAME = 'token-cache-key';

export interface SimApp {
  tenantId: string;
  appId: string;
  secrets: Array<{ id: string; value: string; expiresAt: string }>;
}

export interface IdentityTestStack {
  sim: StartedSimulator;
  /** `127.0.0.1:PORT`: the simulator's host as listed in ALLOWED_DEV_HOSTS. */
  simHost: string;
  allowedDevHosts: string[];
  /** The Function App's own identity (an app in the "host" tenant): used for Key Vault and assertions. */
  hostTenantId: string;
  hostApp: SimApp;
  hostCredential: TokenCredential;
  cosmos: CosmosClient;
  database: Database;
  repositories: Repositories;
  logger: CapturingLogger;
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  counters(): Promise<SimCounters>;
  tokenRequests(appId: string): Promise<number>;
  /** A tenant with one app holding `roles` and one generated secret (unless `secrets: []`). */
  createTenant(
    name: string,
    app?: {
      roles?: string[];
      secrets?: Array<{ value?: string; expiresAt?: string }>;
      certificates?: Array<{ certificatePem: string }>;
      federatedIssuers?: Array<{ issuer: string; subject: string }>;
    },
  ): Promise<SimApp & { domain: string }>;
  createUser(tenantId: string, userPrincipalName: string): Promise<{ id: string; userPrincipalName: string }>;
  /** Fresh identity services (a new "process") over the shared database and vault. */
  newProcess(options?: {
    allowedDevHosts?: string[];
    clock?: Clock;
    federatedCredential?: (clientId: string | undefined) => TokenCredential;
  }): IdentityServices;
  useCases(services: IdentityServices): ServicePrincipalUseCases;
  /** Every raw document of the servicePrincipals container (what Cosmos really stores). */
  rawServicePrincipalDocuments(): Promise<unknown[]>;
  stop(): Promise<void>;
}

export async function startIdentityTestStack(): Promise<IdentityTestStack> {
  const stack = testStack();
  const sim = await startSimulator({
    tls: { cert: fs.readFileSync(stack.tlsCertPath), key: fs.readFileSync(stack.tlsKeyPath) },
  });
  const simHost = new URL(sim.url).host;
  const allowedDevHosts = [simHost];

  async function control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async function createTenant(
    name: string,
    app: Parameters<IdentityTestStack['createTenant']>[1] = {},
  ): Promise<SimApp & { domain: string }> {
    const domain = `${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}.example.com`;
    const tenant = await control<{ id: string }>('POST', '/_sim/tenants', { displayName: name, domain });
    const created = await control<SimApp>('POST', `/_sim/tenants/${tenant.id}/apps`, {
      displayName: `${name} mail sync`,
      roles: app.roles ?? ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read'],
      secrets: app.secrets ?? [{}],
      ...(app.certificates ? { certificates: app.certificates } : {}),
      ...(app.federatedIssuers ? { federatedIssuers: app.federatedIssuers } : {}),
    });
    return { ...created, domain };
  }

  // The Function App's own identity lives in the first tenant, which is also the vault's tenant.
  const host = await createTenant('Host', { roles: [] });
  await control('PUT', '/_sim/keyvault', { tenantId: host.tenantId });
  const hostCredential = new ClientSecretCredential(host.tenantId, host.appId, host.secrets[0]!.value, {
    authorityHost: sim.url,
    disableInstanceDiscovery: true,
  });

  const cosmos = createCosmosClient({ endpoint: stack.cosmosEndpoint, key: stack.cosmosKey });
  const database = await ensureDatabase(cosmos, uniqueName('identity'));
  const repositories = createCosmosRepositories(database, { clock: systemClock });
  const logger = new CapturingLogger();

  const newProcess: IdentityTestStack['newProcess'] = (options = {}) =>
    createIdentityServices({
      keyVaultUrl: sim.url,
      allowedDevHosts: options.allowedDevHosts ?? allowedDevHosts,
      tokenCacheKeySecretName: TOKEN_CACHE_KEY_NAME,
      credential: hostCredential,
      federatedCredential: options.federatedCredential ?? (() => hostCredential),
      // Each "process" gets its own repositories (same database), as a separate instance would.
      servicePrincipals: createCosmosRepositories(database, { clock: options.clock ?? systemClock }).servicePrincipals,
      emailAccounts: repositories.emailAccounts,
      ...(options.clock ? { clock: options.clock } : {}),
      logger,
    });

  const counters = (): Promise<SimCounters> => control<SimCounters>('GET', '/_sim/counters');

  return {
    sim,
    simHost,
    allowedDevHosts,
    hostTenantId: host.tenantId,
    hostApp: host,
    hostCredential,
    cosmos,
    database,
    repositories,
    logger,
    control,
    counters,
    tokenRequests: async (appId) => (await counters()).tokenRequestsByApp[appId.toLowerCase()] ?? 0,
    createTenant,
    createUser: (tenantId, userPrincipalName) =>
      control('POST', `/_sim/tenants/${tenantId}/users`, { userPrincipalName, displayName: userPrincipalName }),
    newProcess,
    useCases: (services) =>
      makeServicePrincipalUseCases({
        servicePrincipals: services.servicePrincipals,
        emailAccounts: services.emailAccounts,
        secrets: services.secrets,
        clock: services.clock,
        logger,
        allowedDevHosts: services.allowedDevHosts,
      }),
    rawServicePrincipalDocuments: async () =>
      (await database.container('servicePrincipals').items.query('SELECT * FROM c').fetchAll()).resources as unknown[],
    stop: async () => {
      await database.delete().catch(() => undefined);
      cosmos.dispose();
      await sim.stop();
    },
  };
}

/** The claims of a JWT (read only). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
