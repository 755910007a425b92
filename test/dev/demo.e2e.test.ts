/**
 * The first five minutes, end to end: `node dist/dev/start.js` (what `npm start` runs after its build step),
 * non-interactively (`CI=true`), seeds the demo tenants, registers everything through the API, syncs every
 * mailbox and prints `DEMO READY`. Then, with the tokens it printed:
 *  - the demo user sees her own communications and nothing of the other user's or the shared mailbox's,
 *  - the System Manager sees every mailbox's,
 *  - `demo:deliver --sync-now` delivers new mail that the API serves shortly after,
 * and SIGINT stops the whole process tree.
 *
 * The demo's state goes to a temporary `DEMO_STATE_FILE`, never the developer's own `.local/demo.json`.
 * Prints the measured "start to all mailboxes synced" seconds; asserts no timing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DemoState } from '../../dev/demo/state';
import { alive, descendants } from '../support/process-tree';
import { testStack } from '../support/stack';

const root = path.resolve(__dirname, '../..');
const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Communication {
  id: string;
  emailAccount: string;
  owner: string;
  subject: string;
  accountType: string;
}

let child: ChildProcess;
let output = '';
let exited: Promise<number | null>;
let tmpDir: string;
let stateFile: string;
let state: DemoState;
let printed: { api: string; adminToken: string; userToken: string };

async function communications(token: string, query = ''): Promise<Communication[]> {
  const items: Communication[] = [];
  let continuationToken: string | null = null;
  do {
    const url =
      `${printed.api}/communications?limit=200${query}` +
      (continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : '');
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: Communication[]; continuationToken: string | null };
    items.push(...page.items);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return items;
}

beforeAll(async () => {
  const { stdout } = await run(process.execPath, ['dev/scripts/transpile.js'], { cwd: root });
  console.log(`build: ${stdout.trim()}`);
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-e2e-'));
  stateFile = path.join(tmpDir, 'demo.json');

  child = spawn(process.execPath, ['dist/dev/start.js', '--port', '0'], {
    cwd: root,
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      NODE_EXTRA_CA_CERTS: testStack().tlsCertPath,
      CI: 'true',
      DEMO_STATE_FILE: stateFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + 120_000;
  while (!/^DEMO READY/m.test(output)) {
    if (/^DEMO FAILED|npm start failed/m.test(output) || child.exitCode !== null) {
      throw new Error(`the demo did not get ready:\n${output.slice(-6000)}`);
    }
    if (Date.now() > deadline) throw new Error(`no DEMO READY within 120 s:\n${output.slice(-6000)}`);
    await sleep(200);
  }
  const synced = /all mailboxes synced at ([\d.]+) s/.exec(output)?.[1];
  console.log(
    `npm start → all mailboxes synced ${synced} s after process start (${/^DEMO READY.*$/m.exec(output)?.[0]})`,
  );

  const match = (re: RegExp): string => {
    const value = re.exec(output)?.[1];
    if (!value) throw new Error(`${re} not in the output:\n${output.slice(-4000)}`);
    return value;
  };
  printed = {
    api: match(/^\s*export API=(\S+)$/m),
    adminToken: match(/^\s*export ADMIN_TOKEN=(\S+)$/m),
    userToken: match(/^\s*export USER_TOKEN=(\S+)$/m),
  };
  state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as DemoState;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

describe('npm start with the demo', () => {
  it('prints a summary table, tokens, curl examples, and writes the demo state file', () => {
    expect(output).toMatch(/Mailbox\s+Folders\s+Messages\s+Attachments\s+Duration\s+Status/);
    for (const mailbox of ['adele@', 'megan@', 'support@', 'diego@']) expect(output).toMatch(new RegExp(mailbox));
    expect(output.match(/^\s*curl -s .*\$API\//gm)?.length).toBe(3);
    expect(state).toMatchObject({
      apiBaseUrl: printed.api,
      adminToken: printed.adminToken,
      userToken: printed.userToken,
      userEmail: 'adele@contoso.onmicrosoft.com',
      otherUserEmail: 'megan@contoso.onmicrosoft.com',
    });
    expect(state.accounts.map((a) => a.emailAddress).sort()).toEqual([
      'adele@contoso.onmicrosoft.com',
      'diego@fabrikam.onmicrosoft.com',
      'megan@contoso.onmicrosoft.com',
      'support@contoso.onmicrosoft.com',
    ]);
    expect(fs.statSync(stateFile).mode & 0o077).toBe(0); // holds tokens: owner only
    // Secrets of the app registrations and the stand-ins never reach the terminal.
    expect(output).not.toContain('local-simulator-only-secret');
    expect(output).not.toContain('AccountKey=');
  });

  it("serves the user her own communications with the printed token, and none of anyone else's", async () => {
    const mine = await communications(printed.userToken);
    expect(mine.length).toBeGreaterThan(0);
    expect(new Set(mine.map((c) => c.owner))).toEqual(new Set([state.userEmail]));
    expect(new Set(mine.map((c) => c.emailAccount))).toEqual(new Set([state.userAccount]));

    const others = await communications(state.otherUserToken);
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((c) => c.owner === state.userEmail)).toEqual([]);
    const mineIds = new Set(mine.map((c) => c.id));
    expect(others.filter((c) => mineIds.has(c.id))).toEqual([]);

    // The System Manager sees every mailbox, the shared one included.
    const all = await communications(printed.adminToken);
    expect(all.length).toBeGreaterThan(mine.length + others.length);
    expect(new Set(all.map((c) => c.emailAccount))).toEqual(new Set(state.accounts.map((a) => a.accountName)));
    const shared = state.accounts.find((a) => a.kind === 'shared')!;
    expect(all.some((c) => c.emailAccount === shared.accountName)).toBe(true);
    expect(mine.some((c) => c.emailAccount === shared.accountName)).toBe(false);
  });

  it('delivers new mail with demo:deliver --sync-now and serves it to its owner only', async () => {
    const startedAt = Date.now();
    const { stdout } = await run(
      process.execPath,
      ['dist/dev/demo/deliver.js', '--count', '3', '--sync-now', '--state-file', stateFile],
      { cwd: root, env: { PATH: process.env['PATH'], NODE_EXTRA_CA_CERTS: testStack().tlsCertPath } },
    );
    const subjects = [...stdout.matchAll(/^delivered to \S+ \/ Inbox: "(.+)" from /gm)].map((m) => m[1]!);
    expect(subjects).toHaveLength(3);
    expect(stdout).toMatch(/sync requested|already running/);

    let arrived: Communication[] = [];
    const deadline = Date.now() + 60_000;
    while (arrived.length < 3) {
      if (Date.now() > deadline)
        throw new Error(`only ${arrived.length} of 3 arrived in 60 s:\n${output.slice(-3000)}`);
      await sleep(500);
      const recent = await communications(
        printed.userToken,
        `&since=${encodeURIComponent(new Date(startedAt - 60_000).toISOString())}`,
      );
      arrived = recent.filter((c) => subjects.includes(c.subject));
    }
    console.log(`demo:deliver → served by the API ${((Date.now() - startedAt) / 1000).toFixed(1)} s later`);
    expect(arrived.every((c) => c.owner === state.userEmail && c.emailAccount === state.userAccount)).toBe(true);
    const seenByOther = await communications(state.otherUserToken);
    expect(seenByOther.filter((c) => subjects.includes(c.subject))).toEqual([]);
  }, 90_000);

  it('stops the whole process tree on SIGINT', async () => {
    const tree = await descendants(child.pid!);
    expect(tree.length).toBeGreaterThan(0); // Azurite
    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 20_000))),
    ]);
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(output).toContain('SIGINT: stopping');
    const deadline = Date.now() + 5000;
    while (tree.some(alive) && Date.now() < deadline) await sleep(100);
    expect(tree.filter(alive)).toEqual([]);
  }, 30_000);
});
