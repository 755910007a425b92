/**
 * The benchmark's sync worker: a process of its own (`fork`ed by `run.ts` with the app settings in its
 * environment), so its memory and CPU figures are the worker's alone. It builds the production dependencies of
 * `syncMailbox` from the configuration (see `worker-deps.ts`) and runs commands sent over IPC:
 *
 * - `sync` { emailAccount, reason, maxRuns, maxSeconds }: one sync of the account, following continuation
 *   messages on the sync queue until the account's sync completes (bounded in runs and time).
 * - `rawUpserts` { sampleAccount, targetAccount, count }: the store's raw upsert rate — `count` communications
 *   shaped like the synced ones (cycled from a sample of them) written with the same repository's `upsertMany`
 *   (same write concurrency), into another partition.
 * - `fanOut` { queueName }: `scheduleMailboxSync` over every enabled account, into that queue (timed).
 * - `exit`.
 *
 * Every command reports the phase's peak RSS / heap (sampled every 100 ms) and the worker's CPU time.
 */
import type { QueueClient } from '@azure/storage-queue';
import { getConfig } from '../../shared/config';
import { getQueueServiceClient } from '../../shared/composition-root';
import { StorageWorkQueue } from '../../shared/adapters/queue/storage-work-queue';
import type { CommunicationRecord } from '../../shared/domain/records';
import type { CommunicationUpsert } from '../../shared/domain/ports/repositories';
import {
  emptyCounters,
  parseMailboxSyncMessage,
  scheduleMailboxSync,
  syncMailbox,
  type FolderCounters,
  type MailboxSyncMessage,
  type SyncMailboxDeps,
  type SyncMailboxResult,
} from '../../shared/domain/sync';
import { serveIpc } from './ipc';
import { TimeBreakdown, type CategoryFigures } from './instrument';
import { PeakSampler, kernelPeakRssMb, type PeakFigures } from './peak-sampler';
import { buildWorkerDeps, type WorkerDeps } from './worker-deps';

export interface PhaseFigures {
  durationMs: number;
  peak: PeakFigures;
  /** Worker CPU time used in the phase (user + system). */
  cpuMs: number;
  /** Kernel high-water mark of the worker's RSS since it started. */
  lifetimePeakRssMb: number | undefined;
  /** Heap still in use after a full GC at the end of the phase (retained memory; leak check). */
  heapUsedAfterGcMb: number | undefined;
}

export interface SyncCommand {
  emailAccount: string;
  reason: 'scheduled' | 'manual';
  /** Continuation runs allowed (default 50). */
  maxRuns?: number;
  /** Wall-clock limit for the whole command (default 1,800 s). */
  maxSeconds?: number;
}

export interface FolderFigures {
  folderName: string;
  status: string;
  syncType: string;
  outcome: string;
  counters: FolderCounters;
  errorCode?: string;
  errorMessage?: string;
}

export interface SyncFigures extends PhaseFigures {
  runs: number;
  outcomes: string[];
  /** Final status of the last run (`Success`, ...), or its failure code. */
  status: string;
  /** Folders of the last run of each folder (by name). */
  folders: FolderFigures[];
  totals: FolderCounters;
  /** Highest number of Graph calls in flight for the mailbox, as the governor saw it. */
  governorPeakConcurrency: number;
  /** Busy wall time per kind of I/O call during the command (see instrument.ts). */
  timeBreakdown: Record<string, CategoryFigures>;
}

export interface RawUpsertCommand {
  sampleAccount: string;
  targetAccount: string;
  count: number;
  /** Communications read from the synced account to copy the size distribution from (default 1,000). */
  sampleSize?: number;
}

export interface RawUpsertFigures extends PhaseFigures {
  count: number;
  perSecond: number;
  writeConcurrency: number;
  sampleSize: number;
  /** Mean JSON size of the sampled (synced) communications and of the written ones. */
  meanSyncedDocBytes: number;
  meanWrittenDocBytes: number;
}

export interface FanOutFigures extends PhaseFigures {
  enqueued: number;
  skippedLeased: number;
  skippedThrottled: number;
  skippedPrincipalDisabled: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Worker {
  private readonly sampler = new PeakSampler(100);
  private readonly breakdown = new TimeBreakdown();
  /** The production dependencies with every I/O call timed (pass-through). */
  private readonly syncDeps: SyncMailboxDeps;

  constructor(private readonly deps: WorkerDeps) {
    this.syncDeps = this.breakdown.instrument(deps.sync);
  }

  private async phase<T>(work: () => Promise<T>): Promise<T & PhaseFigures> {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    this.sampler.start();
    let result: T;
    try {
      result = await work();
    } catch (error) {
      this.sampler.stop();
      throw error;
    }
    const durationMs = performance.now() - started;
    const peak = this.sampler.stop();
    const cpu = process.cpuUsage(cpuStart);
    // `--expose-gc` (run.ts starts the worker with it): a full GC shows what the phase left behind.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    return {
      ...result,
      durationMs,
      peak,
      cpuMs: (cpu.user + cpu.system) / 1000,
      lifetimePeakRssMb: kernelPeakRssMb(),
      heapUsedAfterGcMb: gc ? Math.round(process.memoryUsage().heapUsed / 1024 / 102.4) / 10 : undefined,
    };
  }

  sync(command: SyncCommand): Promise<SyncFigures> {
    return this.phase(() => this.followSync(command));
  }

  private async followSync(command: SyncCommand): Promise<Omit<SyncFigures, keyof PhaseFigures>> {
    const { settings, governorPeak, mailboxKeyOf } = this.deps;
    const sync = this.syncDeps;
    this.breakdown.reset();
    const maxRuns = command.maxRuns ?? 50;
    const deadline = Date.now() + (command.maxSeconds ?? 1800) * 1000;
    const queue = this.syncQueue();
    const outcomes: string[] = [];
    const byFolder = new Map<string, FolderFigures>();
    const totals = emptyCounters();
    let message: MailboxSyncMessage = {
      emailAccount: command.emailAccount,
      reason: command.reason,
      requestedAt: new Date().toISOString(),
    };
    let last: SyncMailboxResult | undefined;
    let runs = 0;
    while (runs < maxRuns) {
      runs++;
      last = await syncMailbox(sync, message, settings);
      outcomes.push(last.outcome === 'skipped' ? `skipped:${last.reason}` : last.outcome);
      if (last.outcome !== 'skipped') {
        for (const folder of last.folders) {
          const previous = byFolder.get(folder.folderName.toLowerCase());
          const counters = previous ? previous.counters : emptyCounters();
          for (const key of Object.keys(totals) as Array<keyof FolderCounters>) {
            counters[key] += folder.counters[key];
            totals[key] += folder.counters[key];
          }
          byFolder.set(folder.folderName.toLowerCase(), {
            folderName: folder.folderName,
            status: folder.status,
            syncType: folder.syncType,
            outcome: folder.outcome,
            counters,
            ...(folder.errorCode ? { errorCode: folder.errorCode } : {}),
            ...(folder.errorMessage ? { errorMessage: folder.errorMessage } : {}),
          });
        }
      }
      if (last.outcome !== 'continued' && last.outcome !== 'throttled') break;
      const next = await this.receiveContinuation(queue, command.emailAccount, deadline);
      if (!next) break;
      message = next;
    }
    let status: string;
    if (!last) status = 'not run';
    else if (last.outcome === 'completed') status = last.status;
    else if (last.outcome === 'failed') status = `Failed (${last.code}: ${last.message})`;
    else if (last.outcome === 'skipped') status = `skipped (${last.reason})`;
    else status = `unfinished (${last.outcome} after ${runs} runs)`;
    const account = await this.deps.sync.repositories.emailAccounts.get(command.emailAccount); // not timed
    return {
      runs,
      outcomes,
      status,
      folders: [...byFolder.values()],
      totals,
      governorPeakConcurrency: account ? governorPeak(mailboxKeyOf(account.servicePrincipal, account.emailAddress)) : 0,
      timeBreakdown: this.breakdown.snapshot(),
    };
  }

  private syncQueue(): QueueClient {
    return getQueueServiceClient().getQueueClient(getConfig().sync.queueName);
  }

  /** The next continuation for the account from the sync queue (deleted once read), waiting while it is delayed. */
  private async receiveContinuation(
    queue: QueueClient,
    emailAccount: string,
    deadline: number,
  ): Promise<MailboxSyncMessage | undefined> {
    while (Date.now() < deadline) {
      const received = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 60 });
      const item = received.receivedMessageItems[0];
      if (!item) {
        await sleep(250);
        continue;
      }
      await queue.deleteMessage(item.messageId, item.popReceipt);
      const parsed = parseMailboxSyncMessage(Buffer.from(item.messageText, 'base64').toString('utf8'));
      if (parsed.ok && parsed.message.emailAccount === emailAccount) return parsed.message;
    }
    return undefined;
  }

  rawUpserts(command: RawUpsertCommand): Promise<RawUpsertFigures> {
    return this.phase(async () => {
      const { communications } = this.deps.sync.repositories;
      const sampleSize = Math.max(1, command.sampleSize ?? 1000);
      const sample: CommunicationRecord[] = [];
      let continuationToken: string | null = null;
      for (let pages = 0; sample.length < sampleSize && pages < 100; pages++) {
        const page: Awaited<ReturnType<typeof communications.list>> = await communications.list(
          { limit: 200, continuationToken },
          { emailAccount: command.sampleAccount },
        );
        sample.push(...page.items);
        continuationToken = page.continuationToken;
        if (!continuationToken) break;
      }
      if (sample.length === 0) throw new Error(`No communications of ${command.sampleAccount} to sample`);
      const records: CommunicationUpsert[] = [];
      for (let i = 0; i < command.count; i++) {
        const source = sample[i % sample.length] as CommunicationRecord;
        const { docType: _docType, updatedAt: _updatedAt, createdAt: _createdAt, etag: _etag, ...rest } = source;
        records.push({
          ...rest,
          id: `bench-raw-${i}`,
          emailAccount: command.targetAccount,
          graphMessageId: `bench-raw-${i}`,
        });
      }
      const meanBytes = (docs: readonly object[]): number =>
        Math.round(docs.reduce((sum, d) => sum + Buffer.byteLength(JSON.stringify(d)), 0) / Math.max(1, docs.length));
      const meanSyncedDocBytes = meanBytes(sample);
      const meanWrittenDocBytes = meanBytes(records.slice(0, sample.length));
      const started = performance.now();
      const outcome = await communications.upsertMany(records);
      const seconds = (performance.now() - started) / 1000;
      const written = outcome.created + outcome.updated;
      return {
        count: written,
        perSecond: written / seconds,
        writeConcurrency: this.deps.communicationWriteConcurrency,
        sampleSize: sample.length,
        meanSyncedDocBytes,
        meanWrittenDocBytes,
      };
    });
  }

  fanOut(command: { queueName: string }): Promise<FanOutFigures> {
    return this.phase(async () => {
      const queue = new StorageWorkQueue<MailboxSyncMessage>(getQueueServiceClient().getQueueClient(command.queueName));
      const { repositories, clock, logger } = this.deps.sync;
      const result = await scheduleMailboxSync({
        emailAccounts: repositories.emailAccounts,
        servicePrincipals: repositories.servicePrincipals,
        queue,
        clock,
        logger,
      });
      return {
        enqueued: result.enqueued,
        skippedLeased: result.skippedLeased,
        skippedThrottled: result.skippedThrottled,
        skippedPrincipalDisabled: result.skippedPrincipalDisabled,
      };
    });
  }
}

async function main(): Promise<void> {
  const deps = await buildWorkerDeps();
  const worker = new Worker(deps);
  serveIpc(
    {
      sync: (payload) => worker.sync(payload as SyncCommand),
      rawUpserts: (payload) => worker.rawUpserts(payload as RawUpsertCommand),
      fanOut: (payload) => worker.fanOut(payload as { queueName: string }),
      exit: () => {
        // process.exit (not a signal) so that `--cpu-prof` writes its profile.
        setImmediate(() => process.exit(0));
        return Promise.resolve({});
      },
    },
    { pid: process.pid, wiring: deps.wiring, rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024) },
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
