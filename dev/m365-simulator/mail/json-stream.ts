/**
 * JSON responses whose `contentBytes` can be many megabytes: the object is serialised with placeholders and
 * the base64 is streamed in between, so a 30 MB attachment never exists as one string.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { base64Chunks } from './content-bytes';

/** Stands in a JSON value for a base64 string produced from byte chunks. */
export class StreamedBase64 {
  constructor(readonly chunks: () => Iterable<Buffer>) {}
}

/** A 200 JSON response whose large `contentBytes` (if any) are streamed. */
export function graphJsonResponse(value: unknown): { status: number; headers?: Record<string, string>; body: unknown } {
  const body = jsonBody(value);
  return body instanceof Readable
    ? {
        status: 200,
        headers: { 'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true' },
        body,
      }
    : { status: 200, body };
}

/** A Readable of the JSON text of `value`, expanding every StreamedBase64 in place; or the value as is when none. */
export function jsonBody(value: unknown): unknown {
  const streams: StreamedBase64[] = [];
  const marker = `__sim_b64_${randomBytes(6).toString('hex')}_`;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof StreamedBase64) {
      streams.push(v);
      return `${marker}${streams.length - 1}__`;
    }
    return v;
  });
  if (streams.length === 0) return value;
  const pieces = text.split(new RegExp(`${marker}(\\d+)__`));
  function* chunks(): Generator<string> {
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i % 2 === 0) {
        yield piece;
      } else {
        const stream = streams[Number(piece)];
        if (stream) yield* base64Chunks(stream.chunks());
      }
    }
  }
  return Readable.from(chunks());
}
