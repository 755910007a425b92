/** Turns the benchmark's measurements into its figures: a readable table and one JSON object. */
import os from 'node:os';
import type { BenchArgs } from './args';
import type { CosmosCounters, RequestKind } from './cosmos-process';
import type { FanOutFigures, RawUpsertFigures, SyncFigures } from './worker';

export interface GraphCounts {
  total: number;
  delta: number;
  attachments: number;
  folders: number;
  other: number;
}

export interface CpuShare {
  process: string;
  cpuSeconds: number;
  /** CPU time ÷ wall time (1 = one core busy all the time). */
  utilisation: number;
}

export interface BenchMeasurements {
  args: BenchArgs;
  wiring: Record<string, string>;
  /** The stand-in's O(n²) query scan was linearised (stand-in-query-patch.ts). */
  storeQueryEnginePatched: boolean;
  initial: SyncFigures;
  initialCpu: CpuShare[];
  initialGraph: GraphCounts;
  initialPeakConcurrency: number;
  initialThrottled: number;
  initialStore: { total: number; byContainer: Record<string, number>; counters: CosmosCounters };
  /** Communications of the mailbox in Cosmos after the initial sync. */
  stored: number;
  /** ... of which with attachments (-1 when the store could not count them). */
  storedWithAttachments: number;
  incremental: SyncFigures;
  incrementalGraph: GraphCounts;
  incrementalPeakConcurrency: number;
  plain?: { figures: SyncFigures; graph: GraphCounts; peakConcurrency: number; storeWrites: number };
  raw: RawUpsertFigures;
  rawCpu: CpuShare[];
  rawStoreWrites: number;
  fanOut: FanOutFigures;
  fanOutQueueCount: number;
  /** Store requests served during the fan-out. */
  fanOutStore: CosmosCounters;
  accountsInsertSeconds: number;
}

/** The keys the issue asks for, always numbers. */
export const REQUIRED_KEYS = [
  'messagesPerSecond',
  'graphRequestsPer1000Messages',
  'storeWritesPerMessage',
  'unchangedCycleRequestsPerFolder',
  'peakConcurrencyPerMailbox',
  'workerPeakRssMb',
  'rawStoreUpsertsPerSecond',
  'syncToStoreRatio',
  'fanOut10kSeconds',
] as const;

export type BenchJson = Record<(typeof REQUIRED_KEYS)[number], number> & Record<string, unknown>;

interface Row {
  figure: string;
  value: string;
  target: string;
  ok?: boolean;
}

export interface BenchReport {
  json: BenchJson;
  rows: Row[];
  notes: string[];
}

const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
const per1000 = (requests: number, messages: number): number => (messages > 0 ? (requests / messages) * 1000 : 0);

/** Total time the store spent answering requests (ms; concurrent requests overlap, the stand-in is single-threaded). */
function storeServerMs(counters: CosmosCounters): number {
  let total = 0;
  for (const kinds of Object.values(counters.byContainer)) {
    for (const figures of Object.values(kinds)) total += figures?.totalMs ?? 0;
  }
  return total;
}

function storeTimeByKind(counters: CosmosCounters): Record<string, { count: number; meanMs: number }> {
  const totals: Partial<Record<RequestKind, { count: number; totalMs: number }>> = {};
  for (const kinds of Object.values(counters.byContainer)) {
    for (const [kind, figures] of Object.entries(kinds) as Array<[RequestKind, { count: number; totalMs: number }]>) {
      const t = (totals[kind] ??= { count: 0, totalMs: 0 });
      t.count += figures.count;
      t.totalMs += figures.totalMs;
    }
  }
  return Object.fromEntries(
    Object.entries(totals).map(([kind, t]) => [
      kind,
      { count: t.count, meanMs: round(t.totalMs / Math.max(1, t.count)) },
    ]),
  );
}

/** Busy time per kind of call, with its share of the sync's wall time, biggest first. */
interface BreakdownEntry {
  calls: number;
  busySeconds: number;
  share: number;
  errors?: Record<string, number>;
}

function breakdownOf(figures: SyncFigures): Record<string, BreakdownEntry> {
  const wall = figures.durationMs / 1000;
  return Object.fromEntries(
    Object.entries(figures.timeBreakdown)
      .sort((a, b) => b[1].busySeconds - a[1].busySeconds)
      .map(([name, c]) => [
        name,
        {
          calls: c.calls,
          busySeconds: c.busySeconds,
          share: round(c.busySeconds / wall),
          ...(c.errors ? { errors: c.errors } : {}),
        },
      ]),
  );
}

const describeBreakdown = (b: Record<string, BreakdownEntry>): string =>
  Object.entries(b)
    .map(([name, c]) => {
      const errors = Object.entries(c.errors ?? {}).map(([code, n]) => `, ${n}× ${code}`);
      return `${name} ${Math.round(c.share * 100)}% (${c.calls}${errors.join('')})`;
    })
    .join(', ');

export function buildReport(m: BenchMeasurements): BenchReport {
  const created = m.initial.totals.created;
  const initialSeconds = m.initial.durationMs / 1000;
  const messagesPerSecond = initialSeconds > 0 ? created / initialSeconds : 0;
  const withoutAttachmentRoutes = m.initialGraph.total - m.initialGraph.attachments;
  const plainCreated = m.plain?.figures.totals.created ?? 0;
  const graphPer1000Plain = m.plain
    ? per1000(m.plain.graph.total, plainCreated)
    : per1000(withoutAttachmentRoutes, created);
  const incrementalFolders = Math.max(1, m.incremental.folders.length);
  const peakConcurrency = Math.max(
    m.initialPeakConcurrency,
    m.incrementalPeakConcurrency,
    m.plain?.peakConcurrency ?? 0,
  );
  const workerPeakRss = Math.max(m.initial.peak.rssMb, m.incremental.peak.rssMb, m.plain?.figures.peak.rssMb ?? 0);
  const ratio = m.raw.perSecond > 0 ? messagesPerSecond / m.raw.perSecond : 0;
  const fanOutSeconds = m.fanOut.durationMs / 1000;

  const json: BenchJson = {
    messagesPerSecond: round(messagesPerSecond, 1),
    graphRequestsPer1000Messages: round(graphPer1000Plain),
    storeWritesPerMessage: round(created > 0 ? m.initialStore.total / created : 0, 3),
    unchangedCycleRequestsPerFolder: round(m.incrementalGraph.total / incrementalFolders),
    peakConcurrencyPerMailbox: peakConcurrency,
    workerPeakRssMb: workerPeakRss,
    rawStoreUpsertsPerSecond: round(m.raw.perSecond, 1),
    syncToStoreRatio: round(ratio, 3),
    fanOut10kSeconds: round(fanOutSeconds),
    // ---- extras
    messages: created,
    messagesStored: m.stored,
    messagesWithAttachments: m.storedWithAttachments,
    initialSyncSeconds: round(initialSeconds),
    initialSyncRuns: m.initial.runs,
    initialSyncStatus: m.initial.status,
    graphRequestsPer1000MessagesWithAttachments: round(per1000(m.initialGraph.total, created)),
    graphRequestsPer1000MessagesExcludingAttachmentRequests: round(per1000(withoutAttachmentRoutes, created)),
    initialGraphRequests: m.initialGraph,
    throttledRequests: m.initialThrottled,
    governorPeakConcurrency: Math.max(m.initial.governorPeakConcurrency, m.incremental.governorPeakConcurrency),
    storeWritesByContainer: m.initialStore.byContainer,
    storeRequestsByKind: storeTimeByKind(m.initialStore.counters),
    unchangedCycleFolders: m.incremental.folders.length,
    unchangedCycleGraphRequests: m.incrementalGraph.total,
    unchangedCycleSeconds: round(m.incremental.durationMs / 1000),
    unchangedCycleStatus: m.incremental.status,
    workerPeakHeapUsedMb: Math.max(m.initial.peak.heapUsedMb, m.incremental.peak.heapUsedMb),
    workerPeakRssMbByPhase: {
      initialSync: m.initial.peak.rssMb,
      unchangedCycle: m.incremental.peak.rssMb,
      ...(m.plain ? { plainMailboxSync: m.plain.figures.peak.rssMb } : {}),
      rawUpserts: m.raw.peak.rssMb,
      fanOut: m.fanOut.peak.rssMb,
    },
    workerHeapUsedAfterGcMb: {
      initialSync: m.initial.heapUsedAfterGcMb ?? null,
      unchangedCycle: m.incremental.heapUsedAfterGcMb ?? null,
      ...(m.plain ? { plainMailboxSync: m.plain.figures.heapUsedAfterGcMb ?? null } : {}),
      fanOut: m.fanOut.heapUsedAfterGcMb ?? null,
    },
    workerPeakArrayBuffersMb: Math.max(m.initial.peak.arrayBuffersMb, m.plain?.figures.peak.arrayBuffersMb ?? 0),
    workerLifetimePeakRssMb: m.fanOut.lifetimePeakRssMb ?? null,
    initialSyncTimeBreakdown: breakdownOf(m.initial),
    ...(m.plain ? { plainSyncTimeBreakdown: breakdownOf(m.plain.figures) } : {}),
    cpuDuringInitialSync: m.initialCpu.map((c) => ({
      process: c.process,
      cpuSeconds: round(c.cpuSeconds, 1),
      utilisation: round(c.utilisation),
    })),
    cpuDuringRawUpserts: m.rawCpu.map((c) => ({
      process: c.process,
      cpuSeconds: round(c.cpuSeconds, 1),
      utilisation: round(c.utilisation),
    })),
    cpuCores: os.cpus().length,
    rawStoreUpserts: m.raw.count,
    rawStoreWriteConcurrency: m.raw.writeConcurrency,
    rawStoreWritesCounted: m.rawStoreWrites,
    meanCommunicationBytes: m.raw.meanSyncedDocBytes,
    fanOutAccounts: m.args.accounts,
    fanOutEnqueued: m.fanOut.enqueued,
    fanOutQueueCount: m.fanOutQueueCount,
    fanOutAccountsInsertSeconds: round(m.accountsInsertSeconds, 1),
    fanOutStoreRequests: storeTimeByKind(m.fanOutStore),
    fanOutStoreServerSeconds: round(storeServerMs(m.fanOutStore) / 1000, 1),
    graphLatencyMs: m.args.latencyMs,
    autoCreateContact: m.args.autoCreateContact,
    storeQueryEnginePatched: m.storeQueryEnginePatched,
    ...(m.plain
      ? {
          plainMessages: plainCreated,
          plainMessagesPerSecond: round(plainCreated / Math.max(0.001, m.plain.figures.durationMs / 1000), 1),
          plainGraphRequests: m.plain.graph,
          plainStoreWritesPerMessage: round(plainCreated > 0 ? m.plain.storeWrites / plainCreated : 0, 3),
          plainSyncStatus: m.plain.figures.status,
        }
      : {}),
  };

  const rows: Row[] = [
    {
      figure: `Initial sync (${created} messages, ${m.initial.runs} run(s))`,
      value: `${round(initialSeconds, 1)} s`,
      target: '',
    },
    { figure: 'Messages per second', value: String(json.messagesPerSecond), target: '' },
    {
      figure: `Graph requests / 1,000 messages, no attachments (${plainCreated || created} msgs)`,
      value: String(json.graphRequestsPer1000Messages),
      target: '≤ 12',
      ok: json.graphRequestsPer1000Messages <= 12,
    },
    {
      figure: '  … with attachments (all requests of the main mailbox)',
      value: String(json['graphRequestsPer1000MessagesWithAttachments']),
      target: '',
    },
    {
      figure: '  … main mailbox excluding attachment requests',
      value: String(json['graphRequestsPer1000MessagesExcludingAttachmentRequests']),
      target: '',
    },
    {
      figure: `Graph requests (delta ${m.initialGraph.delta}, attachments ${m.initialGraph.attachments}, folders ${m.initialGraph.folders}, other ${m.initialGraph.other})`,
      value: String(m.initialGraph.total),
      target: '',
    },
    { figure: 'Store writes per message', value: String(json.storeWritesPerMessage), target: '' },
    {
      figure: `  … by container: ${Object.entries(m.initialStore.byContainer)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')}`,
      value: String(m.initialStore.total),
      target: '',
    },
    {
      figure: `Unchanged incremental cycle: requests per folder (${m.incremental.folders.length} folders)`,
      value: String(json.unchangedCycleRequestsPerFolder),
      target: '= 1',
      ok: json.unchangedCycleRequestsPerFolder === 1,
    },
    {
      figure: 'Peak concurrent Graph requests per mailbox',
      value: String(peakConcurrency),
      target: '≤ 4',
      ok: peakConcurrency <= 4,
    },
    { figure: 'Worker peak RSS (MB)', value: String(workerPeakRss), target: '< 300', ok: workerPeakRss < 300 },
    {
      figure: `Raw store upserts per second (upsertMany: bulk requests of 100, ${m.raw.writeConcurrency} in flight, ~${m.raw.meanSyncedDocBytes} B docs)`,
      value: String(json.rawStoreUpsertsPerSecond),
      target: '',
    },
    {
      figure: 'Sync rate ÷ raw store rate',
      value: String(json.syncToStoreRatio),
      target: '≥ 0.5',
      ok: ratio >= 0.5,
    },
    {
      figure: `Fan-out of ${m.args.accounts} accounts (${m.fanOut.enqueued} enqueued, queue holds ${m.fanOutQueueCount})`,
      value: `${json.fanOut10kSeconds} s`,
      target: '',
      ok: m.fanOutQueueCount === m.args.accounts,
    },
    ...(m.plain
      ? [
          {
            figure: `Messages per second without attachments (${plainCreated} msgs)`,
            value: String(json['plainMessagesPerSecond']),
            target: '',
          },
        ]
      : []),
  ];

  const notes = [
    m.storeQueryEnginePatched
      ? 'Store: Cosmos stand-in with its O(n²) query scan linearised (dev/local-stack/stand-in-query-patch.ts); --unpatched-store runs it as is'
      : 'Store: Cosmos stand-in as is (every query O(n²) in the container size: getMany dominates)',
    `Sync status: initial ${m.initial.status}; unchanged cycle ${m.incremental.status}` +
      (m.plain ? `; plain mailbox ${m.plain.figures.status}` : ''),
    `CPU during the initial sync (1.0 = one core of ${os.cpus().length}): ${m.initialCpu
      .map((c) => `${c.process} ${round(c.utilisation)}`)
      .join(', ')}`,
    `CPU during the raw upserts: ${m.rawCpu.map((c) => `${c.process} ${round(c.utilisation)}`).join(', ')}`,
    `Store requests during the initial sync (count / mean server ms): ${Object.entries(
      json['storeRequestsByKind'] as Record<string, { count: number; meanMs: number }>,
    )
      .map(([k, v]) => `${k} ${v.count}/${v.meanMs}`)
      .join(', ')}`,
    `Busy share of the initial sync's wall time (calls): ${describeBreakdown(breakdownOf(m.initial))}`,
    ...(m.plain
      ? [`Busy share, mailbox without attachments (calls): ${describeBreakdown(breakdownOf(m.plain.figures))}`]
      : []),
    `Fan-out: ${Object.entries(json['fanOutStoreRequests'] as Record<string, { count: number; meanMs: number }>)
      .map(([k, v]) => `${v.count} store ${k} requests (mean ${v.meanMs} ms)`)
      .join(', ')}; the store spent ${json['fanOutStoreServerSeconds'] as number} s answering them`,
    `Worker memory: peak RSS ${m.initial.peak.rssMb} MB in the initial sync (heap used ≤ ${m.initial.peak.heapUsedMb} MB ` +
      `of ≤ ${m.initial.peak.heapTotalMb} MB, Buffers ≤ ${m.initial.peak.arrayBuffersMb} MB)` +
      (m.plain
        ? `, ${m.plain.figures.peak.rssMb} MB without attachments (heap used ≤ ${m.plain.figures.peak.heapUsedMb} MB ` +
          `of ≤ ${m.plain.figures.peak.heapTotalMb} MB, Buffers ≤ ${m.plain.figures.peak.arrayBuffersMb} MB)`
        : '') +
      `; ${m.raw.peak.rssMb} MB in the raw upserts (not a sync phase); heap after a full GC at the end of each phase: ` +
      `${m.initial.heapUsedAfterGcMb ?? '?'} / ${m.incremental.heapUsedAfterGcMb ?? '?'}` +
      `${m.plain ? ` / ${m.plain.figures.heapUsedAfterGcMb ?? '?'}` : ''} / ${m.fanOut.heapUsedAfterGcMb ?? '?'} MB`,
    `Communications stored: ${m.stored} (${m.storedWithAttachments} with attachments); throttled Graph requests: ${m.initialThrottled}`,
  ];
  return { json, rows, notes };
}

export function formatTable(report: BenchReport): string {
  const header: Row = { figure: 'Figure', value: 'Value', target: 'Target' };
  const rows = [header, ...report.rows];
  const width = (pick: (r: Row) => string): number => Math.max(...rows.map((r) => pick(r).length));
  const wf = width((r) => r.figure);
  const wv = width((r) => r.value);
  const wt = width((r) => r.target);
  const line = (r: Row): string =>
    `${r.figure.padEnd(wf)}  ${r.value.padStart(wv)}  ${r.target.padEnd(wt)}  ${r.ok === undefined ? '' : r.ok ? 'met' : 'MISSED'}`.trimEnd();
  const rule = '-'.repeat(wf + wv + wt + 12);
  return ['Mailbox sync benchmark', rule, line(header), rule, ...report.rows.map(line), rule, ...report.notes].join(
    '\n',
  );
}
