/**
 * What the API use cases need, built once per process from the composition root's clients (Cosmos
 * repositories on the app's database, the system clock). Tests replace them with
 * `setApiDependenciesForTests({ repositories: createInMemoryRepositories(), clock })`.
 */
import { StorageWorkQueue } from '../adapters/queue/storage-work-queue';
import { getQueueServiceClient, getRepositories } from '../composition-root';
import { getConfig } from '../config';
import { systemClock, type Clock } from '../domain/ports/clock';
import type { Repositories } from '../domain/ports/repositories';
import type { WorkQueue } from '../domain/ports/work-queue';
import type { MailboxSyncMessage } from '../domain/sync/schedule';

export interface ApiDependencies {
  repositories: Repositories;
  clock: Clock;
}

let built: ApiDependencies | undefined;
let override: ApiDependencies | undefined;

export function apiDependencies(): ApiDependencies {
  if (override) return override;
  built ??= {
    repositories: getRepositories(),
    clock: systemClock,
  };
  return built;
}

/** Tests only: use these dependencies (`undefined` goes back to the composition root's). */
export function setApiDependenciesForTests(dependencies: ApiDependencies | undefined): void {
  override = dependencies;
  built = undefined;
}

let builtSyncQueue: WorkQueue<MailboxSyncMessage> | undefined;
let syncQueueOverride: WorkQueue<MailboxSyncMessage> | undefined;

/** The `mailbox-sync` queue (`SYNC_QUEUE_NAME`) on the app's storage account, for "sync now" requests. */
export function syncQueue(): WorkQueue<MailboxSyncMessage> {
  if (syncQueueOverride) return syncQueueOverride;
  builtSyncQueue ??= new StorageWorkQueue<MailboxSyncMessage>(
    getQueueServiceClient().getQueueClient(getConfig().sync.queueName),
  );
  return builtSyncQueue;
}

/** Tests only: send sync requests to this queue (`undefined` goes back to the composition root's). */
export function setSyncQueueForTests(queue: WorkQueue<MailboxSyncMessage> | undefined): void {
  syncQueueOverride = queue;
  builtSyncQueue = undefined;
}
