/**
 * JSON batching (`POST /v1.0/$batch`): up to 20 requests, each run through the simulator's full pipeline
 * (`router.dispatch`: authenticated, throttled and counted on its own, so a 200 batch can hold 429 items),
 * at most 4 at a time like Outlook, `dependsOn` ordering with 424 for failed dependencies.
 */
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import { SimHttpError, type SimRequest, type SimResponse, type SimRouter } from '../contract';

export const MAX_BATCH_REQUESTS = 20;
const BATCH_CONCURRENCY = 4;

interface BatchRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  dependsOn: string[];
}

interface BatchResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

function bad(message: string): SimHttpError {
  return new SimHttpError(400, 'BadRequest', message);
}

function parseBatch(req: SimRequest): BatchRequest[] {
  const payload = req.json<unknown>();
  const requests = (payload as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw bad('Invalid batch payload format: a "requests" collection is required.');
  if (requests.length === 0) throw bad('Invalid batch payload format: the "requests" collection is empty.');
  if (requests.length > MAX_BATCH_REQUESTS)
    throw bad(`Number of batch request steps exceeds the maximum of ${MAX_BATCH_REQUESTS}.`);
  const seen = new Set<string>();
  const parsed = requests.map((raw: unknown, index): BatchRequest => {
    if (typeof raw !== 'object' || raw === null) throw bad(`Request ${index} is not an object.`);
    const r = raw as Record<string, unknown>;
    const id = typeof r['id'] === 'string' || typeof r['id'] === 'number' ? String(r['id']) : undefined;
    if (!id) throw bad(`Request ${index} has no id.`);
    if (seen.has(id.toLowerCase())) throw bad(`Request id '${id}' is used more than once in the batch.`);
    seen.add(id.toLowerCase());
    if (typeof r['method'] !== 'string' || !r['method']) throw bad(`Request '${id}' has no method.`);
    if (typeof r['url'] !== 'string' || !r['url']) throw bad(`Request '${id}' has no url.`);
    const headers: Record<string, string> = {};
    if (r['headers'] !== undefined) {
      if (typeof r['headers'] !== 'object' || r['headers'] === null) throw bad(`Request '${id}' has invalid headers.`);
      for (const [name, value] of Object.entries(r['headers'] as Record<string, unknown>))
        headers[name.toLowerCase()] = String(value);
    }
    const hasBody = r['body'] !== undefined && r['body'] !== null;
    if (hasBody && !headers['content-type'])
      throw bad(`Request '${id}': a Content-Type header is required when a body is present.`);
    let body: unknown = r['body'];
    if (hasBody && typeof body === 'string' && !/json/i.test(headers['content-type'] ?? ''))
      body = Buffer.from(body, 'base64');
    const dependsOn = Array.isArray(r['dependsOn']) ? r['dependsOn'].map(String) : [];
    return { id, method: r['method'].toUpperCase(), url: r['url'], headers, ...(hasBody ? { body } : {}), dependsOn };
  });
  const ids = new Set(parsed.map((r) => r.id.toLowerCase()));
  for (const r of parsed) {
    for (const dep of r.dependsOn) {
      if (!ids.has(dep.toLowerCase())) throw bad(`Request '${r.id}' depends on unknown request '${dep}'.`);
    }
  }
  const byId = new Map(parsed.map((r) => [r.id.toLowerCase(), r]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (r: BatchRequest): void => {
    const key = r.id.toLowerCase();
    if (state.get(key) === 'done') return;
    if (state.get(key) === 'visiting') throw bad(`The dependsOn of request '${r.id}' forms a cycle.`);
    state.set(key, 'visiting');
    for (const dep of r.dependsOn) visit(byId.get(dep.toLowerCase()) as BatchRequest);
    state.set(key, 'done');
  };
  parsed.forEach(visit);
  return parsed;
}

async function bodyOf(response: SimResponse): Promise<unknown> {
  const body = response.body;
  if (body === undefined || body === null) return undefined;
  let bytes: Buffer;
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
    bytes = Buffer.concat(chunks);
  } else if (Buffer.isBuffer(body)) {
    bytes = body;
  } else if (typeof body === 'string') {
    bytes = Buffer.from(body, 'utf8');
  } else {
    return body;
  }
  const type = response.headers?.['content-type'] ?? '';
  // JSON bodies come back as JSON; everything else base64-encoded, like Graph.
  if (/json/i.test(type)) {
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      return bytes.toString('base64');
    }
  }
  return bytes.toString('base64');
}

export function registerBatchRoute(router: SimRouter): void {
  router.add(
    'POST',
    '/v1.0/$batch',
    async (req) => {
      const requests = parseBatch(req);
      const authorization = req.headers['authorization'];
      const results = new Map<string, BatchResponse>();
      const done = new Map<string, Promise<BatchResponse>>();
      let running = 0;
      const waiters: (() => void)[] = [];
      const slot = async (): Promise<void> => {
        while (running >= BATCH_CONCURRENCY) await new Promise<void>((resolve) => waiters.push(resolve));
        running++;
      };
      const release = (): void => {
        running--;
        waiters.shift()?.();
      };
      const byId = new Map(requests.map((r) => [r.id.toLowerCase(), r]));
      const run = (r: BatchRequest): Promise<BatchResponse> => {
        const existing = done.get(r.id.toLowerCase());
        if (existing) return existing;
        const promise = (async (): Promise<BatchResponse> => {
          const deps = await Promise.all(r.dependsOn.map((d) => run(byId.get(d.toLowerCase()) as BatchRequest)));
          if (deps.some((d) => d.status >= 400)) {
            return {
              id: r.id,
              status: 424,
              headers: { 'content-type': 'application/json' },
              body: { error: { code: 'FailedDependency', message: 'A request this request depends on failed.' } },
            };
          }
          await slot();
          try {
            const headers: Record<string, string> = { ...r.headers };
            if (typeof authorization === 'string' && !headers['authorization'])
              headers['authorization'] = authorization;
            const response = await router.dispatch({
              method: r.method,
              url: r.url,
              headers,
              ...(r.body !== undefined ? { body: r.body } : {}),
            });
            const body = await bodyOf(response);
            const outHeaders = { ...(response.headers ?? {}) };
            delete outHeaders['content-length'];
            return { id: r.id, status: response.status, headers: outHeaders, ...(body !== undefined ? { body } : {}) };
          } finally {
            release();
          }
        })();
        done.set(r.id.toLowerCase(), promise);
        return promise;
      };
      for (const r of await Promise.all(requests.map(run))) results.set(r.id, r);
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { responses: requests.map((r) => results.get(r.id)) },
      };
    },
    { auth: 'graph' },
  );
}
