/**
 * The Cosmos DB stand-in of the benchmark, in a process of its own (`fork`ed by `run.ts`), so that neither the
 * sync worker nor the orchestrator shares its event loop: the stand-in is single-threaded JavaScript and is one
 * of the things being measured.
 *
 * It also counts every request it serves, server-side, by container and kind (read, query, queryPlan, create,
 * upsert, replace, patch, delete, batch, meta) with the time spent answering: that is how the benchmark counts store
 * writes — every write any code path makes reaches the server, whatever client or repository sent it.
 *
 * The stand-in's query engine gets the linear-time fix of `stand-in-query-patch.ts` unless started with
 * `--unpatched` (`npm run bench -- --unpatched-store`).
 *
 * IPC commands: `counters` → CosmosCounters, `reset` (counters only).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startCosmos } from '../local-stack/stack';
import { serveIpc } from './ipc';
import { patchStandInQueryEngine } from '../local-stack/stand-in-query-patch';

export const REQUEST_KINDS = [
  'read',
  'query',
  'queryPlan',
  'create',
  'upsert',
  'replace',
  'patch',
  'delete',
  'batch',
  'meta',
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
export const WRITE_KINDS: readonly RequestKind[] = ['create', 'upsert', 'replace', 'patch', 'delete', 'batch'];

export interface KindFigures {
  count: number;
  /** Total time from request to response end (ms). */
  totalMs: number;
  /**
   * Documents written: 1 per write request, and for a bulk (`batch`) request the number of its write operations
   * (its Read operations are not writes). Store writes per message count these, not requests.
   */
  documents?: number;
}

/** The write operations of a bulk request body (a JSON array of operations); 0 when unreadable. */
function bulkWriteOperations(body: Buffer): number {
  try {
    const operations: unknown = JSON.parse(body.toString('utf8'));
    if (!Array.isArray(operations)) return 0;
    return operations.filter(
      (op) => typeof op === 'object' && op !== null && (op as { operationType?: unknown }).operationType !== 'Read',
    ).length;
  } catch {
    return 0;
  }
}

export interface CosmosCounters {
  /** container (or `-` for database / metadata requests) → kind → figures */
  byContainer: Record<string, Partial<Record<RequestKind, KindFigures>>>;
  total: number;
}

const headerTrue = (value: string | string[] | undefined): boolean =>
  (Array.isArray(value) ? value[0] : value)?.toLowerCase() === 'true';

/** What a Cosmos REST request does, from its method, path and headers. */
export function classifyCosmosRequest(
  method: string,
  path: string,
  headers: IncomingMessage['headers'],
): { container: string; kind: RequestKind } {
  const match = /^\/dbs\/[^/]+\/colls\/([^/]+)\/docs(\/[^/?]+)?\/?(?:\?|$)/.exec(path);
  if (!match) return { container: '-', kind: 'meta' };
  const container = decodeURIComponent(match[1] ?? '-');
  const oneDoc = match[2] !== undefined;
  switch (method) {
    case 'GET':
      return { container, kind: oneDoc ? 'read' : 'query' };
    case 'PUT':
      return { container, kind: 'replace' };
    case 'PATCH':
      return { container, kind: 'patch' };
    case 'DELETE':
      return { container, kind: 'delete' };
    case 'POST':
      if (headerTrue(headers['x-ms-cosmos-is-query-plan-request'])) return { container, kind: 'queryPlan' };
      if (headerTrue(headers['x-ms-documentdb-isquery']) || headers['content-type'] === 'application/query+json') {
        return { container, kind: 'query' };
      }
      if (headerTrue(headers['x-ms-cosmos-is-batch-request']) || headerTrue(headers['x-ms-cosmos-batch-atomic'])) {
        return { container, kind: 'batch' };
      }
      if (headers['x-ms-cosmos-batch-operation-type'] !== undefined) return { container, kind: 'batch' };
      return { container, kind: headerTrue(headers['x-ms-documentdb-is-upsert']) ? 'upsert' : 'create' };
    default:
      return { container, kind: 'meta' };
  }
}

class RequestCounter {
  private counters: CosmosCounters = { byContainer: {}, total: 0 };

  observe(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const { container, kind } = classifyCosmosRequest(req.method ?? 'GET', req.url ?? '/', req.headers);
    // A second 'data' listener sees the same chunks as the stand-in's body reader (raw-body).
    const chunks: Buffer[] = [];
    if (kind === 'batch') req.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('finish', () => {
      const byKind = (this.counters.byContainer[container] ??= {});
      const figures = (byKind[kind] ??= { count: 0, totalMs: 0 });
      figures.count++;
      if (WRITE_KINDS.includes(kind)) {
        figures.documents =
          (figures.documents ?? 0) + (kind === 'batch' ? bulkWriteOperations(Buffer.concat(chunks)) : 1);
      }
      figures.totalMs += performance.now() - started;
      this.counters.total++;
    });
  }

  snapshot(): CosmosCounters {
    return structuredClone(this.counters);
  }

  reset(): void {
    this.counters = { byContainer: {}, total: 0 };
  }
}

async function main(): Promise<void> {
  // See stand-in-query-patch.ts: the stand-in's queries are O(n²) in the container size unless patched.
  const queryEnginePatched = process.argv.includes('--unpatched') ? false : patchStandInQueryEngine();
  const counter = new RequestCounter();
  const cosmos = await startCosmos(0, { patchQueryEngine: queryEnginePatched });
  cosmos.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => counter.observe(req, res));
  serveIpc(
    {
      counters: () => Promise.resolve(counter.snapshot()),
      reset: () => {
        counter.reset();
        return Promise.resolve({});
      },
      exit: () => {
        setImmediate(() => process.exit(0));
        return Promise.resolve({});
      },
    },
    { endpoint: cosmos.endpoint, key: cosmos.key, pid: process.pid, queryEnginePatched },
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `cosmos-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
