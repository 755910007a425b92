/**
 * Wires the sync engine to in-memory repositories and the fakes: one tenant, one principal, one account.
 */
import { createInMemoryRepositories, type InMemoryRepositories } from '../../../support/in-memory-repositories';
import type { CommunicationRecord, EmailAccountRecord } from '../../../../shared/domain/records';
import { silentLogger } from '../../../../shared/domain/ports/logger';
import type { NewEmailAccount } from '../../../../shared/domain/ports/repositories';
import {
  ThrottleGovernor,
  syncMailbox,
  type MailboxSyncMessage,
  type SyncMailboxDeps,
  type SyncMailboxResult,
  type SyncSettings,
} from '../../../../shared/domain/sync';
import { FakeBlobStore, FakeClock, FakeMailSource, FakeMailbox, FakeQueue, type FakeSourceOptions } from './fakes';

export const ACCOUNT = 'Sales Inbox';
export const ADDRESS = 'sales@contoso.example';

export interface Harness {
  clock: FakeClock;
  repos: InMemoryRepositories;
  mailbox: FakeMailbox;
  source: FakeMailSource;
  blobs: FakeBlobStore;
  queue: FakeQueue<MailboxSyncMessage>;
  governor: ThrottleGovernor;
  deps: SyncMailboxDeps;
  settings: SyncSettings;
  /** Total ms slept by the governor (the fake sleep advances the clock). */
  slept: number[];
  run(reason?: MailboxSyncMessage['reason']): Promise<SyncMailboxResult>;
  /** Runs (following continuations and retrying thrown errors) until a run completes. */
  runToCompletion(maxRuns?: number): Promise<SyncMailboxResult[]>;
  account(): Promise<EmailAccountRecord>;
  communications(): CommunicationRecord[];
  byGraphId(): Map<string, CommunicationRecord>;
}

export interface HarnessOptions {
  account?: Partial<NewEmailAccount>;
  source?: FakeSourceOptions;
  settings?: Partial<SyncSettings>;
  principalEnabled?: boolean;
  maxConcurrency?: number;
}

let principalCounter = 0;

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = new FakeClock();
  const repos = createInMemoryRepositories({ clock });
  const principalName = `Contoso ${++principalCounter}`;
  await repos.servicePrincipals.create({
    servicePrincipalName: principalName,
    tenantId: '11111111-1111-4111-8111-111111111111',
    clientId: '22222222-2222-4222-8222-222222222222',
    cloud: 'global',
    authorityUrl: 'https://login.microsoftonline.com/11111111-1111-4111-8111-111111111111',
    graphApiEndpoint: 'https://graph.microsoft.com',
    enabled: options.principalEnabled ?? true,
    credential: { kind: 'clientSecret', secretRef: { name: 'sp-secret' } },
    scopes: 'https://graph.microsoft.com/.default',
  });
  await repos.emailAccounts.create({
    accountName: ACCOUNT,
    accountType: 'User Mailbox',
    emailAddress: ADDRESS,
    user: 'jane@contoso.example',
    enabled: true,
    servicePrincipal: principalName,
    folderFilter: [],
    autoCreateContact: false,
    syncAttachments: false,
    maxAttachmentSize: 10,
    linkingRules: [],
    ...options.account,
  });
  const mailbox = new FakeMailbox(ADDRESS, clock);
  const source = new FakeMailSource(mailbox, clock, options.source);
  const blobs = new FakeBlobStore();
  const queue = new FakeQueue<MailboxSyncMessage>();
  const slept: number[] = [];
  const governor = new ThrottleGovernor({
    clock,
    maxConcurrency: options.maxConcurrency ?? 4,
    sleep: async (ms) => {
      slept.push(ms);
      clock.advance(ms);
      await Promise.resolve();
    },
  });
  let runs = 0;
  const deps: SyncMailboxDeps = {
    repositories: repos,
    mailSourceFor: () => source,
    blobs,
    queue,
    governor,
    clock,
    logger: silentLogger,
    newRunId: () => `run-${++runs}`,
  };
  const settings: SyncSettings = {
    pageSize: 10,
    timeBudgetSeconds: 480,
    leaseSeconds: 600,
    attachmentsContainer: 'attachments',
    ...options.settings,
  };
  const harness: Harness = {
    clock,
    repos,
    mailbox,
    source,
    blobs,
    queue,
    governor,
    deps,
    settings,
    slept,
    run: (reason = 'scheduled') =>
      syncMailbox(deps, { emailAccount: ACCOUNT, reason, requestedAt: clock.now().toISOString() }, settings),
    async runToCompletion(maxRuns = 200) {
      const results: SyncMailboxResult[] = [];
      let message: MailboxSyncMessage = {
        emailAccount: ACCOUNT,
        reason: 'scheduled',
        requestedAt: clock.now().toISOString(),
      };
      for (let i = 0; i < maxRuns; i++) {
        let result: SyncMailboxResult;
        try {
          result = await syncMailbox(deps, message, settings);
        } catch {
          // A retryable failure: the queue redelivers the same message.
          clock.advance(30_000);
          continue;
        }
        results.push(result);
        const sent = queue.take();
        if (result.outcome === 'continued' || result.outcome === 'throttled') {
          if (result.outcome === 'throttled') clock.advance(Date.parse(result.retryAt) - clock.now().getTime() + 1);
          const next = sent.find((s) => s.message.reason === 'continuation');
          if (!next) throw new Error('no continuation was enqueued');
          message = next.message;
          continue;
        }
        return results;
      }
      throw new Error(`no completion after ${maxRuns} runs`);
    },
    account: async () => (await repos.emailAccounts.get(ACCOUNT))!,
    communications: () => repos.communications.table.all(),
    byGraphId: () => new Map(repos.communications.table.all().map((c) => [c.graphMessageId, c])),
  };
  return harness;
}
