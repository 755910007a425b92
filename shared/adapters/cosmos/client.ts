/**
 * The Cosmos DB client factory. One client per process (the composition root keeps it): the SDK pools
 * connections and caches partition metadata per client.
 */
import { CosmosClient, type CosmosClientOptions } from '@azure/cosmos';
import type { TokenCredential } from '@azure/core-auth';

/** An account key (local stand-in, key-based deployments) or a credential (managed identity in Azure). */
export type CosmosConnection = { endpoint: string; key: string } | { endpoint: string; credential: TokenCredential };

export interface CosmosClientSettings {
  /** Appended to the SDK's user agent (shows in Cosmos diagnostics). */
  userAgentSuffix?: string;
  /** Per-request timeout; the SDK's default is 60 s. */
  requestTimeoutMs?: number;
  /** How long the SDK keeps retrying throttled (429) requests before we report DEPENDENCY_UNAVAILABLE. */
  maxThrottleWaitSeconds?: number;
}

export function createCosmosClient(connection: CosmosConnection, settings: CosmosClientSettings = {}): CosmosClient {
  const options: CosmosClientOptions = {
    endpoint: connection.endpoint,
    userAgentSuffix: settings.userAgentSuffix ?? 'm365-mail-sync',
    connectionPolicy: {
      ...(settings.requestTimeoutMs === undefined ? {} : { requestTimeout: settings.requestTimeoutMs }),
      retryOptions: {
        maxRetryAttemptCount: 9,
        maxWaitTimeInSeconds: settings.maxThrottleWaitSeconds ?? 30,
      },
    },
  };
  if ('key' in connection) options.key = connection.key;
  else options.aadCredentials = connection.credential;
  return new CosmosClient(options);
}
