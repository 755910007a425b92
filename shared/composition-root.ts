/**
 * The composition root: one client of each kind per process, created lazily from `getConfig()`. Other modules
 * build their adapters from these clients (in their own factories); nothing else constructs SDK clients.
 *
 * Credentials: Cosmos uses its key when `COSMOS_KEY` is set; otherwise (Azure) the managed identity through
 * `DefaultAzureCredential` (`AZURE_CLIENT_ID` selects a user-assigned identity). Locally, when
 * `AZURE_CLIENT_SECRET` is set, a `ClientSecretCredential` against `AZURE_AUTHORITY_HOST` (the M365 simulator)
 * stands in for the managed identity. Storage uses the `AzureWebJobsStorage` connection string, or the
 * identity-based `AzureWebJobsStorage__*` settings with the same kind of credential.
 */
import type { TokenCredential } from '@azure/core-auth';
import type * as Identity from '@azure/identity';
import type { CosmosClient, Database } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { createCosmosClient } from './adapters/cosmos/client';
import { createCosmosRepositories } from './adapters/cosmos';
import { createInvocationLogger, createJsonLogger, type InvocationLogMethods } from './adapters/logging';
import { getConfig, type Config } from './config';
import type { LogFields, Logger } from './domain/ports/logger';
import { systemClock } from './domain/ports/clock';
import type { Repositories } from './domain/ports/repositories';

interface Instances {
  credentials: Map<string, TokenCredential>;
  cosmos?: CosmosClient;
  queues?: QueueServiceClient;
  blobs?: BlobServiceClient;
  repositories?: Repositories;
  logger?: Logger;
}

let instances: Instances = { credentials: new Map() };

/**
 * The app's Azure credential. `clientId` picks a user-assigned managed identity (default: `AZURE_CLIENT_ID`).
 * With `AZURE_CLIENT_SECRET` set (local development) it is a client-secret credential instead.
 */
export function getCredential(clientId?: string): TokenCredential {
  const { identity } = getConfig();
  const id = clientId ?? identity.clientId;
  const key = identity.clientSecret ? `secret:${identity.clientId ?? ''}` : `mi:${id ?? ''}`;
  let credential = instances.credentials.get(key);
  if (!credential) {
    credential = createCredential(identity, id);
    instances.credentials.set(key, credential);
  }
  return credential;
}

function createCredential(identity: Config['identity'], managedIdentityClientId: string | undefined): TokenCredential {
  // Loaded on first use only: @azure/identity is large and most local paths use keys.
  const { ClientSecretCredential, DefaultAzureCredential } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy load
    require('@azure/identity') as typeof Identity;
  if (identity.clientSecret) {
    if (!identity.tenantId || !identity.clientId) {
      throw new Error('AZURE_CLIENT_SECRET is set: AZURE_TENANT_ID and AZURE_CLIENT_ID must be set too');
    }
    return new ClientSecretCredential(identity.tenantId, identity.clientId, identity.clientSecret, {
      ...(identity.authorityHost ? { authorityHost: identity.authorityHost } : {}),
      disableInstanceDiscovery: true,
    });
  }
  return new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {});
}

export function getCosmosClient(): CosmosClient {
  if (!instances.cosmos) {
    const { cosmos } = getConfig();
    instances.cosmos = createCosmosClient(
      cosmos.key
        ? { endpoint: cosmos.endpoint, key: cosmos.key }
        : { endpoint: cosmos.endpoint, credential: getCredential() },
    );
  }
  return instances.cosmos;
}

/** The app's database (`COSMOS_DATABASE`). */
export function getCosmosDatabase(): Database {
  return getCosmosClient().database(getConfig().cosmos.database);
}

/** Every Cosmos repository on the app's database (one set per process, shared by the API, identity and sync). */
export function getRepositories(): Repositories {
  instances.repositories ??= createCosmosRepositories(getCosmosDatabase(), { clock: systemClock });
  return instances.repositories;
}

export function getQueueServiceClient(): QueueServiceClient {
  if (!instances.queues) {
    const { storage } = getConfig();
    instances.queues =
      storage.kind === 'connectionString'
        ? QueueServiceClient.fromConnectionString(storage.connectionString)
        : new QueueServiceClient(storage.queueServiceUri, getCredential(storage.clientId));
  }
  return instances.queues;
}

export function getBlobServiceClient(): BlobServiceClient {
  if (!instances.blobs) {
    const { storage } = getConfig();
    instances.blobs =
      storage.kind === 'connectionString'
        ? BlobServiceClient.fromConnectionString(storage.connectionString)
        : new BlobServiceClient(storage.blobServiceUri, getCredential(storage.clientId));
  }
  return instances.blobs;
}

function configuredLogLevel(): Config['logLevel'] {
  try {
    return getConfig().logLevel;
  } catch {
    return 'info'; // Logging must work even when the configuration is invalid (to report it).
  }
}

/** The process logger: JSON lines on stdout. */
export function getLogger(): Logger {
  instances.logger ??= createJsonLogger({ level: configuredLogLevel() });
  return instances.logger;
}

/** A logger bound to one invocation (entries correlate with it in Application Insights). */
export function loggerFor(context: InvocationLogMethods, fields: LogFields = {}): Logger {
  return createInvocationLogger(context, { level: configuredLogLevel(), fields });
}

/** Tests only: dispose and forget every client so the next call builds new ones from the current config. */
export function resetCompositionRootForTests(): void {
  instances.cosmos?.dispose();
  instances = { credentials: new Map() };
}
