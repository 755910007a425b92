/**
 * Stable identifiers and blob names. `node:crypto` is part of Node, not an SDK.
 */
import { createHash } from 'node:crypto';

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The communication's Cosmos id: a hash of (account id, immutable Graph message id). Graph ids are
 * case-sensitive and contain `/` `+` `=`; the hex digest is safe as a Cosmos id and as a blob path segment.
 * Immutable ids survive moves between folders, so a move updates the same document.
 */
export function communicationId(accountId: string, graphMessageId: string): string {
  return sha256Hex(`${accountId}\n${graphMessageId}`).slice(0, 48);
}

/** Letters, digits, `.`, `-`, `_`; other characters become `_`; no leading dots; at most `max` characters. */
export function sanitizeBlobSegment(value: string, max = 120): string {
  const cleaned = value
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, max);
  return cleaned === '' ? 'file' : cleaned;
}

/** Keeps the extension when shortening a file name. */
function sanitizeFileName(fileName: string): string {
  const safe = sanitizeBlobSegment(fileName, 200);
  if (safe.length < 120) return safe;
  const dot = safe.lastIndexOf('.');
  const ext = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : '';
  return safe.slice(0, 120 - ext.length) + ext;
}

/**
 * `{accountId}/{communicationId}/{attachmentKey}/{fileName}`: attachment ids are long base64 strings, so the
 * segment is a short hash of the id (stable, so re-downloads overwrite the same blob).
 */
export function attachmentBlobName(accountId: string, commId: string, attachmentId: string, fileName: string): string {
  return [
    sanitizeBlobSegment(accountId),
    commId,
    sha256Hex(attachmentId).slice(0, 24),
    sanitizeFileName(fileName),
  ].join('/');
}

/** Where a body too large for a Cosmos item goes (same container as attachments). */
export function bodyBlobName(accountId: string, commId: string): string {
  return `${sanitizeBlobSegment(accountId)}/${commId}/body.html`;
}
