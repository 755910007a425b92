/**
 * `npm run demo:deliver`: new mail for the running demo. Reads `.local/demo.json` (or `DEMO_STATE_FILE` /
 * `--state-file`), delivers N messages (default 5) to the demo user's Inbox through the M365 simulator's control
 * API (as Exchange would deliver them), and prints what it did. The next sync cycle (the `schedule-mailbox-sync`
 * timer, `SYNC_SCHEDULE`: every 30 s in the demo) picks them up; `--sync-now` asks for a sync through the API
 * instead, and `--wait` waits until the API serves them.
 *
 * Usage: npm run demo:deliver [-- [--count <n>] [--to <address>] [--sync-now] [--wait] [--state-file <file>]]
 */
import { ApiClient, SimulatorControl } from './clients';
import { formatSeconds } from './progress';
import { demoStatePath, readDemoState, type DemoState } from './state';

const USAGE = `Usage: npm run demo:deliver [-- [--count <n>] [--to <address>] [--sync-now] [--wait] [--state-file <file>]]

  --count <n>          messages to deliver (1-100, default 5)
  --to <address>       a demo mailbox (default: the demo user, as in .local/demo.json)
  --sync-now           ask for a sync of that mailbox through the API right away
                       (POST /api/email-accounts/{name}/sync with its owner's token)
  --wait               wait until GET /api/communications serves the new messages (up to 2 minutes)
  --state-file <file>  the demo state to read (default: DEMO_STATE_FILE or .local/demo.json)`;

export interface DeliverArgs {
  count: number;
  to?: string;
  syncNow: boolean;
  wait: boolean;
  stateFile?: string;
  help: boolean;
}

export function parseDeliverArgs(argv: readonly string[]): DeliverArgs {
  const args: DeliverArgs = { count: 5, syncNow: false, wait: false, help: false };
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--sync-now') args.syncNow = true;
    else if (arg === '--wait') args.wait = true;
    else if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--count') {
      const n = Number(value(++i, '--count'));
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error('--count must be a whole number from 1 to 100');
      args.count = n;
    } else if (arg === '--to') args.to = value(++i, '--to').toLowerCase();
    else if (arg === '--state-file') args.stateFile = value(++i, '--state-file');
    else throw new Error(`Unknown option "${arg}"`);
  }
  return args;
}

const SENDERS = [
  { name: 'Alex Wilber', address: 'alex.wilber@northwind.example' },
  { name: 'Isaiah Langer', address: 'isaiah@tailspintoys.example' },
  { name: 'Lidia Holloway', address: 'lidia.holloway@woodgrovebank.example' },
  { name: 'Nestor Wilke', address: 'nestor@adventure-works.example' },
];
const TOPICS = [
  'Quote for the Q3 order',
  'Meeting notes: onboarding',
  'Invoice 2024-117 is overdue',
  'Can we move Thursday’s call?',
  'New ticket: login fails on mobile',
  'Contract renewal draft',
];

/** The token that may sync the account: its owner's (the admin owns shared mailboxes). */
function ownerToken(state: DemoState, owner: string): string | undefined {
  if (owner === state.userEmail) return state.userToken;
  if (owner === state.otherUserEmail) return state.otherUserToken;
  if (owner === state.adminUser) return state.adminToken;
  return undefined;
}

export async function deliver(argv: readonly string[], write: (text: string) => void): Promise<number> {
  const args = parseDeliverArgs(argv);
  if (args.help) {
    write(USAGE + '\n');
    return 0;
  }
  const file = args.stateFile ?? demoStatePath();
  const state = readDemoState(file);
  const target = args.to ?? state.userEmail;
  const account = state.accounts.find((a) => a.emailAddress.toLowerCase() === target);
  if (!account) {
    throw new Error(`${target} is not a demo mailbox (${state.accounts.map((a) => a.emailAddress).join(', ')})`);
  }
  const token = ownerToken(state, account.owner);
  const sim = new SimulatorControl(state.simulatorUrl);
  const api = new ApiClient(state.apiBaseUrl);

  const deliveredAt = Date.now();
  const stamp = new Date(deliveredAt).toISOString().slice(11, 19);
  const subjects: string[] = [];
  for (let i = 0; i < args.count; i++) {
    const subject = `${TOPICS[i % TOPICS.length]} [demo ${stamp} #${i + 1}]`;
    const from = SENDERS[i % SENDERS.length]!;
    try {
      await sim.deliver(account.emailAddress, 'Inbox', {
        subject,
        from,
        body: `Hello,\n\nThis message was delivered by npm run demo:deliver at ${stamp} UTC.\n\n${from.name}`,
        importance: i === 0 ? 'high' : 'normal',
      });
    } catch (error) {
      if (error instanceof TypeError) {
        throw new Error(
          `the M365 simulator at ${state.simulatorUrl} does not answer: is \`npm start\` still running?`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    subjects.push(subject);
    write(`delivered to ${account.emailAddress} / Inbox: "${subject}" from ${from.address}\n`);
  }

  if (args.syncNow) {
    if (!token) throw new Error(`no demo token can sync ${account.accountName} (owner ${account.owner})`);
    const result = await api.syncAccount(token, account.accountName);
    write(
      result.queued
        ? `sync requested: POST /api/email-accounts/${account.accountName}/sync → queued\n`
        : `a sync of ${account.accountName} is already running; the next cycle picks up the rest\n`,
    );
  } else {
    write(
      `The next sync cycle picks them up (SYNC_SCHEDULE "${state.syncSchedule}"); ` +
        'or run with `-- --sync-now` to sync right away.\n',
    );
  }

  if (args.wait) {
    if (!token) throw new Error(`no demo token can read ${account.accountName} (owner ${account.owner})`);
    const deadline = Date.now() + 120_000;
    const since = new Date(deliveredAt - 60_000).toISOString();
    for (;;) {
      const items = await api.communications(token, { emailAccount: account.accountName, since });
      const arrived = subjects.filter((s) => items.some((c) => c.subject === s));
      if (arrived.length === subjects.length) {
        write(
          `all ${subjects.length} message(s) served by GET /api/communications after ${formatSeconds((Date.now() - deliveredAt) / 1000)}\n`,
        );
        break;
      }
      if (Date.now() > deadline) {
        write(`only ${arrived.length} of ${subjects.length} message(s) arrived within 2 minutes\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  return 0;
}

if (require.main === module) {
  deliver(process.argv.slice(2), (text) => void process.stdout.write(text)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`demo:deliver: ${error instanceof Error ? error.message : String(error)}\n`);
      if (error instanceof Error && error.message.startsWith('Unknown option')) process.stderr.write(`\n${USAGE}\n`);
      process.exitCode = error instanceof Error && /option|needs a value|--count/.test(error.message) ? 2 : 1;
    },
  );
}
