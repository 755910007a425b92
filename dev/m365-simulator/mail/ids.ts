/**
 * Opaque, case-sensitive ids shaped like Exchange's: base64url (with `-`, `_` and `=` padding) of a binary
 * structure. Nothing is stored per id: an id encodes the message slot plus a checksum, so decoding it gives
 * the slot back in O(1) and a tampered (or re-cased) id fails the checksum.
 *
 * - Message REST id (`AAMkA…`): changes when the message moves folder (it embeds a move generation).
 * - Message immutable id (`AAkAL…`): the same for the message's whole life in the mailbox.
 * - Folder ids: short `AQMkA…` ids for well-known folders, long `AAMkA…` ids for user folders.
 * - Attachment ids: the message id (either form) plus the attachment index.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Rng, hash32 } from './prng';

export interface MailboxKey {
  /** 16 bytes derived from the mailbox's user id. */
  bytes: Buffer;
  /** The same bytes written as a GUID (36 ASCII characters), embedded in long ids like Exchange does. */
  guidAscii: Buffer;
  /** A 32-bit digest of the key for checksums. */
  hash: number;
}

export function mailboxKeyFor(userId: string): MailboxKey {
  const bytes = createHash('sha256').update(`mailbox:${userId.toLowerCase()}`).digest().subarray(0, 16);
  const hex = bytes.toString('hex');
  const guid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return {
    bytes: Buffer.from(bytes),
    guidAscii: Buffer.from(guid, 'ascii'),
    hash: bytes.readUInt32BE(0) ^ bytes.readUInt32BE(12),
  };
}

export function toBase64Url(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Strict decode: only the base64url (or base64) alphabet with optional padding; otherwise undefined. */
export function fromBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9\-_+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 0 ? undefined : bytes;
}

const REST_HEADER = Buffer.from([0x00, 0x03, 0x24, 0x00]);
const REST_MIDDLE = Buffer.from([0x00, 0x46, 0x00, 0x00, 0x00, 0x00, 0x00]);
const IMMUTABLE_HEADER = Buffer.from([
  0x00, 0x09, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x84, 0x03, 0x11, 0xaa, 0x66, 0x11, 0xcd, 0x9b, 0xc8,
  0x00, 0xaa, 0x00, 0x2f, 0x84, 0x5a, 0x0d, 0x00,
]);
const WELL_KNOWN_FOLDER_HEADER = Buffer.from([0x01, 0x03, 0x24, 0x00]);
const USER_FOLDER_MIDDLE = Buffer.from([0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00]);
const ATTACHMENT_MARK = Buffer.from([0x01, 0x12, 0x00, 0x10, 0x00]);
const CONVERSATION_HEADER = Buffer.from([0x00, 0x04, 0x24, 0x00]);

const KIND_REST = 1;
const KIND_IMMUTABLE = 2;
const KIND_FOLDER = 3;
const KIND_ATTACHMENT = 4;

function checksum(key: MailboxKey, kind: number, a: number, b: number, length: number): Buffer {
  return new Rng(key.hash, kind, a, b).bytes(length);
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value & 0xffff);
  return out;
}

const REST_LENGTH = REST_HEADER.length + 36 + REST_MIDDLE.length + 24 + 2 + 2 + 16 + 4 + 2 + 2;
const IMMUTABLE_LENGTH = IMMUTABLE_HEADER.length + 16 + 2 + 16 + 4 + 3;

/** 24 bytes constant per mailbox (Exchange ids carry the store's and folder's GUIDs here). */
function storeSegment(key: MailboxKey): Buffer {
  return checksum(key, 0, 0, 0, 24);
}

function restIdBytes(key: MailboxKey, slot: number, folderSlot: number, moveGen: number): Buffer {
  return Buffer.concat([
    REST_HEADER,
    key.guidAscii,
    REST_MIDDLE,
    storeSegment(key),
    u16(folderSlot),
    Buffer.from([0x07, 0x00]),
    checksum(key, KIND_REST, slot, moveGen, 16),
    u32(slot),
    u16(moveGen),
    Buffer.from([0x00, 0x00]),
  ]);
}

function immutableIdBytes(key: MailboxKey, slot: number): Buffer {
  return Buffer.concat([
    IMMUTABLE_HEADER,
    key.bytes,
    Buffer.from([0x01, 0x00]),
    checksum(key, KIND_IMMUTABLE, slot, 0, 16),
    u32(slot),
    Buffer.from([0x00, 0x00, 0x0a]),
  ]);
}

/** The REST (default) id: changes whenever the message moves to another folder (`moveGen` increments). */
export function messageRestId(key: MailboxKey, slot: number, folderSlot: number, moveGen: number): string {
  return toBase64Url(restIdBytes(key, slot, folderSlot, moveGen));
}

/** The immutable id: stable for the message's whole life in this mailbox. */
export function messageImmutableId(key: MailboxKey, slot: number): string {
  return toBase64Url(immutableIdBytes(key, slot));
}

export type DecodedMessageId =
  | { kind: 'rest'; slot: number; moveGen: number }
  | { kind: 'immutable'; slot: number }
  /** Well-formed, but not an id of this mailbox (or tampered with). */
  | { kind: 'foreign' }
  | { kind: 'malformed' };

function decodeMessageIdBytes(key: MailboxKey, bytes: Buffer): DecodedMessageId {
  if (bytes.length >= REST_LENGTH && bytes.subarray(0, 4).equals(REST_HEADER)) {
    if (!bytes.subarray(4, 40).equals(key.guidAscii)) return { kind: 'foreign' };
    const tail = REST_LENGTH - 8;
    const slot = bytes.readUInt32BE(tail);
    const moveGen = bytes.readUInt16BE(tail + 4);
    const sum = bytes.subarray(tail - 16, tail);
    if (!sum.equals(checksum(key, KIND_REST, slot, moveGen, 16))) return { kind: 'foreign' };
    return { kind: 'rest', slot, moveGen };
  }
  if (bytes.length >= IMMUTABLE_LENGTH && bytes.subarray(0, IMMUTABLE_HEADER.length).equals(IMMUTABLE_HEADER)) {
    const keyStart = IMMUTABLE_HEADER.length;
    if (!bytes.subarray(keyStart, keyStart + 16).equals(key.bytes)) return { kind: 'foreign' };
    const sumStart = keyStart + 18;
    const slot = bytes.readUInt32BE(sumStart + 16);
    if (!bytes.subarray(sumStart, sumStart + 16).equals(checksum(key, KIND_IMMUTABLE, slot, 0, 16))) {
      return { kind: 'foreign' };
    }
    return { kind: 'immutable', slot };
  }
  return { kind: 'malformed' };
}

export function decodeMessageId(key: MailboxKey, id: string): DecodedMessageId {
  const bytes = fromBase64Url(id);
  if (!bytes) return { kind: 'malformed' };
  const decoded = decodeMessageIdBytes(key, bytes);
  const expectedLength = decoded.kind === 'rest' ? REST_LENGTH : decoded.kind === 'immutable' ? IMMUTABLE_LENGTH : -1;
  if (expectedLength !== -1 && bytes.length !== expectedLength) return { kind: 'malformed' };
  return decoded;
}

/** Attachment ids embed the message id they were produced from (REST or immutable) and the attachment index. */
export function attachmentId(messageId: string, key: MailboxKey, slot: number, index: number): string {
  const messageBytes = fromBase64Url(messageId);
  if (!messageBytes) throw new Error('attachmentId: bad message id');
  return toBase64Url(
    Buffer.concat([messageBytes, ATTACHMENT_MARK, u16(index), checksum(key, KIND_ATTACHMENT, slot, index, 8)]),
  );
}

export type DecodedAttachmentId =
  | { kind: 'ok'; message: DecodedMessageId & { slot: number }; index: number }
  | { kind: 'foreign' }
  | { kind: 'malformed' };

export function decodeAttachmentId(key: MailboxKey, id: string): DecodedAttachmentId {
  const bytes = fromBase64Url(id);
  if (!bytes) return { kind: 'malformed' };
  for (const length of [REST_LENGTH, IMMUTABLE_LENGTH]) {
    if (bytes.length !== length + ATTACHMENT_MARK.length + 2 + 8) continue;
    if (!bytes.subarray(length, length + ATTACHMENT_MARK.length).equals(ATTACHMENT_MARK)) continue;
    const message = decodeMessageIdBytes(key, bytes.subarray(0, length));
    if (message.kind === 'malformed') return { kind: 'malformed' };
    if (message.kind === 'foreign') return { kind: 'foreign' };
    const indexAt = length + ATTACHMENT_MARK.length;
    const index = bytes.readUInt16BE(indexAt);
    if (!bytes.subarray(indexAt + 2).equals(checksum(key, KIND_ATTACHMENT, message.slot, index, 8))) {
      return { kind: 'foreign' };
    }
    return { kind: 'ok', message, index };
  }
  return { kind: 'malformed' };
}

/** Short ids for well-known folders (like Graph's `AQMkADYAAAIBDAAAAA==`), long ones for user folders. */
export function folderId(key: MailboxKey, folderSlot: number, wellKnownCode: number | undefined): string {
  if (wellKnownCode !== undefined) {
    return toBase64Url(
      Buffer.concat([
        WELL_KNOWN_FOLDER_HEADER,
        key.bytes.subarray(0, 4),
        Buffer.from([0x00, 0x00, 0x02, 0x01, wellKnownCode, 0x00, 0x00, 0x00]),
      ]),
    );
  }
  return toBase64Url(
    Buffer.concat([
      REST_HEADER,
      key.guidAscii,
      USER_FOLDER_MIDDLE,
      checksum(key, KIND_FOLDER, folderSlot, 0, 16),
      Buffer.from([0x01, 0x00]),
      u32(folderSlot),
      Buffer.from([0x00, 0x00]),
    ]),
  );
}

/** Graph conversation ids (`AAQkA…`), one per thread root within a mailbox. */
export function conversationId(key: MailboxKey, threadKey: string): string {
  const digest = createHash('sha256').update(threadKey).digest().subarray(0, 16);
  return toBase64Url(Buffer.concat([CONVERSATION_HEADER, key.guidAscii, Buffer.from([0x00, 0x10, 0x00]), digest]));
}

/** Exchange-style change key (standard base64) that changes with every version of an item. */
export function changeKey(key: MailboxKey, slot: number, version: number): string {
  return Buffer.concat([
    Buffer.from([0x09, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00]),
    key.bytes.subarray(0, 12),
    u32(hash32(slot, version)),
  ]).toString('base64');
}

/** Outlook conversation index (22-byte header, plus 5 bytes per reply level), base64. */
export function conversationIndex(threadKey: string, depth: number, timeMs: number): string {
  const root = createHash('sha256').update(threadKey).digest();
  const parts: Buffer[] = [Buffer.from([0x01]), root.subarray(0, 5), root.subarray(5, 21)];
  for (let level = 0; level < depth; level++)
    parts.push(u32(hash32(level, Math.floor(timeMs / 1000))).subarray(0, 4), Buffer.from([level & 0xff]));
  return Buffer.concat(parts).toString('base64');
}
