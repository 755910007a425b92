/**
 * Opaque continuation tokens. The store's own token (Cosmos' JSON token, or the in-memory fake's position)
 * is wrapped with a checksum bound to the query, so a corrupted, hand-edited or foreign token (one from a
 * different query) is rejected with VALIDATION_FAILED instead of silently restarting or failing with a 500.
 * The checksum guards integrity, not secrecy: a token never grants access to anything the query would not
 * return anyway, because filters (including visibility) are part of the query.
 */
import { createHash } from 'node:crypto';
import { badContinuationToken } from './errors';

const CHECK_LENGTH = 22;

/** A stable fingerprint of a query (text + parameters + where it runs). */
export function queryFingerprint(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

function checksum(fingerprint: string, inner: string): string {
  return createHash('sha256').update(fingerprint).update('\n').update(inner).digest('base64url').slice(0, CHECK_LENGTH);
}

export function encodeContinuation(fingerprint: string, inner: string): string {
  return Buffer.from(JSON.stringify({ t: inner, c: checksum(fingerprint, inner) }), 'utf8').toString('base64url');
}

/** The store's token inside `token`; VALIDATION_FAILED when it is not a token we issued for this query. */
export function decodeContinuation(fingerprint: string, token: string): string {
  if (typeof token !== 'string' || token.length === 0 || token.length > 16_384 || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw badContinuationToken();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw badContinuationToken();
  }
  if (parsed === null || typeof parsed !== 'object') throw badContinuationToken();
  const { t, c } = parsed as { t?: unknown; c?: unknown };
  if (typeof t !== 'string' || typeof c !== 'string' || c !== checksum(fingerprint, t)) throw badContinuationToken();
  return t;
}
