/**
 * The mail store: per mailbox, folders and messages kept as compact columns (typed arrays), with per-folder
 * change logs for delta. A message is a slot in those columns: folder, receivedDateTime, generation index and
 * kind, change sequence number, version (changeKey), move generation (REST id) and read/flag bits. Content is
 * generated on demand from the mailbox seed (generator.ts); only messages given explicitly (sendMail, control
 * API) or edited keep a small override object.
 */
import type { SimUser } from '../contract';
import {
  GenKind,
  generateMessage,
  htmlToText,
  textToHtml,
  type GeneratorContext,
  type Importance,
  type MessageBody,
  type MessageContent,
  type Person,
} from './generator';
import {
  changeKey,
  conversationId,
  conversationIndex,
  decodeMessageId,
  folderId as encodeFolderId,
  mailboxKeyFor,
  messageImmutableId,
  messageRestId,
  type MailboxKey,
} from './ids';
import { Rng, hash32, hashString } from './prng';

export type WellKnownName =
  | 'msgfolderroot'
  | 'inbox'
  | 'sentitems'
  | 'drafts'
  | 'deleteditems'
  | 'archive'
  | 'junkemail'
  | 'outbox'
  | 'conversationhistory'
  | 'clutter';

interface WellKnownFolder {
  name: WellKnownName;
  displayName: string;
  code: number;
  hidden: boolean;
}

export const WELL_KNOWN_FOLDERS: readonly WellKnownFolder[] = [
  { name: 'msgfolderroot', displayName: 'Top of Information Store', code: 0x08, hidden: false },
  { name: 'archive', displayName: 'Archive', code: 0x5d, hidden: false },
  { name: 'clutter', displayName: 'Clutter', code: 0x1e, hidden: true },
  { name: 'conversationhistory', displayName: 'Conversation History', code: 0x15, hidden: false },
  { name: 'deleteditems', displayName: 'Deleted Items', code: 0x0a, hidden: false },
  { name: 'drafts', displayName: 'Drafts', code: 0x0f, hidden: false },
  { name: 'inbox', displayName: 'Inbox', code: 0x0c, hidden: false },
  { name: 'junkemail', displayName: 'Junk Email', code: 0x19, hidden: false },
  { name: 'outbox', displayName: 'Outbox', code: 0x0b, hidden: false },
  { name: 'sentitems', displayName: 'Sent Items', code: 0x09, hidden: false },
];

/** Change log entry kinds (numbers: they live in a Uint8Array). */
export const LogKind = { Present: 0, RemovedDeleted: 1, RemovedMoved: 2 } as const;
export type LogKind = (typeof LogKind)[keyof typeof LogKind];

/** Append-only per-folder change log (seq-ordered), compacted when mostly stale. */
export class ChangeLog {
  seqs = new Int32Array(64);
  slots = new Int32Array(64);
  kinds = new Uint8Array(64);
  /** Move generation of the message when it left the folder (its REST id there). */
  gens = new Int32Array(64);
  length = 0;
  removals = 0;

  append(seq: number, slot: number, kind: number, gen: number): void {
    if (this.length === this.seqs.length) this.grow(this.length * 2);
    this.seqs[this.length] = seq;
    this.slots[this.length] = slot;
    this.kinds[this.length] = kind;
    this.gens[this.length] = gen;
    this.length++;
    if (kind !== LogKind.Present) this.removals++;
  }

  private grow(capacity: number): void {
    const resize = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(a.subarray(0, this.length));
      return next;
    };
    this.seqs = resize(this.seqs, (n) => new Int32Array(n));
    this.slots = resize(this.slots, (n) => new Int32Array(n));
    this.kinds = resize(this.kinds, (n) => new Uint8Array(n));
    this.gens = resize(this.gens, (n) => new Int32Array(n));
  }

  /** Index of the first entry with seq > `seq`. */
  firstAfter(seq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.seqs[mid] ?? 0) > seq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Drops entries `keep` rejects; returns how many were dropped. */
  compact(keep: (index: number) => boolean): number {
    let w = 0;
    let removals = 0;
    for (let r = 0; r < this.length; r++) {
      if (!keep(r)) continue;
      this.seqs[w] = this.seqs[r] ?? 0;
      this.slots[w] = this.slots[r] ?? 0;
      this.kinds[w] = this.kinds[r] ?? 0;
      this.gens[w] = this.gens[r] ?? 0;
      if (this.kinds[w] !== LogKind.Present) removals++;
      w++;
    }
    const dropped = this.length - w;
    this.length = w;
    this.removals = removals;
    return dropped;
  }

  memoryBytes(): number {
    return this.seqs.byteLength + this.slots.byteLength + this.kinds.byteLength + this.gens.byteLength;
  }
}

export interface FolderState {
  slot: number;
  id: string;
  displayName: string;
  /** -1 for the root (`msgfolderroot`). */
  parentSlot: number;
  wellKnownName: WellKnownName | undefined;
  isHidden: boolean;
  children: number[];
  total: number;
  unread: number;
  log: ChangeLog;
  /** Delta tokens issued at or before this token clock value are expired (410). */
  expiredAtClock: number;
  expiry: { code: string; status: number; message: string };
  /** Tokens older than this seq can no longer be served (change log compaction). */
  minValidSeq: number;
  /** Bumped on every membership or receivedDateTime change (sorted index cache key). */
  membershipVersion: number;
  sorted: { version: number; slots: Int32Array } | undefined;
  /** Folder change sequence when the folder (or its counts) last changed: folder delta. */
  changedSeq: number;
}

/** Per-message flag bits. */
const FLAG_READ = 1;
const FLAG_STATUS_SHIFT = 1;
const FLAG_STATUS_MASK = 0b110;

export type FlagStatus = 'notFlagged' | 'flagged' | 'complete';
const FLAG_STATUSES: readonly FlagStatus[] = ['notFlagged', 'flagged', 'complete'];

/** Edits layered over a message's generated or explicit content. */
export interface MessagePatch {
  subject?: string;
  importance?: Importance;
  categories?: string[];
  inferenceClassification?: 'focused' | 'other';
  body?: { contentType: 'html' | 'text'; content: string };
  flag?: {
    startDateTime?: { dateTime: string; timeZone: string } | null;
    dueDateTime?: { dateTime: string; timeZone: string } | null;
    completedDateTime?: { dateTime: string; timeZone: string } | null;
  };
}

interface MessageOverride {
  /** Explicit content (messages sent or delivered with given fields) replaces generation. */
  content?: MessageContent;
  /** Generation seed when it differs from the mailbox seed (control API deliveries with `seed`). */
  genSeed?: number;
  patch?: MessagePatch;
  createdMs?: number;
}

/** Compact column store of a mailbox's messages. */
class MessageTable {
  capacity: number;
  count = 0;
  folder: Int32Array;
  received: Float64Array;
  modified: Float64Array;
  genIndex: Int32Array;
  genKind: Uint8Array;
  seq: Int32Array;
  enteredSeq: Int32Array;
  version: Int32Array;
  moveGen: Int32Array;
  flags: Uint8Array;

  constructor(capacity = 256) {
    this.capacity = capacity;
    this.folder = new Int32Array(capacity);
    this.received = new Float64Array(capacity);
    this.modified = new Float64Array(capacity);
    this.genIndex = new Int32Array(capacity);
    this.genKind = new Uint8Array(capacity);
    this.seq = new Int32Array(capacity);
    this.enteredSeq = new Int32Array(capacity);
    this.version = new Int32Array(capacity);
    this.moveGen = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  reserve(extra: number): void {
    const needed = this.count + extra;
    if (needed <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(a.subarray(0, this.count));
      return next;
    };
    this.folder = grow(this.folder, (n) => new Int32Array(n));
    this.received = grow(this.received, (n) => new Float64Array(n));
    this.modified = grow(this.modified, (n) => new Float64Array(n));
    this.genIndex = grow(this.genIndex, (n) => new Int32Array(n));
    this.genKind = grow(this.genKind, (n) => new Uint8Array(n));
    this.seq = grow(this.seq, (n) => new Int32Array(n));
    this.enteredSeq = grow(this.enteredSeq, (n) => new Int32Array(n));
    this.version = grow(this.version, (n) => new Int32Array(n));
    this.moveGen = grow(this.moveGen, (n) => new Int32Array(n));
    this.flags = grow(this.flags, (n) => new Uint8Array(n));
    this.capacity = capacity;
  }

  memoryBytes(): number {
    return this.capacity * (4 * 7 + 8 * 2 + 1 * 2);
  }
}

export type ChangeType = 'created' | 'updated' | 'deleted';

/** Emitted for every message change (subscriptions listen to these). */
export interface MailChange {
  mailbox: MailboxStore;
  slot: number;
  changeType: ChangeType;
  /** The folder the change happened in. */
  folderSlot: number;
}

export type MailChangeListener = (change: MailChange) => void;

export interface NewMessage {
  folderSlot: number;
  receivedMs: number;
  /** Explicit content; otherwise generated from the mailbox seed (or `genSeed`). */
  content?: MessageContent;
  genSeed?: number;
  genKind?: GenKind;
  isRead?: boolean;
  patch?: MessagePatch;
  createdMs?: number;
}

export type MessageLookup = { ok: true; slot: number } | { ok: false; reason: 'malformed' | 'notFound' };

const DAY_MS = 86_400_000;
/** Alias: global lookups are slow inside VM contexts (Jest); used per seeded message. */
const { floor } = Math;

let instanceCounter = 0;

export class MailboxStore {
  readonly key: MailboxKey;
  readonly instance: number;
  readonly owner: Person;
  readonly table = new MessageTable();
  readonly folders: FolderState[] = [];
  private readonly folderIds = new Map<string, number>();
  private readonly overrides = new Map<number, MessageOverride>();
  /** Generation index → slot (for thread parents' kinds). */
  private genToSlot = new Int32Array(256);
  private genCount = 0;
  private membershipVersion = 0;
  private sortedAll: { version: number; slots: Int32Array } | undefined;
  /** Last change sequence number of the mailbox (monotonic). */
  seq = 0;
  /** Incremented for every delta token issued. */
  tokenClock = 0;
  /** Last folder change sequence (folder creation or count changes), for folder delta. */
  folderSeq = 0;
  seed: number;
  attachmentRate = 0.1;
  seeded = false;
  readonly generator: GeneratorContext;

  constructor(
    readonly user: SimUser,
    private readonly now: () => Date,
    private readonly emit: MailChangeListener,
  ) {
    this.key = mailboxKeyFor(user.id);
    this.instance = hash32(++instanceCounter, Date.now() & 0x7fffffff, hashString(user.id));
    this.owner = { name: user.displayName, address: user.mail || user.userPrincipalName };
    this.seed = hashString(user.id);
    this.generator = {
      seed: this.seed,
      owner: this.owner,
      attachmentRate: this.attachmentRate,
      kindOf: (index) => {
        const slot = index < this.genCount ? this.genToSlot[index] : undefined;
        return slot === undefined ? GenKind.Incoming : (this.table.genKind[slot] ?? 0);
      },
    };
    this.createWellKnownFolders();
  }

  /* ------------------------------------------------------------------ folders */

  private createWellKnownFolders(): void {
    const root = WELL_KNOWN_FOLDERS[0];
    if (!root) throw new Error('no root folder');
    this.addFolder(root.displayName, -1, root.name, root.code, false);
    for (const wk of WELL_KNOWN_FOLDERS.slice(1)) this.addFolder(wk.displayName, 0, wk.name, wk.code, wk.hidden);
  }

  private addFolder(
    displayName: string,
    parentSlot: number,
    wellKnown?: WellKnownName,
    code?: number,
    hidden = false,
  ): FolderState {
    const slot = this.folders.length;
    const folder: FolderState = {
      slot,
      id: encodeFolderId(this.key, slot, code),
      displayName,
      parentSlot,
      wellKnownName: wellKnown,
      isHidden: hidden,
      children: [],
      total: 0,
      unread: 0,
      log: new ChangeLog(),
      expiredAtClock: -1,
      expiry: { code: 'SyncStateNotFound', status: 410, message: 'The sync state is not found or has expired.' },
      minValidSeq: 0,
      membershipVersion: 0,
      sorted: undefined,
      changedSeq: ++this.folderSeq,
    };
    this.folders.push(folder);
    this.folderIds.set(folder.id, slot);
    const parent = this.folders[parentSlot];
    if (parent) parent.children.push(slot);
    return folder;
  }

  folder(slot: number): FolderState {
    const folder = this.folders[slot];
    if (!folder) throw new Error(`no folder slot ${slot}`);
    return folder;
  }

  wellKnown(name: WellKnownName): FolderState {
    const folder = this.folders.find((f) => f.wellKnownName === name);
    if (!folder) throw new Error(`no well-known folder ${name}`);
    return folder;
  }

  /** By id or well-known name (case-insensitive), like Graph's `/mailFolders/{id}`. */
  findFolder(idOrName: string): FolderState | undefined {
    const slot = this.folderIds.get(idOrName);
    if (slot !== undefined) return this.folders[slot];
    const lower = idOrName.toLowerCase();
    return this.folders.find((f) => f.wellKnownName === lower);
  }

  /** Path of display names from the root (`Inbox/Projects`). */
  folderPath(slot: number): string {
    const names: string[] = [];
    let current = this.folders[slot];
    while (current && current.parentSlot >= 0) {
      names.unshift(current.displayName);
      current = this.folders[current.parentSlot];
    }
    return names.join('/');
  }

  /**
   * Resolves `Inbox/Projects/2024` (display names, case-insensitive; the first segment may also be a well-known
   * name like `sentitems`), creating missing folders when `create` is set.
   */
  resolveFolderPath(path: string, create: boolean): FolderState | undefined {
    const byId = this.folderIds.get(path);
    if (byId !== undefined) return this.folders[byId];
    const segments = path
      .split('/')
      .map((s) => s.trim())
      .filter(Boolean);
    let current = this.wellKnown('msgfolderroot');
    for (const [i, segment] of segments.entries()) {
      const lower = segment.toLowerCase();
      let next = current.children
        .map((c) => this.folder(c))
        .find((f) => f.displayName.toLowerCase() === lower || (i === 0 && f.wellKnownName === lower));
      if (!next) {
        if (!create) return undefined;
        next = this.addFolder(segment, current.slot);
        this.membershipVersion++;
      }
      current = next;
    }
    return current;
  }

  /* ------------------------------------------------------------------ seeding */

  /** Creates the seed's folders and generated messages (once per mailbox). */
  seedMailbox(spec: {
    seed: number;
    folders: Record<string, number>;
    attachmentRate?: number;
    since?: string;
  }): boolean {
    if (this.seeded) return false;
    this.seeded = true;
    this.seed = spec.seed >>> 0;
    this.attachmentRate = spec.attachmentRate ?? 0.1;
    this.generator.seed = this.seed;
    this.generator.attachmentRate = this.attachmentRate;
    const nowMs = this.now().getTime();
    const sinceMs = spec.since ? Date.parse(spec.since) : nowMs - 365 * DAY_MS;
    const span = Math.max(1, nowMs - (Number.isFinite(sinceMs) ? sinceMs : nowMs - 365 * DAY_MS));
    const start = nowMs - span;
    for (const [path, count] of Object.entries(spec.folders)) {
      const folder = this.resolveFolderPath(path, true);
      if (!folder || count <= 0) continue;
      const kind = genKindForFolder(folder);
      this.table.reserve(count);
      for (let k = 0; k < count; k++) {
        const rng = new Rng(this.seed, this.genCount, 0x73656564);
        const receivedMs = floor(start + ((k + rng.next()) / count) * span);
        const isRead =
          kind === GenKind.Sent || kind === GenKind.Draft ? true : rng.chance(kind === GenKind.Junk ? 0.2 : 0.7);
        const slot = this.insert({ folderSlot: folder.slot, receivedMs, genKind: kind, isRead }, false);
        const roll = rng.next();
        if (roll < 0.05) this.setFlagBits(slot, 'flagged');
        else if (roll < 0.08) this.setFlagBits(slot, 'complete');
      }
    }
    return true;
  }

  /* ------------------------------------------------------------------ messages */

  private nextSeq(): number {
    this.seq++;
    return this.seq;
  }

  private insert(message: NewMessage, notify: boolean): number {
    const t = this.table;
    t.reserve(1);
    const slot = t.count++;
    const seq = this.nextSeq();
    const explicit = message.content !== undefined;
    t.folder[slot] = message.folderSlot;
    t.received[slot] = message.receivedMs;
    t.modified[slot] = message.createdMs ?? message.receivedMs;
    t.genKind[slot] = message.genKind ?? GenKind.Incoming;
    if (explicit) {
      t.genIndex[slot] = -1;
    } else {
      if (this.genCount === this.genToSlot.length) {
        const next = new Int32Array(this.genToSlot.length * 2);
        next.set(this.genToSlot);
        this.genToSlot = next;
      }
      this.genToSlot[this.genCount] = slot;
      t.genIndex[slot] = this.genCount++;
    }
    t.seq[slot] = seq;
    t.enteredSeq[slot] = seq;
    t.version[slot] = 0;
    t.moveGen[slot] = 0;
    t.flags[slot] = message.isRead ? FLAG_READ : 0;
    if (message.content || message.genSeed !== undefined || message.patch || message.createdMs !== undefined) {
      const override: MessageOverride = {};
      if (message.content) override.content = message.content;
      if (message.genSeed !== undefined) override.genSeed = message.genSeed;
      if (message.patch) override.patch = message.patch;
      if (message.createdMs !== undefined) override.createdMs = message.createdMs;
      this.overrides.set(slot, override);
    }
    const folder = this.folder(message.folderSlot);
    folder.total++;
    if (!message.isRead) folder.unread++;
    folder.log.append(seq, slot, LogKind.Present, 0);
    this.touchMembership(folder);
    if (notify) this.emit({ mailbox: this, slot, changeType: 'created', folderSlot: folder.slot });
    return slot;
  }

  addMessage(message: NewMessage): number {
    return this.insert(message, true);
  }

  private touchMembership(folder: FolderState): void {
    folder.membershipVersion++;
    this.membershipVersion++;
    folder.changedSeq = ++this.folderSeq;
  }

  exists(slot: number): boolean {
    return slot >= 0 && slot < this.table.count && (this.table.folder[slot] ?? -1) >= 0;
  }

  folderOf(slot: number): number {
    return this.table.folder[slot] ?? -1;
  }

  /** Accepts the current REST id or the immutable id (stale REST ids of moved messages are not found). */
  lookupMessage(id: string): MessageLookup {
    const decoded = decodeMessageId(this.key, id);
    if (decoded.kind === 'malformed') return { ok: false, reason: 'malformed' };
    if (decoded.kind === 'foreign') return { ok: false, reason: 'notFound' };
    if (!this.exists(decoded.slot)) return { ok: false, reason: 'notFound' };
    if (decoded.kind === 'rest' && decoded.moveGen !== (this.table.moveGen[decoded.slot] ?? 0) % 65536) {
      return { ok: false, reason: 'notFound' };
    }
    return { ok: true, slot: decoded.slot };
  }

  messageId(slot: number, immutable: boolean): string {
    if (immutable) return messageImmutableId(this.key, slot);
    return messageRestId(this.key, slot, this.folderOf(slot), (this.table.moveGen[slot] ?? 0) % 65536);
  }

  /** The id a message had in `folderSlot` at move generation `gen` (for `@removed` entries). */
  historicalMessageId(slot: number, folderSlot: number, gen: number, immutable: boolean): string {
    if (immutable) return messageImmutableId(this.key, slot);
    return messageRestId(this.key, slot, folderSlot, gen % 65536);
  }

  private override(slot: number): MessageOverride | undefined {
    return this.overrides.get(slot);
  }

  /** The message's content: explicit or generated, with edits applied. */
  content(slot: number): MessageContent {
    const o = this.override(slot);
    const t = this.table;
    let base: MessageContent;
    if (o?.content) {
      base = o.content;
    } else {
      const ctx = o?.genSeed !== undefined ? { ...this.generator, seed: o.genSeed } : this.generator;
      base = generateMessage(ctx, t.genIndex[slot] ?? 0, t.genKind[slot] ?? 0, t.received[slot] ?? 0);
    }
    const patch = o?.patch;
    if (!patch) return base;
    const patched: MessageContent = { ...base };
    if (patch.subject !== undefined) patched.subject = patch.subject;
    if (patch.importance !== undefined) patched.importance = patch.importance;
    if (patch.categories !== undefined) patched.categories = patch.categories;
    if (patch.inferenceClassification !== undefined) patched.inferenceClassification = patch.inferenceClassification;
    const body = patch.body;
    if (body) patched.body = () => bodyFrom(body);
    return patched;
  }

  patchOf(slot: number): MessagePatch | undefined {
    return this.override(slot)?.patch;
  }

  createdMs(slot: number): number {
    return this.override(slot)?.createdMs ?? this.table.received[slot] ?? 0;
  }

  isRead(slot: number): boolean {
    return ((this.table.flags[slot] ?? 0) & FLAG_READ) !== 0;
  }

  flagStatus(slot: number): FlagStatus {
    return FLAG_STATUSES[((this.table.flags[slot] ?? 0) & FLAG_STATUS_MASK) >> FLAG_STATUS_SHIFT] ?? 'notFlagged';
  }

  private setFlagBits(slot: number, status: FlagStatus): void {
    const code = Math.max(0, FLAG_STATUSES.indexOf(status));
    const flags = this.table.flags[slot] ?? 0;
    this.table.flags[slot] = (flags & ~FLAG_STATUS_MASK) | (code << FLAG_STATUS_SHIFT);
  }

  changeKeyOf(slot: number): string {
    return changeKey(this.key, slot, this.table.version[slot] ?? 0);
  }

  conversationIdOf(content: MessageContent): string {
    return conversationId(this.key, content.threadKey);
  }

  conversationIndexOf(slot: number, content: MessageContent): string {
    return conversationIndex(content.threadKey, content.threadDepth, this.table.received[slot] ?? 0);
  }

  /**
   * Applies an edit: read state, flag status, and content patches. Bumps the version (changeKey),
   * lastModifiedDateTime and the change sequence; the message reappears in its folder's next delta round.
   */
  updateMessage(slot: number, update: { isRead?: boolean; flagStatus?: FlagStatus; patch?: MessagePatch }): void {
    const t = this.table;
    const folder = this.folder(this.folderOf(slot));
    if (update.isRead !== undefined) {
      const wasRead = this.isRead(slot);
      if (wasRead !== update.isRead) {
        t.flags[slot] = update.isRead ? (t.flags[slot] ?? 0) | FLAG_READ : (t.flags[slot] ?? 0) & ~FLAG_READ;
        folder.unread += update.isRead ? -1 : 1;
        folder.changedSeq = ++this.folderSeq;
      }
    }
    if (update.flagStatus !== undefined) this.setFlagBits(slot, update.flagStatus);
    if (update.patch && Object.keys(update.patch).length > 0) {
      const o = this.overrides.get(slot) ?? {};
      o.patch = { ...o.patch, ...update.patch };
      this.overrides.set(slot, o);
    }
    this.bump(slot, folder);
    this.emit({ mailbox: this, slot, changeType: 'updated', folderSlot: folder.slot });
  }

  private bump(slot: number, folder: FolderState): void {
    const t = this.table;
    t.version[slot] = (t.version[slot] ?? 0) + 1;
    t.modified[slot] = Math.max(this.now().getTime(), (t.modified[slot] ?? 0) + 1);
    const seq = this.nextSeq();
    t.seq[slot] = seq;
    folder.log.append(seq, slot, LogKind.Present, 0);
    this.maybeCompact(folder);
  }

  /** Moves a message: its REST id changes, its immutable id does not. */
  moveMessage(slot: number, destinationSlot: number): void {
    const t = this.table;
    const from = this.folder(this.folderOf(slot));
    const to = this.folder(destinationSlot);
    if (from.slot === to.slot) return;
    const read = this.isRead(slot);
    from.log.append(this.nextSeq(), slot, LogKind.RemovedMoved, (t.moveGen[slot] ?? 0) % 65536);
    from.total--;
    if (!read) from.unread--;
    this.touchMembership(from);
    this.emit({ mailbox: this, slot, changeType: 'deleted', folderSlot: from.slot });
    t.moveGen[slot] = (t.moveGen[slot] ?? 0) + 1;
    t.folder[slot] = to.slot;
    to.total++;
    if (!read) to.unread++;
    t.version[slot] = (t.version[slot] ?? 0) + 1;
    t.modified[slot] = Math.max(this.now().getTime(), (t.modified[slot] ?? 0) + 1);
    const seq = this.nextSeq();
    t.seq[slot] = seq;
    t.enteredSeq[slot] = seq;
    to.log.append(seq, slot, LogKind.Present, 0);
    this.touchMembership(to);
    this.maybeCompact(from);
    this.maybeCompact(to);
    this.emit({ mailbox: this, slot, changeType: 'created', folderSlot: to.slot });
  }

  /** Hard delete (like `DELETE /messages/{id}`): the message leaves the mailbox. */
  deleteMessage(slot: number): void {
    const t = this.table;
    const from = this.folder(this.folderOf(slot));
    from.log.append(this.nextSeq(), slot, LogKind.RemovedDeleted, (t.moveGen[slot] ?? 0) % 65536);
    from.total--;
    if (!this.isRead(slot)) from.unread--;
    t.folder[slot] = -1;
    this.overrides.delete(slot);
    this.touchMembership(from);
    this.maybeCompact(from);
    this.emit({ mailbox: this, slot, changeType: 'deleted', folderSlot: from.slot });
  }

  /** Keeps a folder's change log proportional to its content plus its recent removals. */
  private maybeCompact(folder: FolderState): void {
    const log = folder.log;
    const live = folder.total + log.removals;
    if (log.length < 1024 || log.length < 2 * live) return;
    const t = this.table;
    log.compact((i) => {
      const kind = log.kinds[i] ?? 0;
      if (kind !== LogKind.Present) return true;
      const slot = log.slots[i] ?? 0;
      return t.folder[slot] === folder.slot && t.seq[slot] === log.seqs[i];
    });
    const maxRemovals = 100_000;
    if (log.removals > maxRemovals) {
      // Forget the oldest removals: tokens from before them can no longer be served (410 on use).
      let toDrop = log.removals - maxRemovals;
      let lastDropped = folder.minValidSeq;
      log.compact((i) => {
        if (toDrop > 0 && (log.kinds[i] ?? 0) !== LogKind.Present) {
          toDrop--;
          lastDropped = log.seqs[i] ?? lastDropped;
          return false;
        }
        return true;
      });
      folder.minValidSeq = lastDropped;
    }
  }

  /** Marks every delta token issued so far for the folder (or all folders) as expired. */
  expireDelta(folderSlot: number | undefined, expiry?: { code?: string; status?: number }): void {
    const targets = folderSlot === undefined ? this.folders : [this.folder(folderSlot)];
    for (const folder of targets) {
      folder.expiredAtClock = this.tokenClock;
      if (expiry?.code) folder.expiry = { ...folder.expiry, code: expiry.code };
      if (expiry?.status) folder.expiry = { ...folder.expiry, status: expiry.status };
    }
  }

  /* ------------------------------------------------------------------ ordering */

  /** Slots of a folder (or the whole mailbox) ordered by receivedDateTime desc (then slot desc); cached. */
  sortedSlots(folderSlot: number | undefined): Int32Array {
    const t = this.table;
    const version = folderSlot === undefined ? this.membershipVersion : this.folder(folderSlot).membershipVersion;
    const cached = folderSlot === undefined ? this.sortedAll : this.folder(folderSlot).sorted;
    if (cached && cached.version === version) return cached.slots;
    const members: number[] = [];
    for (let s = 0; s < t.count; s++) {
      const f = t.folder[s] ?? -1;
      if (f < 0) continue;
      if (folderSlot === undefined ? this.folder(f).isHidden : f !== folderSlot) continue;
      members.push(s);
    }
    const received = t.received;
    members.sort((a, b) => (received[b] ?? 0) - (received[a] ?? 0) || b - a);
    const slots = Int32Array.from(members);
    const entry = { version, slots };
    if (folderSlot === undefined) this.sortedAll = entry;
    else this.folder(folderSlot).sorted = entry;
    return slots;
  }

  /** Rough bytes held for this mailbox's columns and logs (excluding overrides). */
  memoryBytes(): number {
    return (
      this.table.memoryBytes() + this.genToSlot.byteLength + this.folders.reduce((n, f) => n + f.log.memoryBytes(), 0)
    );
  }

  messageCount(): number {
    return this.folders.reduce((n, f) => n + f.total, 0);
  }
}

export function bodyFrom(body: { contentType: 'html' | 'text'; content: string }): MessageBody {
  return body.contentType === 'html'
    ? { html: body.content, text: htmlToText(body.content), primary: 'html' }
    : { html: textToHtml(body.content), text: body.content, primary: 'text' };
}

export function genKindForFolder(folder: FolderState): GenKind {
  switch (folder.wellKnownName) {
    case 'sentitems':
    case 'outbox':
      return GenKind.Sent;
    case 'drafts':
      return GenKind.Draft;
    case 'junkemail':
      return GenKind.Junk;
    default:
      return GenKind.Incoming;
  }
}

/** All mailboxes of the simulator, by user id. */
export class MailStore {
  private readonly mailboxes = new Map<string, MailboxStore>();
  private readonly listeners = new Set<MailChangeListener>();

  constructor(private readonly now: () => Date) {}

  onChange(listener: MailChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit = (change: MailChange): void => {
    for (const listener of this.listeners) listener(change);
  };

  mailbox(user: SimUser): MailboxStore {
    let mailbox = this.mailboxes.get(user.id);
    if (!mailbox) {
      mailbox = new MailboxStore(user, this.now, this.emit);
      this.mailboxes.set(user.id, mailbox);
    }
    return mailbox;
  }

  existing(userId: string): MailboxStore | undefined {
    return this.mailboxes.get(userId);
  }

  /** Finds a mailbox by user id or UPN / mail (case-insensitive) among mailboxes already created. */
  find(idOrAddress: string): MailboxStore | undefined {
    const direct = this.mailboxes.get(idOrAddress);
    if (direct) return direct;
    const lower = idOrAddress.toLowerCase();
    for (const mailbox of this.mailboxes.values()) {
      if (
        mailbox.user.id.toLowerCase() === lower ||
        mailbox.user.userPrincipalName.toLowerCase() === lower ||
        mailbox.user.mail.toLowerCase() === lower
      ) {
        return mailbox;
      }
    }
    return undefined;
  }

  reset(): void {
    this.mailboxes.clear();
  }
}
