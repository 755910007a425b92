/**
 * A performance fix for the Cosmos stand-in's query engine (`@zeit/cosmosdb-query`, used by
 * `@vercel/cosmosdb-server`), applied wherever the stand-in runs (`startCosmos`: tests, `npm start`, the benchmark).
 *
 * The engine compiles every query to JavaScript whose FROM clause collects the candidate documents with
 * `collection.reduce(($, c) => typeof c !== "undefined" ? [...$, { c: c }] : $, [])` — copying the accumulator at
 * every document, so **every query costs O(n²) in the number of documents in the container** (all partitions):
 * ~3 s per query with 20,000 communications stored, whatever the WHERE clause. Real Cosmos DB answers the same
 * queries from its index. The fix rewrites each `[...$, X]` accumulator step of the generated code into
 * `($.push(X), $)`: the same array, built in linear time (the accumulator is a fresh `[]` per execution, so
 * mutating it is unobservable). `test/dev/bench.test.ts` checks that patched and original code return the same
 * results for the query shapes the repositories use.
 */

/** Index of the bracket closing the one at `open` (skipping string and template literals); -1 if none. */
function matchingBracket(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const ch = code[i];
    if (ch === '"' || ch === "'" || ch === '`') {
      for (i++; i < code.length && code[i] !== ch; i++) if (code[i] === '\\') i++;
      continue;
    }
    if (ch === '[' || ch === '(' || ch === '{') depth++;
    else if (ch === ']' || ch === ')' || ch === '}') {
      depth--;
      if (depth === 0) return ch === ']' ? i : -1;
    }
  }
  return -1;
}

const SPREAD_STEP = '[...$, ';

/** Rewrites the quadratic `[...$, X]` accumulator steps of generated query code; other code is left as is. */
export function linearizeQueryCode(code: string): string {
  let out = code;
  let from = out.length;
  for (;;) {
    const start = out.lastIndexOf(SPREAD_STEP, from);
    if (start < 0) return out;
    const end = matchingBracket(out, start);
    if (end > start) {
      const items = out.slice(start + SPREAD_STEP.length, end);
      out = `${out.slice(0, start)}($.push(${items}), $)${out.slice(end + 1)}`;
    }
    if (start === 0) return out;
    from = start - 1;
  }
}

interface QueryLike {
  readonly code: string;
}

/**
 * Installs the fix on the query engine's `Query.prototype.code` getter (idempotent). Returns false when the engine
 * does not have the expected shape (then nothing is changed and the stand-in runs as is).
 */
export function patchStandInQueryEngine(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a dependency of @vercel/cosmosdb-server
  const engine = require('@zeit/cosmosdb-query') as { default?: (query: string) => QueryLike };
  const make = engine.default;
  if (typeof make !== 'function') return false;
  const proto = Object.getPrototypeOf(make('SELECT * FROM c')) as object;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'code');
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the query as `this`
  const original = descriptor?.get;
  if (!descriptor || typeof original !== 'function') return false;
  if ((original as { linearized?: boolean }).linearized) return true;
  const linearized = new WeakMap<object, string>();
  const getter = function (this: QueryLike): string {
    let code = linearized.get(this);
    if (code === undefined) {
      code = linearizeQueryCode(original.call(this) as string);
      linearized.set(this, code);
    }
    return code;
  };
  (getter as { linearized?: boolean }).linearized = true;
  Object.defineProperty(proto, 'code', { ...descriptor, get: getter });
  return true;
}
