/**
 * GraphMailSource against the M365 simulator (in-process, HTTPS, real Graph JS client and fetch): folders,
 * delta walks with ImmutableId and page-size preferences, threading headers, attachments streamed, and every
 * failure mapped to a MailSourceError without a single retry inside the adapter.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import {
  GraphMailSource,
  LINK_NOT_ALLOWED,
  createGraphMailSource,
  type MailFolderInfo,
} from '../../../../shared/adapters/graph';
import type { AccessToken, GetTokenOptions, TokenProvider } from '../../../../shared/domain/identity/ports';
import { TokenRequestError, classifyTokenError } from '../../../../shared/domain/identity/token-errors';
import { systemClock } from '../../../../shared/domain/ports/clock';
import {
  MESSAGE_SELECT,
  MailSourceError,
  classifyMailSourceError,
  isAuthFailure,
  isDeltaExpired,
  isFolderMissing,
  isMailboxError,
  isThrottled,
  isUnauthorized,
  remedyFor,
  type DeltaPage,
  type GraphMessageLike,
} from '../../../../shared/domain/ports/mail-source';
import type { ServicePrincipalRecord } from '../../../../shared/domain/records';
import { ThrottleGovernor } from '../../../../shared/domain/sync/governor';
import { mapMessage } from '../../../../shared/domain/sync/message-mapping';
import { testStack } from '../../../support/stack';
import { CountingTokenSource, drain, recordGraphRequests, startGraphKit, type GraphKit } from './graph-test-kit';

const MB = 1024 * 1024;
const INBOX_COUNT = 1000;

let kit: GraphKit;

beforeAll(async () => {
  kit = await startGraphKit({
    Inbox: INBOX_COUNT,
    'Inbox/Orders': 5,
    'Inbox/Orders/2024': 2,
    'Sent Items': 4,
    Projects: 3,
    "O'Brien & Co": 1,
  });
});

afterAll(async () => {
  await kit?.stop();
});

async function failure(promise: Promise<unknown>): Promise<MailSourceError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof MailSourceError)) throw new Error(`expected a MailSourceError, got ${String(error)}`);
  return error;
}

/** Walks a delta round to its deltaLink; returns the pages. */
async function walk(source: GraphMailSource, folderId: string, pageSize: number, link?: string): Promise<DeltaPage[]> {
  const pages: DeltaPage[] = [];
  let next = link;
  for (;;) {
    const page = await source.deltaPage({
      mailbox: kit.mailbox,
      folderId,
      pageSize,
      select: MESSAGE_SELECT,
      ...(next ? { link: next } : {}),
    });
    pages.push(page);
    if (page.deltaLink) return pages;
    next = page.nextLink;
  }
}

interface SimFolder {
  id: string;
  path: string;
  totalItemCount: number;
}

describe('GraphMailSource: folders', () => {
  it('resolves well-known names, nested paths (case-insensitively) and names needing OData escaping', async () => {
    const simFolders = await kit.control<SimFolder[]>('GET', `/_sim/mailboxes/${kit.mailbox}/folders`);
    const idOf = (path: string) => simFolders.find((f) => f.path.toLowerCase() === path.toLowerCase())?.id;
    await kit.resetCounters();

    const names = ['Inbox', 'Sent Items', 'inbox/ORDERS', 'Inbox/Orders/2024', 'Projects', "O'Brien & Co"];
    const resolved = await kit.source.resolveFolders(kit.mailbox, names);

    expect(resolved.map((r) => r.name)).toEqual(names);
    expect(resolved.map((r) => r.id)).toEqual([
      idOf('Inbox'),
      idOf('Sent Items'),
      idOf('Inbox/Orders'),
      idOf('Inbox/Orders/2024'),
      idOf('Projects'),
      idOf("O'Brien & Co"),
    ]);
    expect(resolved.map((r) => r.totalItemCount)).toEqual([INBOX_COUNT, 4, 5, 2, 3, 1]);
    // Well-known: one GET each; paths: one childFolders listing per level below the well-known folder.
    expect((await kit.counters()).totalGraphRequests).toBe(1 + 1 + 1 + 2 + 1 + 1);
  });

  it('reports an unknown folder or path as ErrorFolderNotFound naming it', async () => {
    for (const name of ['Inbox/Nope', 'Nope', 'Inbox/Orders/1999', '  /  ']) {
      const error = await failure(kit.source.resolveFolders(kit.mailbox, ['Inbox', name]));
      expect(error).toMatchObject({ code: 'ErrorFolderNotFound', folderName: name, status: 404 });
      expect(isFolderMissing(error)).toBe(true);
    }
  });

  it('lists every folder with its path and counts (for the API)', async () => {
    const folders: MailFolderInfo[] = await kit.source.listFolders(kit.mailbox);
    const byPath = new Map(folders.map((f) => [f.path, f]));
    expect(byPath.get('Inbox')).toMatchObject({ totalItemCount: INBOX_COUNT, childFolderCount: 1 });
    expect(byPath.get('Inbox/Orders')).toMatchObject({ totalItemCount: 5, childFolderCount: 1 });
    expect(byPath.get('Inbox/Orders/2024')).toMatchObject({ totalItemCount: 2, childFolderCount: 0 });
    expect(byPath.get("O'Brien & Co")).toMatchObject({ totalItemCount: 1 });
    expect(byPath.get('Sent Items')?.id).toBe((await kit.source.resolveFolders(kit.mailbox, ['Sent Items']))[0]!.id);
    expect(folders.map((f) => f.path)).toEqual([...folders.map((f) => f.path)].sort((a, b) => a.localeCompare(b)));
  });
});

describe('GraphMailSource: delta', () => {
  it('walks 1,000 messages at page size 100 with ImmutableId + maxpagesize on every request, links called as is', async () => {
    const [inbox] = await kit.source.resolveFolders(kit.mailbox, ['Inbox']);
    await kit.resetCounters();
    const recorder = recordGraphRequests();
    let pages: DeltaPage[];
    try {
      pages = await walk(kit.source, inbox!.id, 100);
    } finally {
      recorder.restore();
    }
    const ids = new Set(pages.flatMap((p) => p.messages.map((m) => m.id)));
    expect(ids.size).toBe(INBOX_COUNT);
    expect(pages.every((p) => p.messages.length <= 100)).toBe(true);
    expect(pages.at(-1)!.deltaLink).toEqual(expect.stringContaining('/messages/delta?'));

    const deltaRequests = await kit.requestsTo('/messages/delta');
    expect(deltaRequests).toBe(pages.length);
    expect(deltaRequests).toBeLessThanOrEqual(11);
    console.info(
      `[graph adapter] plain delta walk: ${deltaRequests} requests per ${INBOX_COUNT} messages at page size 100`,
    );

    const sent = recorder.requests;
    expect(sent).toHaveLength(pages.length);
    for (const request of sent) {
      expect(request.prefer).toBe('IdType="ImmutableId", odata.maxpagesize=100');
      expect(request.hasBearer).toBe(true);
    }
    const first = new URL(sent[0]!.url);
    expect(first.searchParams.get('$select')).toBe(MESSAGE_SELECT.join(','));
    expect(first.searchParams.get('$expand')).toBe(
      "singleValueExtendedProperties($filter=id eq 'String 0x1042' or id eq 'String 0x1039' or id eq 'Integer 0x0E08')",
    );
    // The message size comes with every message of every page (Graph carries the $expand in its links).
    for (const message of pages.flatMap((p) => p.messages)) {
      expect(Number.isSafeInteger(message.messageSizeBytes)).toBe(true);
      expect(message.messageSizeBytes).toBeGreaterThan(Buffer.byteLength(message.body?.content ?? ''));
      expect(message).not.toHaveProperty('singleValueExtendedProperties');
    }
    // Every later request is exactly the previous page's nextLink.
    expect(sent.slice(1).map((r) => r.url)).toEqual(pages.slice(0, -1).map((p) => p.nextLink));

    // Nothing changed: the deltaLink answers one empty page with a new deltaLink.
    await kit.resetCounters();
    const again = await walk(kit.source, inbox!.id, 100, pages.at(-1)!.deltaLink);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ messages: [], removed: [], deltaLink: expect.any(String) });
    expect(await kit.requestsTo('/messages/delta')).toBe(1);
  });

  it('starts a round at syncFrom with a receivedDateTime filter', async () => {
    const [inbox] = await kit.source.resolveFolders(kit.mailbox, ['Inbox']);
    const all = (await walk(kit.source, inbox!.id, 500)).flatMap((p) => p.messages);
    const dates = all.map((m) => Date.parse(m.receivedDateTime!)).sort((a, b) => a - b);
    const syncFrom = new Date(dates[Math.floor(dates.length * 0.9)]!);
    const recent: GraphMessageLike[] = [];
    let link: string | undefined;
    for (;;) {
      const page = await kit.source.deltaPage({
        mailbox: kit.mailbox,
        folderId: inbox!.id,
        pageSize: 100,
        select: MESSAGE_SELECT,
        syncFrom,
        ...(link ? { link } : {}),
      });
      recent.push(...page.messages);
      if (page.deltaLink) break;
      link = page.nextLink;
    }
    expect(recent.length).toBe(all.filter((m) => Date.parse(m.receivedDateTime!) >= syncFrom.getTime()).length);
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.length).toBeLessThan(all.length);
  });

  it('keeps ImmutableId ids across a move between folders', async () => {
    const [inbox, orders] = await kit.source.resolveFolders(kit.mailbox, ['Inbox', 'Inbox/Orders']);
    const before = await walk(kit.source, inbox!.id, 1000);
    const moved = before[0]!.messages[0]!;
    const ordersBefore = await walk(kit.source, orders!.id, 100);

    const result = await kit.control<{ immutableId: string; restId: string }>(
      'POST',
      `/_sim/mailboxes/${kit.mailbox}/messages/${encodeURIComponent(moved.id)}/move`,
      { destination: 'Inbox/Orders' },
    );
    expect(result.immutableId).toBe(moved.id);

    const inboxChanges = (await walk(kit.source, inbox!.id, 100, before.at(-1)!.deltaLink)).flatMap((p) => p.removed);
    expect(inboxChanges).toEqual([{ id: moved.id, reason: expect.stringMatching(/^(changed|deleted)$/) }]);
    const arrived = (await walk(kit.source, orders!.id, 100, ordersBefore.at(-1)!.deltaLink)).flatMap(
      (p) => p.messages,
    );
    expect(arrived.map((m) => m.id)).toEqual([moved.id]);
    expect(arrived[0]!.subject).toBe(moved.subject);
  });

  it('returns In-Reply-To and References (expanded extended properties) as internetMessageHeaders', async () => {
    const parentId = '<parent-1@example.com>';
    const rootId = '<root-1@example.com>';
    const [threads] = await kit.source.resolveFolders(kit.mailbox, ['Projects']);
    const start = await walk(kit.source, threads!.id, 100);
    await kit.control('POST', `/_sim/mailboxes/${kit.mailbox}/messages`, {
      folder: 'Projects',
      message: {
        subject: 'Re: quote',
        internetMessageHeaders: [
          { name: 'In-Reply-To', value: parentId },
          { name: 'References', value: `${rootId} ${parentId}` },
        ],
      },
    });
    const messages = (await walk(kit.source, threads!.id, 100, start.at(-1)!.deltaLink)).flatMap((p) => p.messages);
    expect(messages).toHaveLength(1);
    const message: GraphMessageLike = messages[0]!;
    expect(message.internetMessageHeaders).toEqual([
      { name: 'In-Reply-To', value: parentId },
      { name: 'References', value: `${rootId} ${parentId}` },
    ]);
    expect(message).not.toHaveProperty('singleValueExtendedProperties');
    const mapped = mapMessage(
      message,
      {
        id: 'acc',
        accountName: 'info',
        accountType: 'User Mailbox',
        emailAddress: kit.mailbox,
        user: 'owner@example.com',
      },
      { name: 'Projects', id: threads!.id },
      new Date(),
    );
    expect(mapped).toMatchObject({ inReplyTo: parentId, references: `${rootId} ${parentId}` });
  });
});

describe('GraphMailSource: attachments', () => {
  let messageId: string;

  beforeAll(async () => {
    const created = await kit.control<{ immutableIds: string[] }>('POST', `/_sim/mailboxes/${kit.mailbox}/messages`, {
      folder: 'Inbox/Attachments',
      message: {
        subject: 'Files',
        attachments: [
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'big.bin',
            contentType: 'application/zip',
            size: 6 * MB,
          },
          { '@odata.type': '#microsoft.graph.fileAttachment', name: 'huge.bin', size: 96 * MB },
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'logo.png',
            contentType: 'image/png',
            contentBytes: Buffer.from('not really a png').toString('base64'),
            isInline: true,
            contentId: 'logo@example',
          },
          { '@odata.type': '#microsoft.graph.itemAttachment', name: 'Forwarded', item: { subject: 'Inner mail' } },
          { '@odata.type': '#microsoft.graph.referenceAttachment', name: 'Shared link' },
        ],
      },
    });
    messageId = created.immutableIds[0]!;
  });

  it('lists metadata without bytes, with the kind from @odata.type', async () => {
    const recorder = recordGraphRequests();
    let infos;
    try {
      infos = await kit.source.listAttachments(kit.mailbox, messageId);
    } finally {
      recorder.restore();
    }
    expect(new URL(recorder.requests[0]!.url).searchParams.get('$select')).toBe(
      'id,name,contentType,size,isInline,microsoft.graph.fileAttachment/contentId',
    );
    expect(infos.map((i) => [i.name, i.kind, i.isInline])).toEqual([
      ['big.bin', 'file', false],
      ['huge.bin', 'file', false],
      ['logo.png', 'file', true],
      ['Forwarded', 'item', false],
      ['Shared link', 'reference', false],
    ]);
    expect(infos[0]).toMatchObject({ contentType: 'application/zip', size: expect.any(Number) });
    expect(infos[2]).toMatchObject({ contentType: 'image/png', isInline: true, contentId: 'logo@example' });
    expect(infos[0]).not.toHaveProperty('contentId');
    expect(infos[0]!.size).toBeGreaterThanOrEqual(6 * MB);
    for (const info of infos) expect(info).not.toHaveProperty('contentBytes');
  });

  it('streams a large download without buffering it (RSS does not grow with size)', async () => {
    const infos = await kit.source.listAttachments(kit.mailbox, messageId);
    const big = infos.find((i) => i.name === 'big.bin')!;
    const huge = infos.find((i) => i.name === 'huge.bin')!;

    const small = await drain(await kit.source.downloadAttachment(kit.mailbox, messageId, big.id));
    expect(small.bytes).toBe(6 * MB);
    const large = await drain(await kit.source.downloadAttachment(kit.mailbox, messageId, huge.id));
    expect(large.bytes).toBe(96 * MB);
    console.info(
      `[graph adapter] download RSS growth: 6 MB → ${(small.peakRssGrowth / MB).toFixed(1)} MB, ` +
        `96 MB → ${(large.peakRssGrowth / MB).toFixed(1)} MB`,
    );
    // A buffered body would add ≥ 96 MB; streamed, growth stays far below the body size.
    expect(large.peakRssGrowth).toBeLessThan(48 * MB);
  });

  it('streams an item attachment as MIME; a reference attachment has no bytes (405)', async () => {
    const infos = await kit.source.listAttachments(kit.mailbox, messageId);
    const item = infos.find((i) => i.kind === 'item')!;
    const mime = await drain(await kit.source.getMimeOfItemAttachment(kit.mailbox, messageId, item.id));
    expect(mime.head.toString('utf8')).toMatch(/^[\s\S]*Subject: Inner mail/m);

    const reference = infos.find((i) => i.kind === 'reference')!;
    const error = await failure(kit.source.downloadAttachment(kit.mailbox, messageId, reference.id));
    expect(error.status).toBe(405);
  });

  it('lets a consumer abandon a download (the body is cancelled, the connection keeps working)', async () => {
    const infos = await kit.source.listAttachments(kit.mailbox, messageId);
    const huge = infos.find((i) => i.name === 'huge.bin')!;
    const stream = await kit.source.downloadAttachment(kit.mailbox, messageId, huge.id);
    for await (const chunk of stream) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break; // leaving the loop destroys the stream
    }
    expect(stream.destroyed).toBe(true);
    await expect(kit.source.listAttachments(kit.mailbox, messageId)).resolves.toHaveLength(5);
  });
});

describe('GraphMailSource: small messages, attachments with their bytes', () => {
  const text = Buffer.from('Grüße, attachment ✓\n', 'utf8');
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  let folderId: string;
  let messageId: string;

  beforeAll(async () => {
    const created = await kit.control<{ immutableIds: string[] }>('POST', `/_sim/mailboxes/${kit.mailbox}/messages`, {
      folder: 'Inbox/Small',
      message: {
        subject: 'Small files',
        body: { contentType: 'html', content: '<p>Two files, a picture, a mail and a link</p>' },
        attachments: [
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'greeting.txt',
            contentType: 'text/plain',
            contentBytes: text.toString('base64'),
          },
          { '@odata.type': '#microsoft.graph.fileAttachment', name: 'data.bin', size: 200 * 1024 },
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'logo.png',
            contentType: 'image/png',
            contentBytes: png.toString('base64'),
            isInline: true,
            contentId: 'logo@example',
          },
          { '@odata.type': '#microsoft.graph.itemAttachment', name: 'Forwarded', item: { subject: 'Inner mail' } },
          { '@odata.type': '#microsoft.graph.referenceAttachment', name: 'Shared link' },
        ],
      },
    });
    messageId = created.immutableIds[0]!;
    folderId = (await kit.source.resolveFolders(kit.mailbox, ['Inbox/Small']))[0]!.id;
  });

  async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }

  it('reads the message size from the delta page: the body and every attachment, no extra request', async () => {
    await kit.resetCounters();
    const messages = (await walk(kit.source, folderId, 10)).flatMap((p) => p.messages);
    expect(messages.map((m) => m.id)).toEqual([messageId]);
    const infos = await kit.source.listAttachments(kit.mailbox, messageId);
    const attachmentBytes = infos.reduce((n, info) => n + info.size, 0);
    expect(attachmentBytes).toBeGreaterThan(200 * 1024);
    expect(messages[0]!.messageSizeBytes).toBeGreaterThan(attachmentBytes);
    expect(await kit.requestsTo('/messages/delta')).toBe(1);
    expect((await kit.counters()).totalGraphRequests).toBe(2); // the delta page and the listing above
  });

  it('with withContent, lists file attachments with exactly their $value bytes in one request, without $select', async () => {
    const recorder = recordGraphRequests();
    let plain;
    let full;
    try {
      plain = await kit.source.listAttachments(kit.mailbox, messageId);
      full = await kit.source.listAttachments(kit.mailbox, messageId, { withContent: true });
    } finally {
      recorder.restore();
    }
    expect(recorder.requests).toHaveLength(2);
    const [plainUrl, fullUrl] = recorder.requests.map((r) => new URL(r.url));
    expect(plainUrl!.searchParams.get('$select')).toBe(
      'id,name,contentType,size,isInline,microsoft.graph.fileAttachment/contentId',
    );
    expect(fullUrl!.pathname).toBe(plainUrl!.pathname);
    expect(fullUrl!.search).toBe('');
    expect(recorder.requests[1]!.prefer).toBe('IdType="ImmutableId"');

    // Same metadata either way; bytes only with withContent, only on file attachments.
    expect(full.map(({ content: _content, ...info }) => info)).toEqual(plain);
    for (const info of plain) expect(info).not.toHaveProperty('content');
    expect(full.map((i) => [i.name, i.kind, i.content !== undefined])).toEqual([
      ['greeting.txt', 'file', true],
      ['data.bin', 'file', true],
      ['logo.png', 'file', true],
      ['Forwarded', 'item', false],
      ['Shared link', 'reference', false],
    ]);
    expect(full[0]!.content).toEqual(text);
    expect(full[2]!.content).toEqual(png);
    expect(full[2]).toMatchObject({ isInline: true, contentId: 'logo@example' });
    for (const info of full.filter((i) => i.kind === 'file')) {
      const downloaded = await bytesOf(await kit.source.downloadAttachment(kit.mailbox, messageId, info.id));
      expect(info.content!.equals(downloaded)).toBe(true);
    }
    expect(full[1]!.content!.length).toBe(200 * 1024);
  });

  it('leaves content out for absent or invalid contentBytes and follows nextLinks (a Graph-like server)', async () => {
    const stack = testStack();
    const seen: string[] = [];
    let origin = '';
    const file = (id: string, contentBytes?: unknown) => ({
      '@odata.type': '#microsoft.graph.fileAttachment',
      id,
      name: `${id}.bin`,
      contentType: 'application/octet-stream',
      size: 10,
      isInline: false,
      ...(contentBytes === undefined ? {} : { contentBytes }),
    });
    const server: Server = createServer(
      { cert: fs.readFileSync(stack.tlsCertPath), key: fs.readFileSync(stack.tlsKeyPath) },
      (req, res) => {
        seen.push(req.url ?? '');
        const second = (req.url ?? '').includes('page=2');
        const body = second
          ? { value: [file('d', 'AAE='), file('e', 'AAE'), file('f', 12)] }
          : {
              value: [file('a', Buffer.from('ok').toString('base64')), file('b'), file('c', 'not*base64!')],
              '@odata.nextLink': `${origin}/v1.0/users/u@example.com/messages/m1/attachments?page=2`,
            };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const source = new GraphMailSource({
        graphApiEndpoint: `${origin}/v1.0`,
        tokens: new CountingTokenSource(() => Promise.resolve('token')),
      });
      const infos = await source.listAttachments('u@example.com', 'm1', { withContent: true });
      expect(infos.map((i) => [i.id, i.content?.toString('hex')])).toEqual([
        ['a', Buffer.from('ok').toString('hex')],
        ['b', undefined],
        ['c', undefined],
        ['d', '0001'],
        ['e', undefined],
        ['f', undefined],
      ]);
      for (const info of infos.filter((i) => i.content === undefined)) expect(info).not.toHaveProperty('content');
      expect(seen).toEqual([
        '/v1.0/users/u@example.com/messages/m1/attachments',
        '/v1.0/users/u@example.com/messages/m1/attachments?page=2',
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('GraphMailSource: failures (mapped, never retried)', () => {
  let inboxId: string;

  beforeAll(async () => {
    inboxId = (await kit.source.resolveFolders(kit.mailbox, ['Inbox']))[0]!.id;
  });

  afterEach(async () => {
    await kit.control('DELETE', '/_sim/faults');
  });

  const firstPage = () =>
    kit.source.deltaPage({ mailbox: kit.mailbox, folderId: inboxId, pageSize: 10, select: ['id'] });

  it('maps an expired delta token (410) to isDeltaExpired', async () => {
    const round = await walk(kit.source, inboxId, 1000);
    await kit.control('POST', `/_sim/mailboxes/${kit.mailbox}/delta/expire`, { folder: 'Inbox' });
    const error = await failure(
      kit.source.deltaPage({
        mailbox: kit.mailbox,
        folderId: inboxId,
        pageSize: 10,
        select: ['id'],
        link: round.at(-1)!.deltaLink!,
      }),
    );
    expect(error.status).toBe(410);
    expect(isDeltaExpired(error)).toBe(true);
    expect(classifyMailSourceError(error)).toBe('deltaExpired');
  });

  it('maps 429 with Retry-After to isThrottled with the seconds, after exactly one request', async () => {
    await kit.control('PUT', '/_sim/faults', {
      seed: 1,
      rules: [{ route: 'messages/delta', mailbox: kit.mailbox, rate: 1, status: 429, retryAfterSeconds: 7 }],
    });
    await kit.resetCounters();
    const error = await failure(firstPage());
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 7 });
    expect(isThrottled(error)).toBe(true);
    const counters = await kit.counters();
    expect(counters.totalGraphRequests).toBe(1);
    expect(counters.faultsInjected).toBe(1);
  });

  it('maps 503 and a dropped connection without retrying either', async () => {
    await kit.control('PUT', '/_sim/faults', {
      seed: 2,
      rules: [{ route: 'messages/delta', rate: 1, status: 503, retryAfterSeconds: 3 }],
    });
    await kit.resetCounters();
    const busy = await failure(firstPage());
    expect(busy).toMatchObject({ status: 503, retryAfterSeconds: 3 });
    expect(isThrottled(busy)).toBe(true);
    expect((await kit.counters()).totalGraphRequests).toBe(1);

    await kit.control('PUT', '/_sim/faults', { seed: 3, rules: [{ route: 'messages/delta', rate: 0, dropRate: 1 }] });
    await kit.resetCounters();
    const dropped = await failure(firstPage());
    expect(dropped).toMatchObject({ status: 0, code: 'NetworkError' });
    expect(classifyMailSourceError(dropped)).toBe('transient');
    expect((await kit.counters()).totalGraphRequests).toBe(1);
  });

  it('maps a mailbox outside the app scope (403) to a mailbox error with a remedy', async () => {
    const scoped = await kit.control<{ appId: string; secrets: Array<{ value: string }> }>(
      'POST',
      `/_sim/tenants/${kit.tenant.tenantId}/apps`,
      { displayName: 'scoped', roles: ['Mail.Read'], mailboxScope: [kit.mailbox], secrets: [{}] },
    );
    const tokens = new CountingTokenSource(() => kit.tokenFor(scoped.appId, scoped.secrets[0]!.value));
    const source = kit.newSource(tokens);
    await expect(source.resolveFolders(kit.mailbox, ['Inbox'])).resolves.toHaveLength(1);
    const error = await failure(source.resolveFolders(kit.otherMailbox, ['Inbox']));
    expect(error).toMatchObject({ status: 403, code: 'ErrorAccessDenied' });
    expect(error.message).toMatch(/Access to OData is disabled/);
    expect(isMailboxError(error)).toBe(true);
    expect(isFolderMissing(error)).toBe(false);
    expect(remedyFor(error.code)).toMatch(/scope/);
  });

  it('maps an unknown user (404) to a mailbox error, not a missing folder', async () => {
    const error = await failure(kit.source.resolveFolders(`nobody@${kit.tenant.domain}`, ['Inbox']));
    expect(error.status).toBe(404);
    expect(error.code).toBe('ErrorInvalidUser');
    expect(isMailboxError(error)).toBe(true);
    expect(isFolderMissing(error)).toBe(false);
    expect(error.folderName).toBeUndefined();
  });

  it('maps a rejected token (401) to isUnauthorized; with the governor it recovers after invalidateToken', async () => {
    const tokens = new CountingTokenSource(() => kit.tokenFor(kit.tenant.appId, kit.tenant.secret));
    tokens.setCached('not-a-valid-token');
    const source = kit.newSource(tokens);
    const error = await failure(source.resolveFolders(kit.mailbox, ['Inbox']));
    expect(error.status).toBe(401);
    expect(isUnauthorized(error)).toBe(true);

    tokens.setCached('not-a-valid-token');
    await kit.resetCounters();
    const governor = new ThrottleGovernor({ clock: systemClock });
    const resolved = await governor.run('app/info', () => source.resolveFolders(kit.mailbox, ['Inbox']), {
      onUnauthorized: () => source.invalidateToken(),
    });
    expect(resolved[0]!.id).toBe(inboxId);
    expect(tokens.invalidations).toBe(1);
    expect((await kit.counters()).totalGraphRequests).toBe(2);
  });

  it('maps token acquisition failures to 401 with the AADSTS code, sending nothing to Graph', async () => {
    const rejected = new TokenRequestError(
      classifyTokenError({
        errorCode: 'invalid_client',
        errorMessage: 'AADSTS7000222: The provided client secret keys are expired.',
      }),
      'contoso-sync',
    );
    const source = kit.newSource({
      getAccessToken: () => Promise.reject(rejected),
      invalidate: () => Promise.resolve(),
    });
    await kit.resetCounters();
    const error = await failure(source.resolveFolders(kit.mailbox, ['Inbox']));
    expect(error).toMatchObject({ status: 401, code: 'AADSTS7000222' });
    expect(isAuthFailure(error)).toBe(true);
    expect(isMailboxError(error)).toBe(true);
    expect((await kit.counters()).totalGraphRequests).toBe(0);
  });

  it('refuses a forged nextLink on another host (or scheme) without sending anything', async () => {
    const stack = testStack();
    let forgedRequests = 0;
    const forged: Server = createServer(
      { cert: fs.readFileSync(stack.tlsCertPath), key: fs.readFileSync(stack.tlsKeyPath) },
      (_req, res) => {
        forgedRequests++;
        res.end('{}');
      },
    );
    await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', resolve));
    const port = (forged.address() as AddressInfo).port;
    const simPort = new URL(kit.sim.url).port;
    const tokens = new CountingTokenSource(() => kit.tokenFor(kit.tenant.appId, kit.tenant.secret));
    const source = kit.newSource(tokens);
    const recorder = recordGraphRequests();
    await kit.resetCounters();
    try {
      for (const link of [
        `https://127.0.0.1:${port}/v1.0/users/${kit.mailbox}/mailFolders/inbox/messages/delta?$skiptoken=x`,
        `https://localhost:${simPort}/v1.0/users/${kit.mailbox}/mailFolders/inbox/messages/delta?$skiptoken=x`,
        `http://127.0.0.1:${simPort}/v1.0/users/${kit.mailbox}/mailFolders/inbox/messages/delta?$skiptoken=x`,
        `https://user:pw@127.0.0.1:${simPort}/v1.0/users/${kit.mailbox}/mailFolders/inbox/messages/delta`,
        `https://127.0.0.1:${simPort}/_sim/counters/reset`,
        '/v1.0/users/relative/messages/delta',
      ]) {
        const error = await failure(
          source.deltaPage({ mailbox: kit.mailbox, folderId: 'inbox', pageSize: 10, select: ['id'], link }),
        );
        expect(error.code).toBe(LINK_NOT_ALLOWED);
      }
    } finally {
      recorder.restore();
      await new Promise<void>((resolve) => forged.close(() => resolve()));
    }
    expect(forgedRequests).toBe(0);
    expect(recorder.requests).toHaveLength(0);
    expect(tokens.tokenRequests).toBe(0);
    expect((await kit.counters()).totalGraphRequests).toBe(0);
  });
});

describe('createGraphMailSource (service principal + token provider)', () => {
  class SimTokenProvider implements TokenProvider {
    readonly calls: GetTokenOptions[] = [];
    async getToken(_principal: ServicePrincipalRecord, options: GetTokenOptions = {}): Promise<AccessToken> {
      this.calls.push(options);
      const accessToken = await kit.tokenFor(kit.tenant.appId, kit.tenant.secret);
      return { accessToken, expiresOn: new Date(Date.now() + 3600_000), fromCache: false };
    }
  }

  const principal = () =>
    ({
      servicePrincipalName: 'contoso-sync',
      tenantId: kit.tenant.tenantId,
      clientId: kit.tenant.appId,
      graphApiEndpoint: `${kit.sim.url}/v1.0`,
    }) as ServicePrincipalRecord;

  it('builds a source for the principal; invalidateToken forces the next token to be fresh', async () => {
    const tokens = new SimTokenProvider();
    const source = createGraphMailSource({
      principal: principal(),
      tokens,
      allowedDevHosts: [new URL(kit.sim.url).host],
    });
    await expect(source.resolveFolders(kit.mailbox, ['Inbox'])).resolves.toHaveLength(1);
    await source.invalidateToken();
    await source.resolveFolders(kit.mailbox, ['Sent Items']);
    await source.resolveFolders(kit.mailbox, ['Drafts']).catch(() => undefined);
    expect(tokens.calls).toEqual([{}, { forceRefresh: true }, {}]);
  });

  it('refuses a principal whose Graph endpoint is not an allowed host', () => {
    let thrown: unknown;
    try {
      createGraphMailSource({ principal: principal(), tokens: new SimTokenProvider(), allowedDevHosts: [] });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'GraphEndpointNotAllowed', status: 403 });
  });
});
