/**
 * The local functions host runs real `@azure/functions` registrations: HTTP routes, queue triggers with retries
 * and a poison queue, queue output bindings, and timers fired through the admin endpoint.
 */
import path from 'node:path';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { startFunctionsHost, type StartedFunctionsHost } from '../../../dev/functions-host';
import { testStack, uniqueName } from '../../support/stack';
import type * as QueueFixtureModule from './fixtures/queue-functions';

type QueueFixtures = typeof QueueFixtureModule;

// Under jest (whose resolver bypasses Node's), map the worker's built-in module to the stand-in here.
jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../dev/functions-host/functions-core'), {
  virtual: true,
});

const fixtures = path.join(__dirname, 'fixtures');
const stack = testStack();
const queues = QueueServiceClient.fromConnectionString(stack.storageConnectionString);
const names = {
  FIXTURE_OUTBOX_QUEUE: uniqueName('outbox'),
  FIXTURE_FAILING_QUEUE: uniqueName('failing'),
  FIXTURE_INBOX_QUEUE: uniqueName('inbox'),
  FIXTURE_FORWARD_QUEUE: uniqueName('forward'),
  FIXTURE_TIMER_QUEUE: uniqueName('timer'),
};
const lines: string[] = [];
let host: StartedFunctionsHost;

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

/** Waits until `queue` holds `count` messages and returns their decoded texts (peeked: left in place). */
async function waitForMessages(queue: QueueClient, count: number, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exists = await queue.exists();
    if (exists) {
      const peeked = await queue.peekMessages({ numberOfMessages: 32 });
      if (peeked.peekedMessageItems.length >= count) return peeked.peekedMessageItems.map((m) => unb64(m.messageText));
    }
    if (Date.now() > deadline) throw new Error(`queue ${queue.name} did not receive ${count} message(s) in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  await Promise.all([names.FIXTURE_FAILING_QUEUE, names.FIXTURE_INBOX_QUEUE].map((n) => queues.createQueue(n)));
  host = await startFunctionsHost({
    port: 0,
    modules: ['http-functions.ts', 'queue-functions.ts', 'timer-functions.ts'].map((f) => path.join(fixtures, f)),
    env: { ...names, AzureWebJobsStorage: stack.storageConnectionString, FIXTURE_SCHEDULE: '0 0 0 1 1 *' },
    queues: { visibilityTimeoutMs: 0, maxPollingIntervalMs: 200 },
    queueLeaseMs: 30_000,
    logSink: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await host?.stop();
  await Promise.all(
    Object.values(names)
      .flatMap((n) => [queues.deleteQueue(n), queues.deleteQueue(`${n}-poison`)])
      .map((p) => p.catch(() => undefined)),
  );
});

describe('the local functions host', () => {
  it('captures every registration with its trigger', () => {
    expect(host.loadErrors).toEqual([]);
    expect(Object.fromEntries(host.functions.map((f) => [f.name, `${f.trigger} ${f.detail}`]))).toEqual({
      echo: 'http GET,POST,PUT /api/things/{id}/{extra?}',
      thingsSpecial: 'http GET /api/things/special',
      bytes: 'http GET /api/bytes',
      stream: 'http GET /api/stream',
      nothing: 'http DELETE /api/nothing',
      broken: 'http GET /api/broken',
      enqueue: 'http POST /api/enqueue',
      alwaysFails: `queue ${names.FIXTURE_FAILING_QUEUE}`,
      forward: `queue ${names.FIXTURE_INBOX_QUEUE}`,
      yearlyReport: 'timer 0 0 0 1 1 *',
    });
  });

  it('serves an HTTP route with params, query, headers and body through HttpRequest', async () => {
    const res = await fetch(`${host.apiUrl}/things/42/more?x=1&x=2&y=z`, {
      method: 'POST',
      headers: { 'x-test': 'hello', 'content-type': 'text/plain' },
      body: 'the body',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({
      functionName: 'echo',
      method: 'POST',
      url: `${host.apiUrl}/things/42/more?x=1&x=2&y=z`,
      params: { id: '42', extra: 'more' },
      // As in Azure: a repeated query parameter arrives comma-joined.
      query: { x: '1,2', y: 'z' },
      header: 'hello',
      body: 'the body',
    });
    expect(lines.some((l) => l.includes('[echo] echo called'))).toBe(true);
    expect(lines.some((l) => /POST \/api\/things\/42\/more → 200 in \d+ ms \[echo\]/.test(l))).toBe(true);
  });

  it('matches optional parameters, prefers literal segments, and ignores authLevel', async () => {
    const optional = await fetch(`${host.apiUrl}/things/7`);
    expect(((await optional.json()) as { params: unknown }).params).toEqual({ id: '7' });
    const special = await fetch(`${host.apiUrl}/THINGS/special`);
    expect(await special.text()).toBe('special');
  });

  it('answers 404 for unknown routes and for methods a route does not accept', async () => {
    expect((await fetch(`${host.apiUrl}/nowhere`)).status).toBe(404);
    expect((await fetch(`${host.apiUrl}/things/7`, { method: 'DELETE' })).status).toBe(404);
  });

  it('sends binary and streamed bodies, 204 when nothing is returned, 500 when the handler throws', async () => {
    const bytes = await fetch(`${host.apiUrl}/bytes`);
    expect(Buffer.from(await bytes.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
    expect(bytes.headers.get('content-type')).toBe('application/octet-stream');
    expect(await (await fetch(`${host.apiUrl}/stream`)).text()).toBe('chunk-1;chunk-2;chunk-3');
    expect((await fetch(`${host.apiUrl}/nothing`, { method: 'DELETE' })).status).toBe(204);
    const broken = await fetch(`${host.apiUrl}/broken`);
    expect(broken.status).toBe(500);
    expect(await broken.text()).toBe('');
    expect(lines.some((l) => l.includes('this handler always fails'))).toBe(true);
  });

  it('writes a queue output binding: one base64 message per array element', async () => {
    const res = await fetch(`${host.apiUrl}/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ items: [{ mailbox: 'a@contoso.com' }, 'plain text'] }),
    });
    expect(res.status).toBe(202);
    const texts = await waitForMessages(queues.getQueueClient(names.FIXTURE_OUTBOX_QUEUE), 2);
    expect(texts).toEqual(['{"mailbox":"a@contoso.com"}', 'plain text']);
  });

  it('runs a queue trigger with its decoded message and trigger metadata, then deletes the message', async () => {
    const inbox = queues.getQueueClient(names.FIXTURE_INBOX_QUEUE);
    const sent = await inbox.sendMessage(b64({ emailAccount: 'x' }));
    const [forwarded] = await waitForMessages(queues.getQueueClient(names.FIXTURE_FORWARD_QUEUE), 1);
    expect(JSON.parse(forwarded!)).toEqual({ received: { emailAccount: 'x' }, dequeueCount: 1, id: sent.messageId });
    await waitFor(async () => (await inbox.getProperties()).approximateMessagesCount === 0);
  });

  it('moves a message that failed maxDequeueCount (5) times to <queue>-poison with its body intact', async () => {
    const body = b64({ emailAccount: 'poisoned', note: 'ünïcödé' });
    await queues.getQueueClient(names.FIXTURE_FAILING_QUEUE).sendMessage(body);
    const poison = queues.getQueueClient(`${names.FIXTURE_FAILING_QUEUE}-poison`);
    await waitForMessages(poison, 1, 20_000);
    const peeked = await poison.peekMessages();
    expect(peeked.peekedMessageItems.map((m) => m.messageText)).toEqual([body]);
    const { failedAttempts } = jest.requireActual<QueueFixtures>('./fixtures/queue-functions');
    expect(failedAttempts.map((a) => a.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    expect(failedAttempts[0]!.message).toEqual({ emailAccount: 'poisoned', note: 'ünïcödé' });
    const source = await queues.getQueueClient(names.FIXTURE_FAILING_QUEUE).getProperties();
    expect(source.approximateMessagesCount).toBe(0);
  });

  it('treats a message that is not base64 (host.json messageEncoding) as a failure, ending in the poison queue', async () => {
    await queues.getQueueClient(names.FIXTURE_INBOX_QUEUE).sendMessage('{"not":"base64"}');
    const poison = queues.getQueueClient(`${names.FIXTURE_INBOX_QUEUE}-poison`);
    await waitForMessages(poison, 1, 20_000);
    expect((await poison.peekMessages()).peekedMessageItems.map((m) => m.messageText)).toEqual(['{"not":"base64"}']);
    expect(lines.some((l) => l.includes('not valid base64'))).toBe(true);
  });

  it('fires a timer through POST /admin/functions/{name}', async () => {
    const res = await fetch(`${host.url}/admin/functions/yearlyReport`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(202);
    const [report] = await waitForMessages(queues.getQueueClient(names.FIXTURE_TIMER_QUEUE), 1);
    const parsed = JSON.parse(report!) as { isPastDue: boolean; next: string };
    expect(parsed.isPastDue).toBe(false);
    expect(new Date(parsed.next).toISOString()).toMatch(/-01-01T00:00:00\.000Z$/);
    expect((await fetch(`${host.url}/admin/functions/nope`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${host.url}/admin/functions/echo`, { method: 'POST' })).status).toBe(400);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
