/**
 * In-memory stand-ins for the sync engine's ports (unit tests only):
 * - `FakeMailbox` + `FakeMailSource`: a mailbox whose delta behaves like Graph's — per-folder rounds of pages
 *   (snapshot at round start), nextLink / deltaLink, `@removed` (reason `deleted` or `changed` for moves),
 *   repeats across pages, 410 expiry of every issued link, the 5,000 cap of filtered rounds (the omitted
 *   messages are never delivered later: the pessimistic reading of Graph's docs), injected faults (429 with
 *   Retry-After, 503, 500, mailbox errors), request counting and peak concurrency. Messages carry
 *   `messageSizeBytes` (body + attachment sizes, like PidTagMessageSize from the delta's expansion);
 *   `listAttachments` honours `withContent` (file attachments come with their bytes, still one call).
 * - `FakeBlobStore`, `FakeQueue`, `FakeClock`.
 */
import { mulberry32 } from '../../../../dev/m365-simulator/limits';
import type { Clock } from '../../../../shared/domain/ports/clock';
import type { BlobStore, ByteStream, PutBlobOptions, StoredBlob } from '../../../../shared/domain/ports/blob-store';
import type {
  AttachmentInfo,
  DeltaPage,
  DeltaPageRequest,
  GraphMessageLike,
  ListAttachmentsOptions,
  MailSource,
  RemovedEntry,
  ResolvedFolder,
} from '../../../../shared/domain/ports/mail-source';
import { FILTERED_DELTA_CAP, MailSourceError } from '../../../../shared/domain/ports/mail-source';
import type { WorkQueue } from '../../../../shared/domain/ports/work-queue';

export class FakeClock implements Clock {
  private t: number;
  constructor(start = '2025-03-01T08:00:00.000Z') {
    this.t = Date.parse(start);
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A tiny deterministic PRNG (the simulator's mulberry32), so random tests replay from their seed. */
export const rng = mulberry32;

// -----------------------------------------------------------------------------------------------------------
// Mailbox

export interface FakeAttachment extends AttachmentInfo {
  bytes: Uint8Array;
}

/**
 * The fake's PidTagMessageSize: the body's UTF-8 bytes plus every attachment's `size` (Graph's figure also has
 * some header overhead; tests that need another value pass `messageSizeBytes` to `create`).
 */
export function fakeMessageSize(data: GraphMessageLike, attachments: readonly AttachmentInfo[]): number {
  return Buffer.byteLength(data.body?.content ?? '', 'utf8') + attachments.reduce((n, a) => n + a.size, 0);
}

interface StoredMessage {
  data: GraphMessageLike;
  folderId: string;
  /** Mailbox change sequence of the last change. */
  seq: number;
  attachments: FakeAttachment[];
}

export interface FakeFolder {
  id: string;
  path: string;
}

export class FakeMailbox {
  readonly folders = new Map<string, FakeFolder>();
  readonly messages = new Map<string, StoredMessage>();
  /** Ids deleted (for the `@removed` reason). */
  readonly deleted = new Set<string>();
  seq = 0;
  private counter = 0;
  private lastModifiedMs = 0;

  constructor(
    readonly address: string,
    private readonly clock: Clock,
  ) {
    this.addFolder('Inbox');
    this.addFolder('Sent Items');
  }

  private folderCounter = 0;

  addFolder(path: string): string {
    const id = `AAMkFolder-${path.replace(/[^A-Za-z0-9]/g, '')}-${this.folderCounter++}==`;
    this.folders.set(id, { id, path });
    return id;
  }

  folderId(path: string): string {
    for (const f of this.folders.values()) if (f.path.toLowerCase() === path.toLowerCase()) return f.id;
    throw new Error(`no folder ${path}`);
  }

  private nextModified(): string {
    this.lastModifiedMs = Math.max(this.clock.now().getTime(), this.lastModifiedMs + 1);
    return new Date(this.lastModifiedMs).toISOString();
  }

  /** Creates a message; ids look like Graph's (with `/`, `+`, `=`). */
  create(folderPath: string, fields: Partial<GraphMessageLike> = {}, attachments: FakeAttachment[] = []): string {
    this.counter++;
    const id = fields.id ?? `AAkALgAAAAAAHYQDEapmEc2byACqAC/EWg+${this.counter.toString(36)}=`;
    const received =
      fields.receivedDateTime ?? new Date(this.clock.now().getTime() - 1000 * this.counter).toISOString();
    const data: GraphMessageLike = {
      subject: `Message ${this.counter}`,
      from: { emailAddress: { name: `Sender ${this.counter % 7}`, address: `sender${this.counter % 7}@example.com` } },
      toRecipients: [{ emailAddress: { name: 'Me', address: this.address } }],
      ccRecipients: [],
      bccRecipients: [],
      receivedDateTime: received,
      sentDateTime: received,
      isRead: false,
      body: { contentType: 'html', content: `<p>Hello number ${this.counter}</p>` },
      internetMessageId: `<msg-${this.counter}@example.com>`,
      conversationId: `conv-${this.counter}`,
      importance: 'normal',
      categories: [],
      hasAttachments: attachments.some((a) => !a.isInline),
      ...fields,
      id,
    };
    if (fields.messageSizeBytes === undefined) data.messageSizeBytes = fakeMessageSize(data, attachments);
    this.seq++;
    data.changeKey = `ck-${this.seq}`;
    data.lastModifiedDateTime = this.nextModified();
    this.messages.set(id, { data, folderId: this.folderId(folderPath), seq: this.seq, attachments });
    return id;
  }

  private touch(m: StoredMessage): void {
    this.seq++;
    m.seq = this.seq;
    m.data.changeKey = `ck-${this.seq}`;
    m.data.lastModifiedDateTime = this.nextModified();
  }

  update(id: string, patch: Partial<GraphMessageLike>): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    Object.assign(m.data, patch);
    if (patch.body !== undefined && patch.messageSizeBytes === undefined) {
      m.data.messageSizeBytes = fakeMessageSize(m.data, m.attachments);
    }
    this.touch(m);
  }

  move(id: string, folderPath: string): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    m.folderId = this.folderId(folderPath);
    m.data.parentFolderId = m.folderId;
    this.touch(m);
  }

  delete(id: string): void {
    if (!this.messages.delete(id)) throw new Error(`no message ${id}`);
    this.deleted.add(id);
    this.seq++;
  }

  inFolder(folderId: string): StoredMessage[] {
    return [...this.messages.values()].filter((m) => m.folderId === folderId);
  }
}

// -----------------------------------------------------------------------------------------------------------
// Mail source

type CallKind = 'resolveFolders' | 'deltaPage' | 'listAttachments' | 'downloadAttachment' | 'getMimeOfItemAttachment';

interface DeltaToken {
  folderId: string;
  seqAt: number;
  known: Set<string>;
  filterFromMs?: number;
  generation: number;
}

interface Round {
  pages: DeltaPage[];
  generation: number;
}

export interface FakeSourceOptions {
  /** Share of delivered messages repeated on the next page (Graph may repeat items across pages). */
  repeatRate?: number;
  /** Clock advance per request, in ms (to spend a time budget). */
  msPerRequest?: number;
  /** Which messages a capped filtered round returns. */
  capOrder?: 'newest-first' | 'oldest-first';
  seed?: number;
}

/** A fault decides, per call, whether to fail it. Return an error to throw it. */
export type Fault = (kind: CallKind, request: unknown) => Error | undefined;

const BASE = 'https://graph.fake/v1.0';

export class FakeMailSource implements MailSource {
  readonly calls: Record<CallKind, number> = {
    resolveFolders: 0,
    deltaPage: 0,
    listAttachments: 0,
    downloadAttachment: 0,
    getMimeOfItemAttachment: 0,
  };
  inFlight = 0;
  peakInFlight = 0;
  tokenInvalidations = 0;
  readonly faults: Fault[] = [];
  /** Every delta request as received (to check options). */
  readonly deltaRequests: DeltaPageRequest[] = [];
  private generation = 1;
  private tokenCounter = 0;
  private readonly tokens = new Map<string, DeltaToken>();
  private readonly rounds = new Map<string, Round>();
  private readonly random: () => number;

  constructor(
    readonly mailbox: FakeMailbox,
    private readonly clock: FakeClock,
    private readonly options: FakeSourceOptions = {},
  ) {
    this.random = rng(options.seed ?? 1);
  }

  get totalRequests(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  resetCounters(): void {
    for (const k of Object.keys(this.calls) as CallKind[]) this.calls[k] = 0;
    this.peakInFlight = 0;
  }

  /** Every link issued so far answers 410 from now on. */
  expireAllLinks(): void {
    this.generation++;
  }

  /** Fails the next `times` calls of `kind` with `error`. */
  failNext(kind: CallKind, error: () => Error, times = 1): void {
    let left = times;
    this.faults.push((k) => {
      if (k !== kind || left <= 0) return undefined;
      left--;
      return error();
    });
  }

  async invalidateToken(): Promise<void> {
    this.tokenInvalidations++;
    await Promise.resolve();
  }

  private async enter<T>(kind: CallKind, request: unknown, fn: () => T): Promise<T> {
    this.calls[kind]++;
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.options.msPerRequest) this.clock.advance(this.options.msPerRequest);
      for (const fault of this.faults) {
        const error = fault(kind, request);
        if (error) throw error;
      }
      return fn();
    } finally {
      this.inFlight--;
    }
  }

  resolveFolders(mailbox: string, names: readonly string[]): Promise<ResolvedFolder[]> {
    return this.enter('resolveFolders', { mailbox, names }, () =>
      names.map((name) => {
        const folder = [...this.mailbox.folders.values()].find((f) => f.path.toLowerCase() === name.toLowerCase());
        if (!folder) {
          throw new MailSourceError(404, 'ErrorFolderNotFound', `The folder "${name}" was not found.`, {
            folderName: name,
          });
        }
        return { name, id: folder.id, totalItemCount: this.mailbox.inFolder(folder.id).length };
      }),
    );
  }

  deltaPage(request: DeltaPageRequest): Promise<DeltaPage> {
    this.deltaRequests.push(request);
    return this.enter('deltaPage', request, () => {
      if (!request.link)
        return this.startRound(
          request,
          { folderId: request.folderId, seqAt: 0, known: new Set(), generation: this.generation },
          request.syncFrom?.getTime(),
        );
      const url = new URL(request.link);
      const generation = Number(url.searchParams.get('g'));
      if (generation < this.generation) {
        throw new MailSourceError(410, 'SyncStateNotFound', 'The sync state generation is not found.');
      }
      if (url.pathname.endsWith('/next')) {
        const round = this.rounds.get(url.searchParams.get('round') ?? '');
        const page = round?.pages[Number(url.searchParams.get('page'))];
        if (!page) throw new MailSourceError(400, 'BadRequest', 'Unknown nextLink.');
        return structuredClone(page);
      }
      const token = this.tokens.get(url.searchParams.get('t') ?? '');
      if (!token) throw new MailSourceError(410, 'resyncRequired', 'Unknown delta token.');
      if (token.folderId !== request.folderId) throw new MailSourceError(400, 'BadRequest', 'Token of another folder.');
      return this.startRound(request, token, token.filterFromMs);
    });
  }

  private startRound(request: DeltaPageRequest, from: DeltaToken, filterFromMs: number | undefined): DeltaPage {
    const folderId = request.folderId;
    if (!this.mailbox.folders.has(folderId)) {
      throw new MailSourceError(404, 'ErrorItemNotFound', 'The specified folder could not be found in the store.');
    }
    const matches = (m: StoredMessage): boolean =>
      filterFromMs === undefined || Date.parse(m.data.receivedDateTime ?? '') >= filterFromMs;
    const current = this.mailbox.inFolder(folderId).filter(matches);
    const currentIds = new Set(current.map((m) => m.data.id));
    let upserts = current.filter((m) => !from.known.has(m.data.id) || m.seq > from.seqAt);
    const omitted = new Set<string>();
    if (filterFromMs !== undefined && from.seqAt === 0 && upserts.length > FILTERED_DELTA_CAP) {
      const sorted = [...upserts].sort((a, b) =>
        (a.data.receivedDateTime ?? '').localeCompare(b.data.receivedDateTime ?? ''),
      );
      if (this.options.capOrder !== 'oldest-first') sorted.reverse();
      upserts = sorted.slice(0, FILTERED_DELTA_CAP);
      for (const m of sorted.slice(FILTERED_DELTA_CAP)) omitted.add(m.data.id);
    }
    const removed: RemovedEntry[] = [...from.known]
      .filter((id) => !currentIds.has(id))
      .map((id) => ({ id, reason: this.mailbox.deleted.has(id) ? 'deleted' : 'changed' }));

    const known = new Set([...currentIds]); // omitted ones count as synced: Graph never sends them later
    const tokenId = `t${++this.tokenCounter}`;
    this.tokens.set(tokenId, {
      folderId,
      seqAt: this.mailbox.seq,
      known,
      ...(filterFromMs !== undefined ? { filterFromMs } : {}),
      generation: this.generation,
    });

    // Pages: messages (snapshots) then removals, `pageSize` entries each; some messages repeat on the next page.
    type Entry = { kind: 'm'; data: GraphMessageLike } | { kind: 'r'; entry: RemovedEntry };
    const entries: Entry[] = [
      ...upserts.map((m): Entry => ({ kind: 'm', data: structuredClone(m.data) })),
      ...removed.map((entry): Entry => ({ kind: 'r', entry })),
    ];
    const pageSize = Math.max(1, request.pageSize);
    const pages: DeltaPage[] = [];
    for (let i = 0; i < entries.length || pages.length === 0; i += pageSize) {
      const slice = entries.slice(i, i + pageSize);
      const page: DeltaPage = { messages: [], removed: [] };
      for (const e of slice) {
        if (e.kind === 'm') page.messages.push(e.data);
        else page.removed.push(e.entry);
      }
      pages.push(page);
      if (entries.length === 0) break;
    }
    if (this.options.repeatRate) {
      for (let p = 0; p + 1 < pages.length; p++) {
        for (const m of pages[p]!.messages) {
          if (this.random() < this.options.repeatRate) pages[p + 1]!.messages.push(structuredClone(m));
        }
      }
    }
    const roundId = `r${this.tokenCounter}`;
    pages.forEach((page, index) => {
      if (index + 1 < pages.length)
        page.nextLink = `${BASE}/delta/next?round=${roundId}&page=${index + 1}&g=${this.generation}`;
      else page.deltaLink = `${BASE}/delta/token?t=${tokenId}&g=${this.generation}`;
    });
    this.rounds.set(roundId, { pages, generation: this.generation });
    void omitted;
    return structuredClone(pages[0]!);
  }

  /** Every listing is one call; with `withContent`, file attachments carry a copy of their bytes. */
  listAttachments(mailbox: string, messageId: string, options: ListAttachmentsOptions = {}): Promise<AttachmentInfo[]> {
    return this.enter('listAttachments', { mailbox, messageId, options }, () => {
      const m = this.mailbox.messages.get(messageId);
      if (!m) throw new MailSourceError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      return m.attachments.map(({ bytes, content: _content, ...info }): AttachmentInfo => {
        return options.withContent === true && info.kind === 'file'
          ? { ...info, content: Buffer.from(bytes) }
          : { ...info };
      });
    });
  }

  private attachment(messageId: string, attachmentId: string): FakeAttachment {
    const a = this.mailbox.messages.get(messageId)?.attachments.find((x) => x.id === attachmentId);
    if (!a) throw new MailSourceError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return a;
  }

  downloadAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream> {
    return this.enter('downloadAttachment', { mailbox, messageId, attachmentId }, () =>
      chunks(this.attachment(messageId, attachmentId).bytes),
    );
  }

  getMimeOfItemAttachment(mailbox: string, messageId: string, attachmentId: string): Promise<ByteStream> {
    return this.enter('getMimeOfItemAttachment', { mailbox, messageId, attachmentId }, () =>
      chunks(this.attachment(messageId, attachmentId).bytes),
    );
  }
}

async function* chunks(bytes: Uint8Array, size = 64 * 1024): ByteStream {
  for (let i = 0; i < bytes.length; i += size) {
    await Promise.resolve();
    yield bytes.subarray(i, i + size);
  }
}

export const throttled = (retryAfterSeconds?: number): MailSourceError =>
  new MailSourceError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });

// -----------------------------------------------------------------------------------------------------------
// Blob store, queue

export class FakeBlobStore implements BlobStore {
  readonly blobs = new Map<string, { bytes: Buffer; contentType: string | undefined }>();

  async putStream(
    container: string,
    name: string,
    data: ByteStream,
    options: PutBlobOptions = {},
  ): Promise<StoredBlob> {
    const parts: Buffer[] = [];
    for await (const chunk of data) parts.push(Buffer.from(chunk));
    const bytes = Buffer.concat(parts);
    this.blobs.set(`${container}/${name}`, { bytes, contentType: options.contentType });
    return { name, size: bytes.length };
  }

  async putBuffer(container: string, name: string, data: Uint8Array | string, options: PutBlobOptions = {}) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    await Promise.resolve();
    this.blobs.set(`${container}/${name}`, { bytes, contentType: options.contentType });
    return { name, size: bytes.length };
  }

  async getStream(container: string, name: string) {
    await Promise.resolve();
    const blob = this.blobs.get(`${container}/${name}`);
    return blob ? { data: chunks(blob.bytes), size: blob.bytes.length, contentType: blob.contentType } : undefined;
  }
}

export class FakeQueue<T> implements WorkQueue<T> {
  readonly sent: Array<{ message: T; visibilityDelaySeconds?: number }> = [];
  failSends = 0;

  async send(message: T, options: { visibilityDelaySeconds?: number } = {}): Promise<void> {
    await Promise.resolve();
    if (this.failSends > 0) {
      this.failSends--;
      throw new Error('queue down');
    }
    this.sent.push(
      options.visibilityDelaySeconds
        ? { message, visibilityDelaySeconds: options.visibilityDelaySeconds }
        : { message },
    );
  }

  async sendMany(messages: readonly T[]): Promise<void> {
    for (const m of messages) await this.send(m);
  }

  take(): Array<{ message: T; visibilityDelaySeconds?: number }> {
    return this.sent.splice(0, this.sent.length);
  }
}
