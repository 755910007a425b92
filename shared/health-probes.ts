/**
 * The SDK side of the health check: one cheap, read-only call per dependency, with the permissions the app
 * has in Azure (Cosmos data-plane metadata read of the database; Storage: the sync queue's properties).
 */
import type { Database } from '@azure/cosmos';
import type { QueueClient } from '@azure/storage-queue';
import { getCosmosDatabase, getQueueServiceClient } from './composition-root';
import { getConfig } from './config';
import type { DependencyName, HealthProbe } from './use-cases/health';

/** Reads the app's database (checks reachability, credentials and that the database exists). */
export const cosmosProbe =
  (database: () => Database): HealthProbe =>
  async (signal) => {
    await database().read({ abortSignal: signal });
  };

/** Reads the sync queue's properties (checks reachability, credentials and that the queue exists). */
export const storageProbe =
  (queue: () => QueueClient): HealthProbe =>
  async (signal) => {
    await queue().getProperties({ abortSignal: signal });
  };

/** Probes built from the process's clients (configuration errors surface as probe failures). */
export function defaultHealthProbes(): Record<DependencyName, HealthProbe> {
  return {
    cosmos: cosmosProbe(() => getCosmosDatabase()),
    storage: storageProbe(() => getQueueServiceClient().getQueueClient(getConfig().sync.queueName)),
  };
}
