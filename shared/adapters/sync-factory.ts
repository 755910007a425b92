/**
 * Builds the sync engine's adapters once per process from the composition root's clients:
 *
 * - one `ThrottleGovernor` per process (the single retry layer for Graph; ≤ 4 calls in flight per mailbox),
 * - `mailSourceFor(principal)`: a `GraphMailSource` on the principal's Graph endpoint, its tokens from the
 *   identity services' MSAL provider (a Graph 401 makes the governor call `invalidateToken`, so the next request
 *   asks Entra ID again with `forceRefresh`, once); token refusals (`CREDENTIAL_REJECTED`) surface as
 *   non-retryable `MailSourceError`s carrying the token error code, so the account ends Failed with it,
 * - the Blob store (attachments and large bodies), the `mailbox-sync` WorkQueue, the Cosmos repositories (the
 *   composition root's single set) and the Cosmos `ThreadReferenceLookup`,
 * - settings from `getConfig().sync` / `.blobs`.
 *
 *   const services = syncServices();
 *   await syncMailbox(services.syncDeps(logger), message, services.settings);
 *
 * Tests replace everything with `setSyncServicesForTests(createSyncServices({...}))`.
 */
import { getBlobServiceClient, getCosmosDatabase, getLogger, getRepositories } from '../composition-root';
import { getConfig } from '../config';
import type { TokenProvider } from '../domain/identity/ports';
import type { BlobStore } from '../domain/ports/blob-store';
import { systemClock, type Clock } from '../domain/ports/clock';
import type { Logger } from '../domain/ports/logger';
import { MailSourceError, type MailFolderInfo, type MailSource } from '../domain/ports/mail-source';
import type { Repositories } from '../domain/ports/repositories';
import type { WorkQueue } from '../domain/ports/work-queue';
import type { ServicePrincipalRecord } from '../domain/records';
import {
  ThrottleGovernor,
  type MailboxSyncMessage,
  type SyncMailboxDeps,
  type SyncSettings,
  type ThreadReferenceLookup,
} from '../domain/sync';
import { syncQueue } from '../api/dependencies';
import { isAppError } from '../errors';
import { AzureBlobStore } from './blob';
import { CosmosThreadReferenceLookup } from './cosmos/thread-reference-lookup';
import { createGraphMailSource } from './graph';
import { identityServices } from './identity/factory';

/** What the sync worker and the mailbox-reading API routes get from a principal's mail source. */
export interface SyncMailSource extends MailSource {
  /** Every folder of the mailbox with its path and counts (`GET /api/email-accounts/{name}/folders`). */
  listFolders(mailbox: string): Promise<MailFolderInfo[]>;
}

export interface SyncServices {
  repositories: Repositories;
  queue: WorkQueue<MailboxSyncMessage>;
  blobs: BlobStore;
  governor: ThrottleGovernor;
  clock: Clock;
  threadLookup: ThreadReferenceLookup;
  settings: SyncSettings;
  mailSourceFor(principal: ServicePrincipalRecord, logger?: Logger): SyncMailSource | Promise<SyncMailSource>;
  /** The dependencies of `syncMailbox`, logging to `logger`. */
  syncDeps(logger: Logger): SyncMailboxDeps;
}

export interface SyncServiceInputs {
  repositories: Repositories;
  queue: WorkQueue<MailboxSyncMessage>;
  blobs: BlobStore;
  threadLookup?: ThreadReferenceLookup;
  settings: SyncSettings;
  /** Builds the mail source of a principal (default: Graph with tokens from `tokens`). */
  mailSourceFor?: SyncServices['mailSourceFor'];
  /** The identity area's token provider (used by the default `mailSourceFor`). */
  tokens?: TokenProvider;
  /** ALLOWED_DEV_HOSTS (used by the default `mailSourceFor`). */
  allowedDevHosts?: readonly string[];
  clock?: Clock;
  /** The governor's own log lines (throttling waits). */
  logger?: Logger;
}

/** The sync settings from the configuration. */
export function syncSettingsFromConfig(): SyncSettings {
  const { sync, blobs } = getConfig();
  return {
    pageSize: sync.pageSize,
    timeBudgetSeconds: sync.timeBudgetSeconds,
    leaseSeconds: sync.leaseSeconds,
    attachmentsContainer: blobs.attachmentsContainer,
    maxConcurrencyPerMailbox: sync.maxConcurrencyPerMailbox,
  };
}

export function createSyncServices(inputs: SyncServiceInputs): SyncServices {
  const clock = inputs.clock ?? systemClock;
  const governor = new ThrottleGovernor({
    clock,
    maxConcurrency: inputs.settings.maxConcurrencyPerMailbox ?? 4,
    ...(inputs.logger ? { logger: inputs.logger } : {}),
  });
  const mailSourceFor: SyncServices['mailSourceFor'] =
    inputs.mailSourceFor ??
    ((principal, logger) => {
      if (!inputs.tokens) throw new Error('createSyncServices: give `tokens` or `mailSourceFor`');
      return createGraphMailSource({
        principal,
        tokens: withRemedies(inputs.tokens),
        allowedDevHosts: inputs.allowedDevHosts ?? [],
        clock,
        ...(logger ? { logger } : {}),
      });
    });
  const services: SyncServices = {
    repositories: inputs.repositories,
    queue: inputs.queue,
    blobs: inputs.blobs,
    governor,
    clock,
    threadLookup: inputs.threadLookup ?? new NoThreadLookup(),
    settings: inputs.settings,
    mailSourceFor,
    syncDeps: (logger) => ({
      repositories: services.repositories,
      mailSourceFor: (principal) => services.mailSourceFor(principal, logger),
      blobs: services.blobs,
      queue: services.queue,
      governor: services.governor,
      clock: services.clock,
      logger,
      threadLookup: services.threadLookup,
    }),
  };
  return services;
}

/**
 * Token refusals carry the identity area's code and remedy (`details.tokenErrorCode`, `details.remedy`). The
 * account records `syncErrorCode` = that code and a message that includes the remedy: a `MailSourceError` 401
 * is what the sync engine classifies as a credential failure (never retried; the account goes Failed).
 * Outages (DEPENDENCY_UNAVAILABLE / RATE_LIMITED) pass through unchanged and stay retryable.
 */
export function withRemedies(tokens: TokenProvider): TokenProvider {
  return {
    async getToken(principal, options) {
      try {
        return await tokens.getToken(principal, options);
      } catch (error) {
        if (!isAppError(error, 'CREDENTIAL_REJECTED')) throw error;
        const details = error.details ?? {};
        const code = typeof details['tokenErrorCode'] === 'string' ? details['tokenErrorCode'] : 'invalid_client';
        const remedy = typeof details['remedy'] === 'string' ? ` ${details['remedy']}` : '';
        throw new MailSourceError(401, code, `${error.message}${remedy}`.slice(0, 1500), { cause: error });
      }
    },
  };
}

/** Without a store to ask, thread inheritance still works within one run (the engine's own cache). */
class NoThreadLookup implements ThreadReferenceLookup {
  findReferences(): ReturnType<ThreadReferenceLookup['findReferences']> {
    return Promise.resolve({ byConversationId: new Map(), byMessageId: new Map() });
  }
}

let built: SyncServices | undefined;
let override: SyncServices | undefined;

/** The process's sync services, built lazily from the configuration and the composition root. */
export function syncServices(): SyncServices {
  if (override) return override;
  if (!built) {
    const config = getConfig();
    const identity = identityServices();
    built = createSyncServices({
      repositories: getRepositories(),
      queue: syncQueue(),
      blobs: new AzureBlobStore(getBlobServiceClient()),
      threadLookup: new CosmosThreadReferenceLookup(getCosmosDatabase().container('communications')),
      settings: syncSettingsFromConfig(),
      tokens: identity.tokens,
      allowedDevHosts: config.allowedDevHosts,
      clock: systemClock,
      logger: getLogger(),
    });
  }
  return built;
}

/** Tests only: use these services (`undefined` goes back to the composition root's). */
export function setSyncServicesForTests(services: SyncServices | undefined): void {
  override = services;
  built = undefined;
}
