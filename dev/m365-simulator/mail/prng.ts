/**
 * Deterministic pseudo-random helpers: everything the mail module generates (content, dates, attachment bytes)
 * derives from a mailbox seed and an index through these functions, so the same seed always gives the same mail.
 */

// Module-level aliases of globals: global lookups are very slow inside VM contexts (Jest runs tests, and the
// in-process simulator, in one), and these functions run millions of times.
const { imul, floor, log, exp, round } = Math;

function mix(h: number, input: number): number {
  let k = imul(input | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * 32-bit integer hash of one to four 32-bit inputs (murmur3-style mixing). Fixed arity on purpose: no rest
 * parameters or for-of in this hot path (they are very slow where the array iterator protector is invalidated,
 * as in Jest's VM contexts).
 */
export function hash32(a: number, b?: number, c?: number, d?: number): number {
  const count = d !== undefined ? 4 : c !== undefined ? 3 : b !== undefined ? 2 : 1;
  let h = 0x9e3779b9 ^ count;
  h = mix(h, a);
  if (b !== undefined) h = mix(h, b);
  if (c !== undefined) h = mix(h, c);
  if (d !== undefined) h = mix(h, d);
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit hash of a string (FNV-1a, then mixed). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = imul(h, 0x01000193);
  }
  return hash32(h);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase());

/** A small, fast deterministic generator (mulberry32) with convenience draws. */
export class Rng {
  private state: number;

  constructor(a: number, b?: number, c?: number, d?: number) {
    this.state = hash32(a, b, c, d);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** Log-uniform integer in [min, max]: many small values, few large ones. */
  logUniform(min: number, max: number): number {
    const lo = log(min);
    const hi = log(max);
    return round(exp(lo + this.next() * (hi - lo)));
  }

  /** `bytes` random bytes as upper-case hex. */
  hex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i += 4) {
      const value = this.nextU32();
      for (let j = 0; j < 4 && i + j < bytes; j++) out += HEX[(value >>> (j * 8)) & 0xff];
    }
    return out;
  }

  bytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i += 4) {
      const value = this.nextU32();
      for (let j = 0; j < 4 && i + j < count; j++) out[i + j] = (value >>> (j * 8)) & 0xff;
    }
    return out;
  }
}

/**
 * Fills `target` with deterministic bytes for block `blockIndex` of a stream identified by `seed`
 * (xorshift128, seeded per block so any block can be produced on its own).
 */
export function fillBlock(target: Buffer, seed: number, blockIndex: number): void {
  let x = hash32(seed, blockIndex, 1) | 1;
  let y = hash32(seed, blockIndex, 2);
  let z = hash32(seed, blockIndex, 3);
  let w = hash32(seed, blockIndex, 4);
  const words = floor(target.length / 4);
  const aligned = target.byteOffset % 4 === 0;
  const scratch = aligned ? target : Buffer.alloc(words * 4);
  const view = new Uint32Array(scratch.buffer, scratch.byteOffset, words);
  for (let i = 0; i < words; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    view[i] = w;
  }
  if (!aligned) scratch.copy(target, 0, 0, words * 4);
  for (let i = words * 4; i < target.length; i++) target[i] = hash32(seed, blockIndex, i) & 0xff;
}
