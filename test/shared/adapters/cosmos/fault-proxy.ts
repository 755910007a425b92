/**
 * An HTTPS proxy in front of the Cosmos stand-in that can answer chosen operations of bulk requests itself (the
 * stand-in never throttles): the real SDK talks to it, the operations it does not answer reach the stand-in.
 * Point the client at it with endpoint discovery off (the stand-in advertises its own address).
 */
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testStack } from '../../../support/stack';

/** One operation of a bulk request as the SDK sends it (`partitionKey` is a JSON array string). */
export interface BulkRequestOperation {
  operationType: string;
  id?: string;
  partitionKey?: string;
  ifMatch?: string;
  resourceBody?: { id?: string } & Record<string, unknown>;
}

/** An answer in place of the stand-in's, e.g. `{ statusCode: 429, retryAfterMilliseconds: 5 }`. */
export interface FakeOperationResult {
  statusCode: number;
  retryAfterMilliseconds?: number;
  subStatusCode?: number;
}

/**
 * Called for every bulk request before it is forwarded: returns, per operation, the answer to give instead of
 * forwarding it (undefined: forward). May wait (e.g. to let another writer change a document first).
 */
export type BulkInterceptor = (
  operations: BulkRequestOperation[],
) => (FakeOperationResult | undefined)[] | Promise<(FakeOperationResult | undefined)[]>;

export interface FaultProxy {
  endpoint: string;
  /** Bulk requests seen (including those answered entirely by the proxy). */
  bulkRequests: number;
  intercept: BulkInterceptor | undefined;
  close(): Promise<void>;
}

const readBody = (stream: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { tlsCertPath, tlsKeyPath } = testStack();
  const cert = fs.readFileSync(tlsCertPath);
  const upstream = new URL(target);
  const agent = new https.Agent({ keepAlive: true, ca: cert });

  const forward = (
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const outgoing: IncomingHttpHeaders = { ...headers, host: upstream.host, 'content-length': String(body.length) };
      delete outgoing['transfer-encoding'];
      const req = https.request(
        { hostname: upstream.hostname, port: upstream.port, method, path, headers: outgoing, agent },
        (res) => {
          readBody(res).then(
            (data) => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: data }),
            reject,
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const proxy: FaultProxy = {
    endpoint: '',
    bulkRequests: 0,
    intercept: undefined,
    close: () => Promise.resolve(),
  };

  const server = https.createServer({ cert, key: fs.readFileSync(tlsKeyPath) }, (req, res) => {
    void (async () => {
      const body = await readBody(req);
      const isBulk = String(req.headers['x-ms-cosmos-is-batch-request']).toLowerCase() === 'true';
      const intercept = proxy.intercept;
      let answer: { status: number; headers: IncomingHttpHeaders; body: Buffer };
      if (isBulk) proxy.bulkRequests++;
      if (isBulk && intercept) {
        const operations = JSON.parse(body.toString('utf8')) as BulkRequestOperation[];
        const fakes = await intercept(operations);
        const forwarded = operations.filter((_, i) => fakes[i] === undefined);
        let upstreamResults: unknown[] = [];
        let headers: IncomingHttpHeaders = { 'content-type': 'application/json' };
        if (forwarded.length) {
          const reply = await forward(
            req.method ?? 'POST',
            req.url ?? '/',
            req.headers,
            Buffer.from(JSON.stringify(forwarded)),
          );
          upstreamResults = JSON.parse(reply.body.toString('utf8')) as unknown[];
          headers = reply.headers;
        }
        let next = 0;
        const results = operations.map((_, i) => fakes[i] ?? upstreamResults[next++]);
        answer = { status: 200, headers, body: Buffer.from(JSON.stringify(results)) };
      } else {
        answer = await forward(req.method ?? 'GET', req.url ?? '/', req.headers, body);
      }
      const headers = { ...answer.headers, 'content-length': String(answer.body.length) };
      delete headers['transfer-encoding'];
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    })().catch((error: unknown) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
