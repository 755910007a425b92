/**
 * Per-folder message delta (`/mailFolders/{id}/messages/delta`).
 *
 * A token is a position, never a snapshot: the folder's change sequence the round started from (`since`),
 * the sequence at the round's start (`r0`), and a cursor (a sequence number while walking the folder's change
 * log, or a receivedDateTime key while enumerating the initial round newest-first). The query options of the
 * first request are encoded in the token; later calls carry no other options.
 *
 * - Initial round: every message in the folder; with `$orderby=receivedDateTime desc` or a
 *   `receivedDateTime` filter they come newest first, capped at 5,000 when filtered; `$top` caps the total.
 * - Later rounds: changed and new messages since the token, and `@removed` entries (`deleted`, or `changed` for
 *   messages moved out of the folder).
 * - A message changed while a round is being walked appears again later in the same round (the log is walked
 *   in sequence order and a change appends a new entry), so clients must apply items idempotently.
 * - Tokens issued before `expireDelta` (control API) answer 410 `SyncStateNotFound` (or the chosen code).
 */
import { Buffer } from 'node:buffer';
import { createHmac, randomBytes } from 'node:crypto';
import { SimHttpError } from '../contract';
import { fromBase64Url, toBase64Url } from './ids';
import { LogKind, type FolderState, type MailboxStore } from './store';

export const DEFAULT_DELTA_PAGE_SIZE = 10;
/** Documented: a delta query with `$filter` returns at most 5,000 messages. */
export const FILTERED_DELTA_LIMIT = 5000;

export interface DeltaOptions {
  select?: string[];
  filter?: { op: 'ge' | 'gt'; ms: number };
  top?: number;
  orderDesc?: boolean;
  changeType?: 'created' | 'updated' | 'deleted';
  /** `$expand=singleValueExtendedProperties($filter=...)`: property ids carried into every page of the round. */
  expandProperties?: string[];
}

/** `since` of the initial round (everything in the folder); later rounds hold a change sequence (≥ 0). */
const INITIAL_ROUND = -1;

interface DeltaState {
  /** Mailbox store instance (a reset invalidates every token). */
  inst: number;
  folder: number;
  /** Token clock at issuance (expiry). */
  clock: number;
  /** 'n' = next page of the current round; 'd' = start of a new round. */
  mode: 'n' | 'd';
  since: number;
  r0: number;
  phase: 'A' | 'B';
  cursorSeq: number;
  cursorMs: number;
  cursorSlot: number;
  emitted: number;
  options: DeltaOptions;
}

export type DeltaItem =
  | { slot: number; removed?: undefined }
  | { slot: number; removed: 'deleted' | 'changed'; folderSlot: number; gen: number };

export interface DeltaPage {
  items: DeltaItem[];
  /** `$skiptoken` for the next page, or undefined when the round is complete. */
  skipToken?: string;
  /** `$deltatoken` for the next round (when the round is complete). */
  deltaToken?: string;
  options: DeltaOptions;
}

const TOKEN_KEY = randomBytes(32);

function sign(payload: Buffer): Buffer {
  return createHmac('sha256', TOKEN_KEY).update(payload).digest().subarray(0, 10);
}

function encodeToken(state: DeltaState): string {
  const o = state.options;
  const compact = [
    1,
    state.inst,
    state.folder,
    state.clock,
    state.mode,
    state.since,
    state.r0,
    state.phase,
    state.cursorSeq,
    state.cursorMs,
    state.cursorSlot,
    state.emitted,
    o.select ?? null,
    o.filter ? [o.filter.op, o.filter.ms] : null,
    o.top ?? null,
    o.orderDesc ? 1 : 0,
    o.changeType ?? null,
    o.expandProperties ?? null,
  ];
  const payload = Buffer.from(JSON.stringify(compact), 'utf8');
  return toBase64Url(Buffer.concat([sign(payload), payload])).replace(/=+$/, '');
}

function decodeToken(token: string): DeltaState | undefined {
  const bytes = fromBase64Url(token);
  if (!bytes || bytes.length < 11) return undefined;
  const mac = bytes.subarray(0, 10);
  const payload = bytes.subarray(10);
  if (!sign(payload).equals(mac)) return undefined;
  try {
    const c = JSON.parse(payload.toString('utf8')) as unknown[];
    if (!Array.isArray(c) || c[0] !== 1) return undefined;
    const options: DeltaOptions = {};
    if (Array.isArray(c[12])) options.select = c[12] as string[];
    if (Array.isArray(c[13])) options.filter = { op: c[13][0] as 'ge' | 'gt', ms: c[13][1] as number };
    if (typeof c[14] === 'number') options.top = c[14];
    if (c[15] === 1) options.orderDesc = true;
    if (typeof c[16] === 'string') options.changeType = c[16] as DeltaOptions['changeType'];
    if (Array.isArray(c[17])) options.expandProperties = c[17] as string[];
    return {
      inst: c[1] as number,
      folder: c[2] as number,
      clock: c[3] as number,
      mode: c[4] as 'n' | 'd',
      since: c[5] as number,
      r0: c[6] as number,
      phase: c[7] as 'A' | 'B',
      cursorSeq: c[8] as number,
      cursorMs: c[9] as number,
      cursorSlot: c[10] as number,
      emitted: c[11] as number,
      options,
    };
  } catch {
    return undefined;
  }
}

/** Signs any small JSON state into an opaque token (folder delta and other paging state). */
export function sealToken(value: unknown): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  return toBase64Url(Buffer.concat([sign(payload), payload])).replace(/=+$/, '');
}

/** The state of a token made by `sealToken`, or undefined when it is not one. */
export function openToken(token: string): unknown {
  const bytes = fromBase64Url(token);
  if (!bytes || bytes.length < 11) return undefined;
  const payload = bytes.subarray(10);
  if (!sign(payload).equals(bytes.subarray(0, 10))) return undefined;
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function expired(folder: FolderState): SimHttpError {
  return new SimHttpError(folder.expiry.status, folder.expiry.code, folder.expiry.message);
}

/** Parses and checks a `$skiptoken` / `$deltatoken` for this mailbox and folder. */
function stateFromToken(mailbox: MailboxStore, folder: FolderState, token: string): DeltaState {
  const state = decodeToken(token);
  if (!state) throw new SimHttpError(400, 'ErrorInvalidUrlQuery', 'The sync state token is invalid.');
  if (state.inst !== mailbox.instance) throw expired(folder);
  if (state.folder !== folder.slot) {
    throw new SimHttpError(400, 'ErrorInvalidUrlQuery', 'The sync state token belongs to another folder.');
  }
  if (state.clock <= folder.expiredAtClock) throw expired(folder);
  const oldestNeeded = state.since === INITIAL_ROUND ? state.r0 : state.since;
  if (oldestNeeded < folder.minValidSeq) throw expired(folder);
  return state;
}

function issue(mailbox: MailboxStore, state: Omit<DeltaState, 'clock' | 'inst'>): string {
  mailbox.tokenClock++;
  return encodeToken({ ...state, clock: mailbox.tokenClock, inst: mailbox.instance });
}

/** First index in a receivedDateTime-desc ordered slot list strictly after the key (ms, slot). */
function positionAfter(mailbox: MailboxStore, sorted: Int32Array, ms: number, slot: number): number {
  const received = mailbox.table.received;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = sorted[mid] ?? 0;
    const r = received[s] ?? 0;
    // "after" in desc order: smaller received, or same received and smaller slot.
    const after = r < ms || (r === ms && s < slot);
    if (after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function passesFilter(mailbox: MailboxStore, slot: number, filter: DeltaOptions['filter']): boolean {
  if (!filter) return true;
  const r = mailbox.table.received[slot] ?? 0;
  return filter.op === 'ge' ? r >= filter.ms : r > filter.ms;
}

/**
 * Computes one delta page. `request` is either a token (from `$skiptoken` / `$deltatoken`) or the options of
 * an initial request.
 */
export function deltaPage(
  mailbox: MailboxStore,
  folder: FolderState,
  request: { token: string } | { options: DeltaOptions },
  pageSize: number,
): DeltaPage {
  let state: Omit<DeltaState, 'clock' | 'inst'>;
  if ('token' in request) {
    const decoded = stateFromToken(mailbox, folder, request.token);
    state = decoded;
    if (decoded.mode === 'd') {
      state = { ...decoded, mode: 'n', r0: mailbox.seq, phase: 'B', cursorSeq: decoded.since, emitted: 0 };
    }
  } else {
    const o = request.options;
    const sortedPhase = !!o.orderDesc || !!o.filter;
    state = {
      folder: folder.slot,
      mode: 'n',
      since: INITIAL_ROUND,
      r0: mailbox.seq,
      phase: sortedPhase ? 'A' : 'B',
      cursorSeq: 0,
      cursorMs: Number.POSITIVE_INFINITY,
      cursorSlot: 0x7fffffff,
      emitted: 0,
      options: o,
    };
  }
  const o = state.options;
  const t = mailbox.table;
  const items: DeltaItem[] = [];
  const initial = state.since === INITIAL_ROUND;
  const cap = initial ? Math.min(o.top ?? Infinity, o.filter ? FILTERED_DELTA_LIMIT : Infinity) : Infinity;

  if (state.phase === 'A') {
    const sorted = mailbox.sortedSlots(folder.slot);
    let i = Number.isFinite(state.cursorMs) ? positionAfter(mailbox, sorted, state.cursorMs, state.cursorSlot) : 0;
    let exhausted = true;
    for (; i < sorted.length; i++) {
      if (items.length >= pageSize || state.emitted >= cap) {
        exhausted = state.emitted >= cap;
        break;
      }
      const slot = sorted[i] ?? 0;
      if (!passesFilter(mailbox, slot, o.filter)) break; // newest first: nothing older passes either
      state.cursorMs = t.received[slot] ?? 0;
      state.cursorSlot = slot;
      if ((t.seq[slot] ?? 0) > state.r0) continue; // changed since the round began: phase B delivers it
      items.push({ slot });
      state.emitted++;
    }
    if (!exhausted && i < sorted.length) return finishPage(mailbox, state, items, false);
    state.phase = 'B';
    state.cursorSeq = state.r0;
  }

  const log = folder.log;
  let i = log.firstAfter(state.cursorSeq);
  for (; i < log.length && items.length < pageSize; i++) {
    const seq = log.seqs[i] ?? 0;
    const slot = log.slots[i] ?? 0;
    const kind = log.kinds[i] ?? 0;
    state.cursorSeq = seq;
    if (kind === LogKind.Present) {
      if (t.folder[slot] !== folder.slot || t.seq[slot] !== seq) continue; // superseded entry
      if (!passesFilter(mailbox, slot, o.filter)) continue;
      if (!initial && o.changeType) {
        const created = (t.enteredSeq[slot] ?? 0) > state.since;
        if (o.changeType === 'deleted' || (o.changeType === 'created') !== created) continue;
      }
      if (initial && state.emitted >= cap && seq <= state.r0) continue;
      items.push({ slot });
      state.emitted++;
    } else {
      if (initial && seq <= state.r0) continue; // nothing to remove for a client that never had it
      if (!initial && o.changeType && o.changeType !== 'deleted') continue;
      items.push({
        slot,
        removed: kind === LogKind.RemovedDeleted ? 'deleted' : 'changed',
        folderSlot: folder.slot,
        gen: log.gens[i] ?? 0,
      });
    }
  }
  return finishPage(mailbox, state, items, i >= log.length);
}

function finishPage(
  mailbox: MailboxStore,
  state: Omit<DeltaState, 'clock' | 'inst'>,
  items: DeltaItem[],
  complete: boolean,
): DeltaPage {
  if (!complete) return { items, skipToken: issue(mailbox, state), options: state.options };
  const next = {
    ...state,
    mode: 'd' as const,
    since: mailbox.seq,
    r0: 0,
    phase: 'B' as const,
    cursorSeq: 0,
    emitted: 0,
  };
  return { items, deltaToken: issue(mailbox, next), options: state.options };
}
