/** The parts of host.json the local host honours, with the Functions runtime's defaults. */
import fs from 'node:fs';

export interface QueueSettings {
  /** Messages fetched per poll (1–32). */
  batchSize: number;
  /** Fetch the next batch when this many or fewer messages are still being processed. */
  newBatchThreshold: number;
  /** Attempts before a message moves to `<queue>-poison`. */
  maxDequeueCount: number;
  /** How long a failed message stays invisible before its next attempt. */
  visibilityTimeoutMs: number;
  /** Longest wait between polls of an empty queue (polling backs off up to this). */
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

export interface HostSettings {
  routePrefix: string;
  queues: QueueSettings;
  /** Messages are leased (kept invisible) for this long while a function runs. */
  functionTimeoutMs: number;
}

/** Parses `hh:mm:ss` (optionally `d.hh:mm:ss` and fractional seconds) into milliseconds. */
export function parseTimeSpan(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a time span (hh:mm:ss)`);
  const [, days, hours, minutes, seconds] = m;
  return Math.round(((Number(days ?? 0) * 24 + Number(hours)) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000);
}

export const DEFAULT_HOST_SETTINGS: HostSettings = {
  routePrefix: 'api',
  queues: {
    batchSize: 16,
    newBatchThreshold: 8,
    maxDequeueCount: 5,
    visibilityTimeoutMs: 0,
    maxPollingIntervalMs: 60_000,
    messageEncoding: 'base64',
  },
  functionTimeoutMs: 30 * 60_000,
};

interface HostJson {
  functionTimeout?: string;
  extensions?: {
    http?: { routePrefix?: string };
    queues?: {
      batchSize?: number;
      newBatchThreshold?: number;
      maxDequeueCount?: number;
      visibilityTimeout?: string;
      maxPollingInterval?: string;
      messageEncoding?: string;
    };
  };
}

export function readHostSettings(hostJsonPath: string | undefined): HostSettings {
  const defaults = DEFAULT_HOST_SETTINGS;
  if (!hostJsonPath || !fs.existsSync(hostJsonPath)) return structuredClone(defaults);
  const json = JSON.parse(fs.readFileSync(hostJsonPath, 'utf8')) as HostJson;
  const q = json.extensions?.queues ?? {};
  const encoding = (q.messageEncoding ?? defaults.queues.messageEncoding).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    throw new Error(`host.json: extensions.queues.messageEncoding must be "base64" or "none", not "${encoding}"`);
  }
  return {
    routePrefix: (json.extensions?.http?.routePrefix ?? defaults.routePrefix).replace(/^\/+|\/+$/g, ''),
    queues: {
      batchSize: Math.min(32, Math.max(1, q.batchSize ?? defaults.queues.batchSize)),
      newBatchThreshold: q.newBatchThreshold ?? Math.floor((q.batchSize ?? defaults.queues.batchSize) / 2),
      maxDequeueCount: q.maxDequeueCount ?? defaults.queues.maxDequeueCount,
      visibilityTimeoutMs: q.visibilityTimeout
        ? parseTimeSpan(q.visibilityTimeout)
        : defaults.queues.visibilityTimeoutMs,
      maxPollingIntervalMs: q.maxPollingInterval
        ? parseTimeSpan(q.maxPollingInterval)
        : defaults.queues.maxPollingIntervalMs,
      messageEncoding: encoding,
    },
    functionTimeoutMs: json.functionTimeout ? parseTimeSpan(json.functionTimeout) : defaults.functionTimeoutMs,
  };
}
