/**
 * The embedded local stack: the Cosmos DB stand-in (`@vercel/cosmosdb-server`, HTTPS with the local
 * certificate, keep-alive) in this process, and Azurite (queues + blobs, in memory) as a child process,
 * both on loopback. Used by `npm start` and by the jest global setup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { patchStandInQueryEngine } from './stand-in-query-patch';

export const PROJECT_ROOT = findProjectRoot(__dirname);
export const TLS_DIR = path.join(PROJECT_ROOT, '.local', 'tls');

/** Azurite's well-known development account. Not a secret: it is published by Microsoft. */
export const DEV_STORAGE_ACCOUNT = 'devstoreaccount1';
export const DEV_STORAGE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** Any base64 key works with the Cosmos stand-in. */
export const DEV_COSMOS_KEY = Buffer.from('local-cosmos-stand-in-key').toString('base64');

export interface LocalStack {
  cosmos: { endpoint: string; key: string };
  storage: { connectionString: string; queueEndpoint: string; blobEndpoint: string };
  tls: { certPath: string; keyPath: string };
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Fixed ports (0 or absent: pick free ones). */
  cosmosPort?: number;
  blobPort?: number;
  queuePort?: number;
}

export function findProjectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'host.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No project root (package.json + host.json) above ${from}`);
    dir = parent;
  }
}

export function readTls(): { cert: Buffer; key: Buffer; certPath: string; keyPath: string } {
  const certPath = path.join(TLS_DIR, 'cert.pem');
  const keyPath = path.join(TLS_DIR, 'key.pem');
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    throw new Error(`TLS material missing in ${TLS_DIR}: run "node dev/scripts/ensure-tls.js" first`);
  }
  return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), certPath, keyPath };
}

export async function startCosmos(
  port = 0,
  options: { patchQueryEngine?: boolean } = {},
): Promise<{ endpoint: string; key: string; server: Server }> {
  // The stand-in's query engine is O(n²) in the container's size; real Cosmos answers from its index.
  if (options.patchQueryEngine !== false) patchStandInQueryEngine();
  const tls = readTls();
  const server = createHttpsServer({ keepAlive: true, key: tls.key, cert: tls.cert });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return { endpoint: `https://127.0.0.1:${actual}`, key: DEV_COSMOS_KEY, server };
}

export async function startAzurite(
  options: { blobPort?: number; queuePort?: number } = {},
): Promise<{ blobEndpoint: string; queueEndpoint: string; connectionString: string; process: ChildProcess }> {
  const bin = path.join(PROJECT_ROOT, 'node_modules', 'azurite', 'dist', 'src', 'azurite.js');
  const child = spawn(
    process.execPath,
    [
      bin,
      '--silent',
      '--disableTelemetry',
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--loose',
      '--blobHost',
      '127.0.0.1',
      '--queueHost',
      '127.0.0.1',
      '--tableHost',
      '127.0.0.1',
      '--blobPort',
      String(options.blobPort ?? 0),
      '--queuePort',
      String(options.queuePort ?? 0),
      '--tablePort',
      '0',
      '--extentMemoryLimit',
      '2048',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: PROJECT_ROOT },
  );
  const ports = await new Promise<{ blob: number; queue: number }>((resolve, reject) => {
    let out = '';
    const found: { blob?: number; queue?: number } = {};
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within 20 s:\n${out}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      for (const m of out.matchAll(/Azurite (Blob|Queue) service is successfully listening at http:\/\/[^:]+:(\d+)/g)) {
        const kind = m[1] === 'Blob' ? 'blob' : 'queue';
        found[kind] = Number(m[2]);
      }
      if (found.blob !== undefined && found.queue !== undefined) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve({ blob: found.blob, queue: found.queue });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}:\n${out}`));
    });
  });
  // Keep draining output so the child never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  const blobEndpoint = `http://127.0.0.1:${ports.blob}/${DEV_STORAGE_ACCOUNT}`;
  const queueEndpoint = `http://127.0.0.1:${ports.queue}/${DEV_STORAGE_ACCOUNT}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_STORAGE_ACCOUNT};AccountKey=${DEV_STORAGE_KEY};` +
    `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};`;
  return { blobEndpoint, queueEndpoint, connectionString, process: child };
}

export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const [cosmos, azurite] = await Promise.all([
    startCosmos(options.cosmosPort),
    startAzurite({
      ...(options.blobPort === undefined ? {} : { blobPort: options.blobPort }),
      ...(options.queuePort === undefined ? {} : { queuePort: options.queuePort }),
    }),
  ]);
  const tls = readTls();
  return {
    cosmos: { endpoint: cosmos.endpoint, key: cosmos.key },
    storage: {
      connectionString: azurite.connectionString,
      queueEndpoint: azurite.queueEndpoint,
      blobEndpoint: azurite.blobEndpoint,
    },
    tls: { certPath: tls.certPath, keyPath: tls.keyPath },
    async stop() {
      await Promise.all([
        new Promise<void>((resolve) => {
          cosmos.server.closeAllConnections();
          cosmos.server.close(() => resolve());
        }),
        stopChild(azurite.process),
      ]);
    },
  };
}
