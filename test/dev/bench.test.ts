/**
 * Smoke test of `npm run bench`: runs the built benchmark with `--quick --json` and checks that it completes and
 * prints every figure the issue asks for, as numbers, on its last line. Figures are never compared with time
 * targets here (benchmarks print figures; tests do not time things) — only outcomes that do not depend on speed
 * (every message stored, every account enqueued, one request per folder in an unchanged cycle).
 *
 * Skipped when `dist/` is missing or older than the sources the benchmark runs (`npm run build` first).
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../dev/local-stack/stack';
import { parseBenchArgs } from '../../dev/bench/args';
import { classifyCosmosRequest } from '../../dev/bench/cosmos-process';
import { REQUIRED_KEYS } from '../../dev/bench/report';
import { linearizeQueryCode, patchStandInQueryEngine } from '../../dev/local-stack/stand-in-query-patch';

// The Cosmos stand-in's query engine (a dependency of @vercel/cosmosdb-server): compile and execute.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compileQuery = (require('@zeit/cosmosdb-query') as { default: (q: string) => { code: string } }).default;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const executeCode = (require('@zeit/cosmosdb-query/lib/executor') as { default: (c: unknown[], o: object) => unknown })
  .default;

const built = path.join(PROJECT_ROOT, 'dist', 'dev', 'bench', 'run.js');

/** Every `.ts` under the directories the built benchmark runs code from. */

describe('npm run bench', () => {
  // The bench runs from dist/: bring it up to date first (the same fast transpile `npm start` uses).
  beforeAll(() => {
    execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'dev', 'scripts', 'transpile.js')], { stdio: 'ignore' });
  }, 120_000);

  it('parses its options (--quick scales down; bad values are refused)', () => {
    expect(parseBenchArgs([])).toMatchObject({
      messages: 20_000,
      plainMessages: 5000,
      accounts: 10_000,
      latencyMs: 20,
    });
    expect(parseBenchArgs(['--quick', '--json'])).toMatchObject({
      messages: 2000,
      plainMessages: 1000,
      accounts: 1000,
      json: true,
    });
    expect(parseBenchArgs(['--messages=300', '--accounts', '50', '--no-contacts'])).toMatchObject({
      messages: 300,
      plainMessages: 300,
      accounts: 50,
      autoCreateContact: false,
    });
    expect(() => parseBenchArgs(['--messages', 'many'])).toThrow(/--messages must be a whole number/);
    expect(() => parseBenchArgs(['--attachment-rate', '2'])).toThrow(/--attachment-rate/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/Unknown option/);
  });

  it('classifies Cosmos REST requests as reads, queries and the kinds of writes', () => {
    const docs = '/dbs/bench/colls/communications/docs';
    const kind = (method: string, path: string, headers: Record<string, string> = {}) =>
      classifyCosmosRequest(method, path, headers);
    expect(kind('POST', docs, { 'x-ms-documentdb-is-upsert': 'True' })).toEqual({
      container: 'communications',
      kind: 'upsert',
    });
    expect(kind('POST', docs).kind).toBe('create');
    expect(kind('POST', docs, { 'x-ms-documentdb-isquery': 'True' }).kind).toBe('query');
    expect(kind('POST', docs, { 'x-ms-cosmos-is-query-plan-request': 'True' }).kind).toBe('queryPlan');
    expect(kind('POST', docs, { 'x-ms-cosmos-is-batch-request': 'True' }).kind).toBe('batch');
    expect(kind('PUT', `${docs}/abc`).kind).toBe('replace');
    expect(kind('PATCH', `${docs}/abc`).kind).toBe('patch');
    expect(kind('DELETE', `${docs}/abc`).kind).toBe('delete');
    expect(kind('GET', `${docs}/abc`)).toEqual({ container: 'communications', kind: 'read' });
    expect(kind('GET', docs).kind).toBe('query');
    expect(kind('GET', '/dbs/bench/colls/communications')).toEqual({ container: '-', kind: 'meta' });
  });

  it('linearises the stand-in query engine without changing any query result', () => {
    const docs = Array.from({ length: 300 }, (_, i) => ({
      id: `d${String(i).padStart(3, '0')}`,
      _rid: `r${i}`,
      emailAccount: i % 3 === 0 ? 'a' : 'b',
      docType: i % 7 === 0 ? 'contact' : 'communication',
      n: (i * 37) % 101,
      subject: i % 5 === 0 ? 'Re: [x] ticket' : `hello ${i}`,
      tags: i % 4 === 0 ? ['t1', 't2'] : ['t3'],
      ...(i % 9 === 0 ? {} : { referenceName: `R-${i % 11}` }),
    }));
    const cases: Array<{ query: string; parameters?: Array<{ name: string; value: unknown }>; maxItemCount?: number }> =
      [
        {
          query: 'SELECT * FROM c WHERE c.emailAccount = @a AND ARRAY_CONTAINS(@ids, c.id) AND c.docType = @t',
          parameters: [
            { name: '@a', value: 'a' },
            { name: '@ids', value: ['d000', 'd003', 'd004', 'd299', 'zz'] },
            { name: '@t', value: 'communication' },
          ],
        },
        { query: 'SELECT * FROM c WHERE c.docType = "communication" ORDER BY c.id DESC', maxItemCount: 25 },
        { query: 'SELECT VALUE COUNT(1) FROM c WHERE c.emailAccount = "b" AND c.n > 50' },
        { query: 'SELECT c.id, t FROM c JOIN t IN c.tags WHERE t = "t1" ORDER BY c.id' },
        { query: 'SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = "t2")' },
        { query: 'SELECT TOP 7 c.id FROM c WHERE STARTSWITH(c.subject, "Re: [x]") AND c.n IN (1, 2, 3, 74, 36)' },
        { query: 'SELECT c.id, c.referenceName FROM c WHERE IS_DEFINED(c.referenceName) AND c.subject != "a]b"' },
      ];
    for (const { query, ...options } of cases) {
      const code = compileQuery(query).code;
      expect(code).toContain('[...$, '); // the quadratic accumulator the fix removes
      const linear = linearizeQueryCode(code);
      expect(linear).not.toContain('[...$, ');
      expect(executeCode(docs, { code: linear, ...options })).toEqual(executeCode(docs, { code, ...options }));
    }
    expect(patchStandInQueryEngine()).toBe(true);
    expect(compileQuery('SELECT * FROM c WHERE c.id = "x"').code).not.toContain('[...$, ');
  });

  it('runs --quick --json and prints every figure as a number on the last line', async () => {
    const child = spawn(process.execPath, [built, '--quick', '--json'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(PROJECT_ROOT, '.local', 'tls', 'cert.pem') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    if (code !== 0) throw new Error(`bench exited with ${code}:\n${stderr.slice(-4000)}`);

    const lines = stdout.trim().split('\n');
    const figures = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
    for (const key of REQUIRED_KEYS) {
      expect({ key, type: typeof figures[key] }).toEqual({ key, type: 'number' });
      expect(Number.isFinite(figures[key])).toBe(true);
    }
    expect(figures['messagesPerSecond']).toBeGreaterThan(0);
    // Outcomes that do not depend on speed:
    expect(figures['initialSyncStatus']).toBe('Success');
    expect(figures['messagesStored']).toBe(2000);
    expect(figures['messages']).toBe(2000);
    expect(figures['unchangedCycleRequestsPerFolder']).toBe(1);
    expect(figures['fanOutQueueCount']).toBe(1000);
    // The readable table comes first.
    expect(stdout).toContain('Mailbox sync benchmark');
  }, 300_000);
});
