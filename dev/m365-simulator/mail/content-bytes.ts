/**
 * Attachment bytes generated on demand, block by block, so a 30 MB attachment is streamed without ever being
 * held in memory. Also the base64 encoders used for JSON `contentBytes` and MIME parts.
 */
import { Buffer } from 'node:buffer';
import { Rng, fillBlock } from './prng';
import { FILE_KINDS, WORDS } from './words';

export const BLOCK_SIZE = 64 * 1024;

const ASCII_WORDS = WORDS.filter((w) => /^[\x20-\x7e]+$/.test(w));

function isTextType(contentType: string | null): boolean {
  return !!contentType && (contentType.startsWith('text/') || contentType === 'application/json');
}

function magicFor(contentType: string | null): Buffer {
  const kind = FILE_KINDS.find((k) => k.contentType === contentType);
  return Buffer.from(kind?.magic ?? '', 'latin1');
}

function textBlock(seed: number, block: number, length: number, csv: boolean): Buffer {
  const rng = new Rng(seed, block, 0x747874);
  const parts: string[] = [];
  let size = 0;
  let row = block * 1000;
  while (size < length) {
    const line = csv
      ? `${row++},${rng.pick(ASCII_WORDS)},${rng.int(0, 99999)},${rng.pick(ASCII_WORDS)} ${rng.pick(ASCII_WORDS)}\r\n`
      : `${Array.from({ length: rng.int(5, 14) }, () => rng.pick(ASCII_WORDS)).join(' ')}.\r\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('').slice(0, length), 'latin1');
}

/** Block `block` of a generated file of `length` bytes. */
export function generatedBlock(seed: number, contentType: string | null, length: number, block: number): Buffer {
  const start = block * BLOCK_SIZE;
  const size = Math.max(0, Math.min(BLOCK_SIZE, length - start));
  let out: Buffer;
  if (isTextType(contentType)) {
    out = textBlock(seed, block, size, contentType === 'text/csv');
  } else {
    out = Buffer.alloc(size);
    fillBlock(out, seed, block);
  }
  if (block === 0) magicFor(contentType).copy(out, 0, 0, Math.min(size, BLOCK_SIZE));
  return out;
}

/** The generated file as a sequence of blocks (lazily). */
export function* generatedBlocks(seed: number, contentType: string | null, length: number): Generator<Buffer> {
  const blocks = Math.ceil(length / BLOCK_SIZE);
  for (let b = 0; b < blocks; b++) yield generatedBlock(seed, contentType, length, b);
}

export function generatedBytes(seed: number, contentType: string | null, length: number): Buffer {
  return Buffer.concat([...generatedBlocks(seed, contentType, length)]);
}

/** Base64 of a chunk sequence without line breaks (chunks may have any length). */
export function* base64Chunks(chunks: Iterable<Buffer>): Generator<string> {
  let carry = Buffer.alloc(0);
  for (const chunk of chunks) {
    const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const usable = data.length - (data.length % 3);
    if (usable > 0) yield data.subarray(0, usable).toString('base64');
    carry = Buffer.from(data.subarray(usable));
  }
  if (carry.length) yield carry.toString('base64');
}

/** Base64 with CRLF every 76 characters (RFC 2045), for MIME parts. */
export function* base64Lines(chunks: Iterable<Buffer>): Generator<string> {
  const lineBytes = 57;
  let carry = Buffer.alloc(0);
  for (const chunk of chunks) {
    const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const usable = data.length - (data.length % lineBytes);
    if (usable > 0) {
      const lines: string[] = [];
      for (let i = 0; i < usable; i += lineBytes) lines.push(data.subarray(i, i + lineBytes).toString('base64'));
      yield `${lines.join('\r\n')}\r\n`;
    }
    carry = Buffer.from(data.subarray(usable));
  }
  if (carry.length) yield `${carry.toString('base64')}\r\n`;
}

/** Base64-encoded length of `n` bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}
