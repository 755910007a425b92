/**
 * With `app.setup({ enableHttpStream: true })` the host streams both ways through the library's HTTP proxy,
 * like the real host. Runs in a child process (plain Node module resolution, as under `npm start`; the
 * library's proxy server stays open for the process's lifetime).
 */
import path from 'node:path';
import { startHostProcess, type HostProcess } from '../../support/functions-host-process';

let host: HostProcess;
let url: string;

beforeAll(async () => {
  host = await startHostProcess({
    options: { modules: [path.join(__dirname, 'fixtures/streaming-functions.ts')], logLevel: 'warn' },
    startTimeoutMs: 20_000,
  });
  url = host.url;
}, 30_000);

afterAll(async () => {
  await host?.stop();
});

describe('HTTP streaming through the local host', () => {
  it('delivers the first chunk of a response before the handler has produced the rest', async () => {
    const res = await fetch(`${url}/api/slow/a`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('first;');
    expect((await fetch(`${url}/api/release/a`, { method: 'POST' })).status).toBe(204);
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('last');
  });

  it('streams a request body to the handler', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await fetch(`${url}/api/count`, { method: 'POST', body });
    expect(await res.json()).toEqual({ bytes: body.length });
  });
});
