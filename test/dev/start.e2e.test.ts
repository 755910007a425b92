/**
 * End to end: `node dist/dev/start.js --no-demo` (what `npm start` runs after its build step) serves a healthy
 * API, and SIGINT stops it and everything it started (Azurite included). Builds `dist/` first as `npm start` does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { alive, descendants } from '../support/process-tree';
import { testStack } from '../support/stack';

const root = path.resolve(__dirname, '../..');
const run = promisify(execFile);

/** The build step of `npm start` (swc transpile to dist/, skipping files that are up to date). */
async function build(): Promise<void> {
  const startedAt = Date.now();
  const { stdout } = await run(process.execPath, ['dev/scripts/transpile.js'], { cwd: root });
  console.log(`build: ${stdout.trim()} (${Date.now() - startedAt} ms)`);
}

function start(args: string[]): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['dist/dev/start.js', ...args], {
    cwd: root,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NODE_EXTRA_CA_CERTS: testStack().tlsCertPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

const exited = (child: ChildProcess, timeoutMs: number): Promise<number | null> =>
  new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('the process did not exit in time')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

beforeAll(build, 60_000);

describe('npm start (node dist/dev/start.js)', () => {
  it('rejects an unknown flag with a clear message', async () => {
    const { child, output } = start(['--no-demo', '--frobnicate']);
    expect(await exited(child, 20_000)).toBe(2);
    expect(output()).toContain('Unknown option "--frobnicate"');
    expect(output()).toContain('Usage: npm start');
  });

  it('answers GET /api/health with 200, then stops cleanly on SIGINT leaving no process behind', async () => {
    const startedAt = Date.now();
    const { child, output } = start(['--no-demo', '--port', '0']);
    let healthUrl: string | undefined;
    let status = 0;
    while (status !== 200) {
      if (child.exitCode !== null) throw new Error(`start exited early:\n${output()}`);
      if (Date.now() - startedAt > 30_000) throw new Error(`health not 200 within 30 s:\n${output()}`);
      healthUrl ??= /Health:\s+(http:\/\/\S+)/.exec(output())?.[1];
      if (healthUrl) status = (await fetch(healthUrl).catch(() => ({ status: 0 }))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`node dist/dev/start.js → health 200 in ${Date.now() - startedAt} ms`);
    expect(output()).not.toContain('bG9jYWwtY29zbW9zLXN0YW5kLWluLWtleQ'); // the Cosmos key is never printed
    expect(output()).not.toContain('AccountKey=');
    expect(output()).not.toContain('local-simulator-only-secret');

    const tree = await descendants(child.pid!);
    expect(tree.length).toBeGreaterThan(0); // Azurite
    child.kill('SIGINT');
    expect(await exited(child, 20_000)).toBe(0);
    expect(output()).toContain('SIGINT: stopping');
    const deadline = Date.now() + 5000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(alive)).toEqual([]);
  }, 60_000);
});
