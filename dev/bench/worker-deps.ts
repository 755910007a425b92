/**
 * The sync worker's dependencies, built exactly as production builds them: `syncServices()` of
 * `shared/adapters/sync-factory.ts` (from the app settings in this process's environment) — the composition
 * root's Cosmos repositories, the Graph `MailSource` with MSAL tokens from the identity area, the Azure Blob
 * adapter, the Storage queue, the Cosmos thread lookup and one process-wide throttle governor.
 */
import { getConfig } from '../../shared/config';
import { createJsonLogger } from '../../shared/adapters/logging';
import { syncServices } from '../../shared/adapters/sync-factory';
import type { SyncMailboxDeps, SyncSettings } from '../../shared/domain/sync';
import { idForName } from '../../shared/domain/records';
import { DEFAULT_WRITE_CONCURRENCY } from '../../shared/adapters/cosmos/communication-repository';

export interface WorkerDeps {
  sync: SyncMailboxDeps;
  settings: SyncSettings;
  /** The governor's peak in-flight calls for a mailbox key. */
  governorPeak: (mailboxKey: string) => number;
  /** The governor key the sync engine uses for an account (`${principalId}/${mailbox}`). */
  mailboxKeyOf: (servicePrincipalName: string, emailAddress: string) => string;
  communicationWriteConcurrency: number;
  /** What was wired (printed by the benchmark). */
  wiring: Record<string, string>;
}

export function buildWorkerDeps(): Promise<WorkerDeps> {
  const config = getConfig();
  // Log lines go to stderr: the orchestrator relays them, and stdout stays free.
  const logger = createJsonLogger({ level: config.logLevel, write: (line) => void process.stderr.write(`${line}\n`) });
  const services = syncServices();
  const settings = services.settings;
  return Promise.resolve({
    sync: services.syncDeps(logger),
    settings,
    governorPeak: (key) => services.governor.peakConcurrency(key),
    mailboxKeyOf: (servicePrincipalName, emailAddress) =>
      `${idForName(servicePrincipalName)}/${emailAddress.toLowerCase()}`,
    communicationWriteConcurrency: DEFAULT_WRITE_CONCURRENCY,
    wiring: {
      deps: 'shared/adapters/sync-factory syncServices().syncDeps() (Graph MailSource, Azure Blob, Cosmos, Storage queue)',
      settings:
        `page size ${settings.pageSize}, time budget ${settings.timeBudgetSeconds} s, ` +
        `≤ ${settings.maxConcurrencyPerMailbox ?? 4} Graph calls per mailbox`,
    },
  });
}
