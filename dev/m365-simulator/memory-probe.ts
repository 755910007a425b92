/**
 * `npm run sim:memory`: the simulator's memory with a 100,000-message mailbox, measured the way the issue asks.
 *
 * Starts the simulator CLI in its own process with a seed holding one tenant, one app and one mailbox of N
 * messages (default 100,000), walks the Inbox's whole delta over HTTPS (page size 1,000, the sync's `$select`),
 * and samples the simulator process's resident memory from /proc every 100 ms. Prints the figures; with
 * `--json`, one JSON object on the last line. A figure, not a test: memory depends on the garbage collector.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MESSAGE_SELECT } from '../../shared/domain/ports/mail-source';
import { stopChild } from '../local-stack/stack';

const TENANT = '00000000-0000-4000-8000-0000000f0001';
const APP = '00000000-0000-4000-8000-0000000f0002';
const SECRET = 'memory-probe-secret';
const UPN = 'big@probe.example';

function parseArgs(argv: readonly string[]): { messages: number; json: boolean } {
  const out = { messages: 100_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') out.json = true;
    else if (arg === '--messages') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error('--messages takes 1 to 1,000,000');
      out.messages = n;
    } else throw new Error(`Unknown option "${arg}" (use --messages N, --json)`);
  }
  return out;
}

/** Resident set size (current and peak) of a process, in bytes, from /proc. */
function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const seedFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-memory-')), 'seed.json');
  fs.writeFileSync(
    seedFile,
    JSON.stringify({
      tenants: [
        {
          id: TENANT,
          displayName: 'Probe',
          domain: 'probe.example',
          apps: [{ appId: APP, displayName: 'probe', roles: ['Mail.Read'], secrets: [{ value: SECRET }] }],
          users: [
            { userPrincipalName: UPN, mailbox: { seed: 7, folders: { Inbox: args.messages }, attachmentRate: 0.1 } },
          ],
        },
      ],
    }),
  );
  const cli = path.join(__dirname, 'cli.js');
  const child = spawn(process.execPath, [cli, '--port', '0', '--seed', seedFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = (): Promise<void> => stopChild(child);
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`simulator did not start:\n${out}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (https:\/\/\S+)/.exec(out);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`simulator exited with ${code}:\n${out}`)));
    });
    child.stdout.resume();
    const pid = child.pid ?? 0;
    const afterSeed = memoryOf(pid);
    let peak = afterSeed?.rss ?? 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryOf(pid)?.rss ?? 0);
    }, 100);

    const tokenResponse = await fetch(`${url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: APP,
        client_secret: SECRET,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
    const startedAt = Date.now();
    let link: string | undefined =
      `${url}/v1.0/users/${encodeURIComponent(UPN)}/mailFolders/inbox/messages/delta?$select=${MESSAGE_SELECT.join(',')}`;
    let messages = 0;
    let pages = 0;
    while (link && pages < 10_000) {
      const response = await fetch(link, {
        headers: { authorization: `Bearer ${token}`, prefer: 'IdType="ImmutableId", odata.maxpagesize=1000' },
      });
      if (!response.ok) throw new Error(`delta page ${pages} answered ${response.status}: ${await response.text()}`);
      const page = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
      messages += page.value.length;
      pages++;
      link = page['@odata.nextLink'];
    }
    clearInterval(sampler);
    const end = memoryOf(pid);
    peak = Math.max(peak, end?.rss ?? 0, end?.hwm ?? 0);
    const mb = (n: number | undefined): number => Math.round(((n ?? 0) / 1024 / 1024) * 10) / 10;
    const figures = {
      mailboxMessages: args.messages,
      deltaMessages: messages,
      deltaPages: pages,
      walkSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
      simulatorRssAfterSeedMb: mb(afterSeed?.rss),
      simulatorPeakRssMb: mb(peak),
    };
    console.log(
      `simulator with a ${args.messages.toLocaleString('en')}-message mailbox: RSS ${figures.simulatorRssAfterSeedMb} MB after seeding, ` +
        `peak ${figures.simulatorPeakRssMb} MB while serving the full delta walk ` +
        `(${messages.toLocaleString('en')} messages in ${pages} pages, ${figures.walkSeconds} s)`,
    );
    if (messages !== args.messages) throw new Error(`delta returned ${messages} messages, expected ${args.messages}`);
    if (args.json) console.log(JSON.stringify(figures));
  } finally {
    await stop();
    fs.rmSync(path.dirname(seedFile), { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
