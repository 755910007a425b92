import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCliArgs, runCli } from '../../../dev/m365-simulator/cli';
import { PROJECT_ROOT } from '../../../dev/local-stack/stack';

describe('m365-simulator CLI', () => {
  it('parses --port, --host and --seed in both spellings and rejects bad input', () => {
    expect(parseCliArgs([])).toEqual({ port: 0, host: '127.0.0.1', help: false });
    expect(parseCliArgs(['--port', '8443', '--seed', 'seed.json'])).toEqual({
      port: 8443,
      host: '127.0.0.1',
      seedFile: 'seed.json',
      help: false,
    });
    expect(parseCliArgs(['--port=9000', '--host=localhost'])).toMatchObject({ port: 9000, host: 'localhost' });
    expect(() => parseCliArgs(['--port', 'abc'])).toThrow(/--port/);
    expect(() => parseCliArgs(['--port'])).toThrow(/needs a value/);
    expect(() => parseCliArgs(['--verbose'])).toThrow(/Unknown argument/);
  });

  it('starts with a seed file, prints its URL and answers GET /_sim/counters', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-seed-'));
    const seedFile = path.join(dir, 'seed.json');
    const tenantId = '6f1c3a52-0d55-4a8e-9d0e-1f2a3b4c5d6e';
    fs.writeFileSync(
      seedFile,
      JSON.stringify({
        tenants: [
          {
            id: tenantId,
            displayName: 'Seeded',
            domain: 'seeded.example.com',
            apps: [{ displayName: 'sync', roles: ['Mail.Read'], secrets: [{ value: 'seeded-secret-value-123' }] }],
            users: [
              { userPrincipalName: 'ann@seeded.example.com' },
              { userPrincipalName: 'team@seeded.example.com', userPurpose: 'shared' },
            ],
          },
        ],
        limits: { mailboxConcurrency: 2 },
      }),
    );
    const lines: string[] = [];
    const sim = await runCli(['--seed', seedFile], (line) => lines.push(line));
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      expect(sim).toBeDefined();
      expect(lines[0]).toBe(`M365 simulator listening on ${sim?.url}`);
      const counters = await fetch(`${sim?.url}/_sim/counters`);
      expect(counters.status).toBe(200);
      const users = (await (await fetch(`${sim?.url}/_sim/tenants/seeded.example.com/users`)).json()) as {
        value: { userPurpose: string }[];
      };
      expect(users.value.map((u) => u.userPurpose)).toEqual(['user', 'shared']);
      const limits = (await (await fetch(`${sim?.url}/_sim/limits`)).json()) as { mailboxConcurrency: number };
      expect(limits.mailboxConcurrency).toBe(2);
    } finally {
      await sim?.stop();
    }
  });

  it('refuses an invalid seed with a message naming the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-seed-'));
    const seedFile = path.join(dir, 'seed.json');
    fs.writeFileSync(seedFile, JSON.stringify({ tenants: [{ displayName: 'x', apps: [{ displayName: 'y' }] }] }));
    try {
      await expect(runCli(['--seed', seedFile], () => undefined)).rejects.toThrow(/tenants\.0\.apps\.0\.roles/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const built = path.join(PROJECT_ROOT, 'dist', 'dev', 'm365-simulator', 'cli.js');
  /** Run the built CLI only when `npm run build` is newer than every simulator source file. */
  function buildIsFresh(): boolean {
    if (!fs.existsSync(built)) return false;
    const builtAt = fs.statSync(built).mtimeMs;
    const sources = fs.readdirSync(path.join(PROJECT_ROOT, 'dev', 'm365-simulator'), {
      recursive: true,
      encoding: 'utf8',
    });
    return sources
      .filter((f) => f.endsWith('.ts'))
      .every((f) => fs.statSync(path.join(PROJECT_ROOT, 'dev', 'm365-simulator', f)).mtimeMs <= builtAt);
  }
  (buildIsFresh() ? it : it.skip)('runs as `node dist/dev/m365-simulator/cli.js` and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [built, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (https:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}${errors}`)));
    });
    expect((await fetch(`${url}/_sim/counters`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
