/** Command line of `npm run bench -- [options]`. */

export interface BenchArgs {
  /** Messages in the main mailbox (Inbox; 10% with attachments). */
  messages: number;
  /** Messages in the second mailbox, without attachments (Graph requests per 1,000 messages). */
  plainMessages: number;
  /** Share of the main mailbox's messages with attachments. */
  attachmentRate: number;
  /** Accounts for the fan-out. */
  accounts: number;
  /** Latency added to every Graph request (ms). */
  latencyMs: number;
  json: boolean;
  /** Write a CPU profile of the worker into .local/bench-profiles/. */
  cpuProf: boolean;
  /** The accounts' `autoCreateContact` (production default true); `--no-contacts` measures without it. */
  autoCreateContact: boolean;
  /** Run the Cosmos stand-in's query engine unpatched (see stand-in-query-patch.ts). */
  unpatchedStore: boolean;
  help: boolean;
}

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --messages N          messages in the benchmark mailbox (default 20000)
  --plain-messages N    messages in the second mailbox without attachments (default min(messages, 5000))
  --attachment-rate R   share of messages with attachments, 0-1 (default 0.1)
  --accounts N          accounts for the fan-out (default 10000)
  --latency-ms N        latency added to every Graph request (default 20)
  --quick               2000 messages (1000 without attachments), 1000 accounts (smoke test)
  --no-contacts         accounts with autoCreateContact off (diagnosis: the sync without contact upserts)
  --unpatched-store     the Cosmos stand-in's query engine as is (its queries are O(n²) in the container size)
  --json                also print every figure as one JSON object on the last line
  --cpu-prof            write a CPU profile of the worker to .local/bench-profiles/
  --help                show this help`;

export class BenchUsageError extends Error {}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let messages: number | undefined;
  let plainMessages: number | undefined;
  let accounts: number | undefined;
  let attachmentRate = 0.1;
  let latencyMs = 20;
  let quick = false;
  let json = false;
  let cpuProf = false;
  let autoCreateContact = true;
  let unpatchedStore = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const raw = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
      if (raw === undefined || raw === '') throw new BenchUsageError(`${name} needs a value`);
      return raw;
    };
    const integer = (min: number, max: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < min || n > max) {
        throw new BenchUsageError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
      }
      return n;
    };
    switch (name) {
      case '--messages':
        messages = integer(1, 200_000);
        break;
      case '--plain-messages':
        plainMessages = integer(0, 200_000);
        break;
      case '--accounts':
        accounts = integer(1, 100_000);
        break;
      case '--latency-ms':
        latencyMs = integer(0, 10_000);
        break;
      case '--attachment-rate': {
        const raw = value();
        const n = Number(raw);
        if (!Number.isFinite(n) || n < 0 || n > 1)
          throw new BenchUsageError(`--attachment-rate must be 0-1, not "${raw}"`);
        attachmentRate = n;
        break;
      }
      case '--quick':
        quick = true;
        break;
      case '--json':
        json = true;
        break;
      case '--cpu-prof':
        cpuProf = true;
        break;
      case '--no-contacts':
        autoCreateContact = false;
        break;
      case '--unpatched-store':
        unpatchedStore = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new BenchUsageError(`Unknown option "${arg}"`);
    }
  }
  const finalMessages = messages ?? (quick ? 2000 : 20_000);
  return {
    messages: finalMessages,
    plainMessages: plainMessages ?? Math.min(finalMessages, quick ? 1000 : 5000),
    attachmentRate,
    accounts: accounts ?? (quick ? 1000 : 10_000),
    latencyMs,
    json,
    cpuProf,
    autoCreateContact,
    unpatchedStore,
    help,
  };
}
