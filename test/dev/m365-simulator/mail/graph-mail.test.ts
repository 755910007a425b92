/**
 * The simulator's mail surface through the real Microsoft Graph JS client over HTTPS: folders, multi-page
 * delta and the next round's changes, ids across moves (REST vs ImmutableId), expired delta tokens,
 * attachments (metadata, bytes, streaming), MIME, $batch, sendMail / reply delivery and a validated, notified
 * subscription with a local HTTPS receiver. Shapes are checked against Graph's documented examples.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- the Graph JSON under test is read untyped */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Client, GraphError, ResponseType } from '@microsoft/microsoft-graph-client';
import type { StartedSimulator } from '../../../../dev/m365-simulator/contract';
import { appToken, call, createTenant, startTestSimulator, tls, type TestTenant } from '../helpers';

interface DeltaPage {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  value: Record<string, any>[];
}

interface Received {
  url: string;
  body: any;
}

/** A tiny HTTPS webhook receiver: echoes validation tokens (unless told not to) and records notifications. */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  echo: { enabled: boolean };
  close: () => Promise<void>;
}> {
  const received: Received[] = [];
  const echo = { enabled: true };
  const server = https.createServer(tls(), (req, res) => {
    const url = new URL(req.url ?? '/', 'https://receiver.invalid');
    const token = url.searchParams.get('validationToken');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (token !== null) {
        if (!echo.enabled) {
          res.writeHead(500).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
        return;
      }
      received.push({ url: url.pathname, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    received,
    echo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('M365 simulator mail through the Graph client', () => {
  let sim: StartedSimulator;
  let tenant: TestTenant;
  let client: Client;
  let alice: string;
  let aliceId: string;
  let bob: string;

  beforeAll(async () => {
    sim = await startTestSimulator();
    tenant = await createTenant(sim, {
      name: 'MailCo',
      roles: ['Mail.ReadWrite', 'Mail.Send', 'User.Read.All'],
      users: [{ alias: 'alice' }, { alias: 'bob' }],
    });
    alice = tenant.users[0]!.userPrincipalName;
    aliceId = tenant.users[0]!.id;
    bob = tenant.users[1]!.userPrincipalName;
    const seeded = await call(sim, 'POST', `/_sim/mailboxes/${alice}/seed`, {
      seed: 2025,
      folders: { Inbox: 45, 'Sent Items': 10, 'Archive/2024': 5 },
      attachmentRate: 0.3,
    });
    expect(seeded.status).toBe(200);
    const token = await appToken(sim, tenant.tenantId, tenant.appId, tenant.secret);
    client = Client.init({
      baseUrl: `${sim.url}/`,
      customHosts: new Set(['127.0.0.1']),
      authProvider: (done) => done(null, token),
    });
  });
  afterAll(async () => {
    await sim.stop();
  });

  const graphError = async (promise: Promise<unknown>): Promise<GraphError> => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof GraphError) return error;
      throw error;
    }
    throw new Error('expected a Graph error');
  };

  async function walkDelta(
    first: string | DeltaPage,
    prefer = 'odata.maxpagesize=10',
  ): Promise<{ pages: DeltaPage[]; deltaLink: string }> {
    const pages: DeltaPage[] = [];
    let page: DeltaPage =
      typeof first === 'string' ? ((await client.api(first).header('Prefer', prefer).get()) as DeltaPage) : first;
    for (;;) {
      pages.push(page);
      if (page['@odata.deltaLink']) return { pages, deltaLink: page['@odata.deltaLink'] };
      page = (await client.api(page['@odata.nextLink']!).header('Prefer', prefer).get()) as DeltaPage;
    }
  }

  it('lists mail folders, hidden folders, child folders and folder pages', async () => {
    const folders = (await client.api(`/users/${alice}/mailFolders`).get()) as {
      '@odata.context': string;
      value: any[];
    };
    expect(folders['@odata.context']).toBe(
      `${sim.url}/v1.0/$metadata#users('${encodeURIComponent(alice)}')/mailFolders`,
    );
    const names = folders.value.map((f) => f.displayName as string);
    expect(names).toEqual([
      'Archive',
      'Conversation History',
      'Deleted Items',
      'Drafts',
      'Inbox',
      'Junk Email',
      'Outbox',
      'Sent Items',
    ]);
    const inbox = folders.value.find((f) => f.displayName === 'Inbox');
    expect(inbox).toMatchObject({ totalItemCount: 45, childFolderCount: 0, isHidden: false });
    expect(Object.keys(inbox).sort()).toEqual([
      'childFolderCount',
      'displayName',
      'id',
      'isHidden',
      'parentFolderId',
      'totalItemCount',
      'unreadItemCount',
    ]);
    const hidden = (await client.api(`/users/${alice}/mailFolders`).query({ includeHiddenFolders: 'true' }).get()) as {
      value: any[];
    };
    expect(hidden.value.map((f) => f.displayName)).toContain('Clutter');
    const archive = folders.value.find((f) => f.displayName === 'Archive');
    const children = (await client.api(`/users/${alice}/mailFolders/${archive.id}/childFolders`).get()) as {
      value: any[];
    };
    expect(children.value).toEqual([
      expect.objectContaining({ displayName: '2024', totalItemCount: 5, parentFolderId: archive.id }),
    ]);
    const byName = (await client.api(`/users/${alice}/mailFolders/inbox`).get()) as { id: string };
    expect(byName.id).toBe(inbox.id);
    const page = (await client.api(`/users/${alice}/mailFolders`).top(3).get()) as {
      value: any[];
      '@odata.nextLink': string;
    };
    expect(page.value).toHaveLength(3);
    const next = (await client.api(page['@odata.nextLink']).get()) as { value: any[] };
    expect(next.value[0].displayName).toBe('Drafts');
  });

  it('lists messages newest first with $select, $top, $skip, $filter and $count', async () => {
    const first = (await client
      .api(`/users/${alice}/mailFolders/inbox/messages`)
      .select('subject,receivedDateTime,from')
      .top(20)
      .query({ $count: 'true' })
      .get()) as { '@odata.count': number; '@odata.nextLink': string; value: any[] };
    expect(first['@odata.count']).toBe(45);
    expect(first.value).toHaveLength(20);
    expect(Object.keys(first.value[0]).sort()).toEqual(['@odata.etag', 'from', 'id', 'receivedDateTime', 'subject']);
    const dates = first.value.map((m) => Date.parse(m.receivedDateTime));
    expect([...dates].sort((a, b) => b - a)).toEqual(dates);
    expect(first['@odata.nextLink']).toContain('%24skip=20');
    const cutoff = first.value[9].receivedDateTime as string;
    const filtered = (await client
      .api(`/users/${alice}/mailFolders/inbox/messages`)
      .filter(`receivedDateTime ge ${cutoff}`)
      .select('id')
      .top(100)
      .get()) as { value: any[] };
    expect(filtered.value).toHaveLength(10);
    const all = (await client.api(`/users/${alice}/messages`).top(1000).select('id').get()) as { value: any[] };
    expect(all.value).toHaveLength(60);
    const error = await graphError(client.api(`/users/${alice}/messages`).top(1001).get());
    expect(error.statusCode).toBe(400);
    const badSelect = await graphError(client.api(`/users/${alice}/messages`).select('nope').get());
    expect(badSelect.code).toBe('RequestBroker--ParseUri');
  });

  it('walks a multi-page delta to its deltaLink, then reports changes, moves and deletions', async () => {
    const { pages, deltaLink } = await walkDelta(
      `/users/${alice}/mailFolders/inbox/messages/delta?$select=subject,isRead,from`,
    );
    expect(pages).toHaveLength(5);
    const items = pages.flatMap((p) => p.value);
    const ids = new Set(items.map((m) => m.id as string));
    expect(ids.size).toBe(45);
    // Documented shape: context, @odata.type / @odata.etag per item, only the selected properties plus id.
    expect(pages[0]!['@odata.context']).toBe(`${sim.url}/v1.0/$metadata#Collection(message)`);
    expect(Object.keys(items[0]!).sort()).toEqual(['@odata.etag', '@odata.type', 'from', 'id', 'isRead', 'subject']);
    expect(items[0]!['@odata.type']).toBe('#microsoft.graph.message');
    expect(items[0]!['@odata.etag']).toMatch(/^W\/"[A-Za-z0-9+/=]+"$/);
    const nextLink = pages[0]!['@odata.nextLink']!;
    expect(nextLink).toMatch(
      new RegExp(`^${sim.url}/v1.0/users/.+/mailFolders/inbox/messages/delta\\?\\$skiptoken=[A-Za-z0-9_-]+$`),
    );
    expect(deltaLink).toMatch(/\?\$deltatoken=[A-Za-z0-9_-]+$/);

    const [readMe, tagMe, moveMe, deleteMe] = [...ids];
    const readState = items.find((m) => m.id === readMe)!.isRead as boolean;
    await client.api(`/users/${alice}/messages/${readMe}`).patch({ isRead: !readState });
    const patched = await client
      .api(`/users/${alice}/messages/${tagMe}`)
      .patch({ categories: ['Red category'], flag: { flagStatus: 'flagged' } });
    expect(patched.categories).toEqual(['Red category']);
    const archive = (await client.api(`/users/${alice}/mailFolders/archive`).get()) as { id: string };
    const moved = (await client.api(`/users/${alice}/messages/${moveMe}/move`).post({ destinationId: archive.id })) as {
      id: string;
      parentFolderId: string;
    };
    expect(moved.id).not.toBe(moveMe);
    expect(moved.parentFolderId).toBe(archive.id);
    expect((await call(sim, 'DELETE', `/_sim/mailboxes/${alice}/messages/${deleteMe}`)).status).toBe(204);

    const next = await walkDelta(deltaLink);
    const changes = next.pages.flatMap((p) => p.value);
    const present = changes.filter((c) => !c['@removed']);
    expect(present.map((c) => c.id).sort()).toEqual([readMe, tagMe].sort());
    expect(present.find((c) => c.id === readMe)!.isRead).toBe(!readState);
    expect(changes.filter((c) => c['@removed'])).toEqual([
      { '@odata.type': '#microsoft.graph.message', id: moveMe, '@removed': { reason: 'changed' } },
      { '@odata.type': '#microsoft.graph.message', id: deleteMe, '@removed': { reason: 'deleted' } },
    ]);
    const quiet = await walkDelta(next.deltaLink);
    expect(quiet.pages.flatMap((p) => p.value)).toEqual([]);
  });

  it('expands threading headers and the message size (PidTagMessageSize) on every delta page, like Graph', async () => {
    const expand =
      "singleValueExtendedProperties($filter=id eq 'String 0x1042' or id eq 'String 0x1039' or " +
      "id eq 'Integer 0x0E08' or id eq 'String 0x0E1D' or id eq 'Integer 0x1042' or id eq 'String 0x0E08')";
    const { pages } = await walkDelta(
      `/users/${alice}/mailFolders/inbox/messages/delta?$select=subject,body,hasAttachments&$expand=${encodeURIComponent(expand)}`,
    );
    expect(pages.length).toBeGreaterThan(1);
    const items = pages.flatMap((p) => p.value).filter((m) => !m['@removed']);
    expect(items.length).toBeGreaterThan(30);
    let replies = 0;
    let withAttachments = 0;
    for (const item of items) {
      const properties = item.singleValueExtendedProperties as Array<{ id: string; value: string }>;
      // Graph's own spelling of the ids; unknown ids and known tags under another type are left out.
      for (const p of properties) expect(['String 0x1042', 'String 0x1039', 'Integer 0xe08']).toContain(p.id);
      const size = properties.find((p) => p.id === 'Integer 0xe08')?.value;
      expect(size).toMatch(/^[1-9]\d*$/); // a string of the decimal number, like every extended property value
      if (properties.some((p) => p.id === 'String 0x1042')) replies++;

      const attachments = (
        (await client.api(`/users/${alice}/messages/${item.id}/attachments`).select('size').get()) as {
          value: Array<{ size: number }>;
        }
      ).value;
      if (attachments.length > 0) withAttachments++;
      const content = Buffer.byteLength(item.body.content as string) + attachments.reduce((n, a) => n + a.size, 0);
      // The whole message in the store: at least the body and every attachment, plus some header overhead.
      expect(Number(size)).toBeGreaterThan(content);
      expect(Number(size)).toBeLessThan(content + 64 * 1024);
    }
    expect(replies).toBeGreaterThan(0);
    expect(withAttachments).toBeGreaterThan(0);

    // The same figure on a single-message GET and on a list.
    const sample = items[0]!;
    const sizeOf = (m: any): string | undefined =>
      (m.singleValueExtendedProperties as Array<{ id: string; value: string }> | undefined)?.find(
        (p) => p.id === 'Integer 0xe08',
      )?.value;
    const single = await client.api(`/users/${alice}/messages/${sample.id}`).expand(expand).select('id').get();
    expect(sizeOf(single)).toBe(sizeOf(sample));
    const list = (await client
      .api(`/users/${alice}/mailFolders/inbox/messages`)
      .expand("singleValueExtendedProperties($filter=id eq 'Integer 0xe08')")
      .select('id')
      .top(100)
      .get()) as { value: any[] };
    expect(sizeOf(list.value.find((m) => m.id === sample.id))).toBe(sizeOf(sample));
    // Without the expansion, no extended properties at all.
    const plain = await client.api(`/users/${alice}/messages/${sample.id}`).select('id').get();
    expect(plain).not.toHaveProperty('singleValueExtendedProperties');
  });

  it('keeps a moved message id only under Prefer: IdType="ImmutableId"', async () => {
    const immutable = 'IdType="ImmutableId"';
    const list = (await client
      .api(`/users/${alice}/mailFolders/inbox/messages`)
      .header('Prefer', immutable)
      .top(1)
      .select('id')
      .get()) as { value: { id: string }[] };
    const immutableId = list.value[0]!.id;
    const rest = (await client.api(`/users/${alice}/messages/${immutableId}`).select('id').get()) as { id: string };
    expect(rest.id).not.toBe(immutableId);
    const moved = (await client
      .api(`/users/${alice}/messages/${immutableId}/move`)
      .header('Prefer', immutable)
      .post({ destinationId: 'deleteditems' })) as { id: string; parentFolderId: string };
    expect(moved.id).toBe(immutableId);
    const again = (await client
      .api(`/users/${alice}/messages/${immutableId}`)
      .header('Prefer', immutable)
      .select('id,parentFolderId')
      .get()) as { id: string; parentFolderId: string };
    expect(again).toMatchObject({ id: immutableId, parentFolderId: moved.parentFolderId });
    const stale = await graphError(client.api(`/users/${alice}/messages/${rest.id}`).get());
    expect(stale).toMatchObject({ statusCode: 404, code: 'ErrorItemNotFound' });
    const current = (await client.api(`/users/${alice}/messages/${immutableId}`).select('id').get()) as { id: string };
    expect(current.id).not.toBe(rest.id);
  });

  it('answers 410 SyncStateNotFound for a delta token older than an expiry', async () => {
    const { deltaLink } = await walkDelta(
      `/users/${alice}/mailFolders/sentitems/messages/delta`,
      'odata.maxpagesize=50',
    );
    expect((await call(sim, 'POST', `/_sim/mailboxes/${alice}/delta/expire`, { folder: 'Sent Items' })).status).toBe(
      204,
    );
    const error = await graphError(client.api(deltaLink).get());
    expect(error).toMatchObject({ statusCode: 410, code: 'SyncStateNotFound' });
    const fresh = await walkDelta(`/users/${alice}/mailFolders/sentitems/messages/delta`, 'odata.maxpagesize=50');
    expect(fresh.pages[0]!.value).toHaveLength(10);
  });

  it('serves attachment metadata without bytes, full attachments, raw $value bytes and MIME', async () => {
    const hello = Buffer.from('hello, attachment ✓', 'utf8');
    const delivered = await call(sim, 'POST', `/_sim/mailboxes/${alice}/messages`, {
      folder: 'Inbox',
      message: {
        subject: 'Files for you',
        body: { contentType: 'html', content: '<p>See <img src="cid:logo@sim"> attached</p>' },
        attachments: [
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'hello.txt',
            contentType: 'text/plain',
            contentBytes: hello.toString('base64'),
          },
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'big.bin',
            contentType: 'application/octet-stream',
            size: 5 * 1024 * 1024,
          },
          {
            '@odata.type': '#microsoft.graph.fileAttachment',
            name: 'logo.png',
            contentType: 'image/png',
            size: 2048,
            isInline: true,
            contentId: 'logo@sim',
          },
          { '@odata.type': '#microsoft.graph.referenceAttachment', name: 'Spec.docx' },
        ],
      },
    });
    expect(delivered.status).toBe(201);
    const id = delivered.body.ids[0] as string;
    const base = `/users/${alice}/messages/${id}/attachments`;
    const meta = (await client.api(base).select('id,name,contentType,size,isInline').get()) as {
      '@odata.context': string;
      value: any[];
    };
    expect(meta['@odata.context']).toMatch(/\/attachments$/);
    expect(meta.value).toHaveLength(4);
    for (const a of meta.value) {
      expect(a).not.toHaveProperty('contentBytes');
      expect(Object.keys(a).sort()).toEqual(['@odata.type', 'contentType', 'id', 'isInline', 'name', 'size']);
    }
    expect(meta.value.map((a) => a['@odata.type'])).toEqual([
      '#microsoft.graph.fileAttachment',
      '#microsoft.graph.fileAttachment',
      '#microsoft.graph.fileAttachment',
      '#microsoft.graph.referenceAttachment',
    ]);
    const [small, big, inline, reference] = meta.value;
    expect(big.size).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(inline.isInline).toBe(true);

    // Documented fileAttachment shape (attachment-get example 1).
    const full = (await client.api(`${base}/${small.id}`).get()) as Record<string, any>;
    expect(Object.keys(full).sort()).toEqual(
      [
        '@odata.context',
        '@odata.type',
        'contentBytes',
        'contentId',
        'contentLocation',
        'contentType',
        'id',
        'isInline',
        'lastModifiedDateTime',
        'name',
        'size',
      ].sort(),
    );
    expect(full['@odata.context']).toMatch(/\/attachments\/\$entity$/);
    expect(Buffer.from(full.contentBytes as string, 'base64')).toEqual(hello);
    const raw = Buffer.from(
      (await client.api(`${base}/${small.id}/$value`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer,
    );
    expect(raw).toEqual(hello);

    const bigRaw = Buffer.from(
      (await client.api(`${base}/${big.id}/$value`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer,
    );
    expect(bigRaw.length).toBe(5 * 1024 * 1024);
    const bigJson = (await client.api(`${base}/${big.id}`).get()) as { contentBytes: string };
    expect(Buffer.from(bigJson.contentBytes, 'base64').equals(bigRaw)).toBe(true);

    const refError = await graphError(client.api(`${base}/${reference.id}/$value`).get());
    expect(refError.statusCode).toBe(405);

    // Listed without $select, file attachments carry their bytes (base64 contentBytes, equal to $value);
    // reference attachments have none. One request for every attachment's content.
    const withBytes = (await client.api(base).get()) as { value: any[] };
    expect(withBytes.value.map((a) => a.id)).toEqual(meta.value.map((a) => a.id));
    const [smallFull, bigFull, inlineFull, referenceFull] = withBytes.value;
    expect(Buffer.from(smallFull.contentBytes as string, 'base64')).toEqual(hello);
    expect(Buffer.from(bigFull.contentBytes as string, 'base64').equals(bigRaw)).toBe(true);
    const inlineRaw = Buffer.from(
      (await client.api(`${base}/${inline.id}/$value`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer,
    );
    expect(Buffer.from(inlineFull.contentBytes as string, 'base64')).toEqual(inlineRaw);
    expect(inlineFull).toMatchObject({ isInline: true, contentId: 'logo@sim' });
    expect(referenceFull['@odata.type']).toBe('#microsoft.graph.referenceAttachment');
    expect(referenceFull).not.toHaveProperty('contentBytes');

    // The message's store size (PidTagMessageSize) covers the body and every attachment's reported size.
    const sized = await client
      .api(`/users/${alice}/messages/${id}`)
      .select('body')
      .expand("singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')")
      .get();
    expect(sized.singleValueExtendedProperties).toEqual([
      { id: 'Integer 0xe08', value: expect.stringMatching(/^\d+$/) },
    ]);
    const attachmentSizes = meta.value.reduce((n: number, a) => n + (a.size as number), 0);
    expect(Number(sized.singleValueExtendedProperties[0].value)).toBeGreaterThan(
      attachmentSizes + Buffer.byteLength(sized.body.content as string),
    );

    const mime = Buffer.from(
      (await client
        .api(`/users/${alice}/messages/${id}/$value`)
        .responseType(ResponseType.ARRAYBUFFER)
        .get()) as ArrayBuffer,
    ).toString('utf8');
    expect(mime).toMatch(/^From: /m);
    expect(mime).toMatch(/^Subject: Files for you\r$/m);
    expect(mime).toMatch(/^MIME-Version: 1\.0\r$/m);
    expect(mime).toContain('Content-Type: multipart/mixed');
    expect(mime).toContain('Content-Type: multipart/related');
    expect(mime).toContain('Content-Type: multipart/alternative');
    expect(mime).toContain('Content-ID: <logo@sim>');
    expect(mime).toContain(hello.toString('base64'));
    expect(mime.length).toBeGreaterThan(5 * 1024 * 1024);
  });

  it('runs a $batch of 20 sub-requests, each on its own, with dependsOn and 429 items', async () => {
    const ids = (
      (await client.api(`/users/${alice}/mailFolders/inbox/messages`).top(20).select('id').get()) as {
        value: { id: string }[];
      }
    ).value.map((m) => m.id);
    const requests = ids.map((id, i) => ({
      id: String(i + 1),
      method: 'GET',
      url: `/users/${alice}/messages/${id}?$select=subject`,
    }));
    const batch = (await client.api('/$batch').post({ requests })) as {
      responses: { id: string; status: number; body: any }[];
    };
    expect(batch.responses).toHaveLength(20);
    if (!batch.responses.every((r) => r.status === 200)) console.log(JSON.stringify(batch.responses.slice(0, 2)));
    expect(batch.responses.every((r) => r.status === 200 && typeof r.body.subject === 'string')).toBe(true);
    const tooMany = await graphError(
      client.api('/$batch').post({ requests: [...requests, { id: '21', method: 'GET', url: '/users/x/messages' }] }),
    );
    expect(tooMany.statusCode).toBe(400);
    const dependent = (await client.api('/$batch').post({
      requests: [
        { id: 'a', method: 'GET', url: `/users/${alice}/messages/not-an-id` },
        { id: 'b', method: 'GET', url: `/users/${alice}/mailFolders/inbox`, dependsOn: ['a'] },
      ],
    })) as { responses: { id: string; status: number }[] };
    expect(dependent.responses.map((r) => [r.id, r.status])).toEqual([
      ['a', 400],
      ['b', 424],
    ]);
    expect(
      (
        await call(sim, 'PUT', '/_sim/faults', {
          seed: 1,
          rules: [{ route: '/messages/', rate: 1, status: 429, retryAfterSeconds: 7 }],
        })
      ).status,
    ).toBe(200);
    try {
      const throttled = (await client.api('/$batch').post({ requests: requests.slice(0, 3) })) as {
        responses: { status: number; headers: Record<string, string> }[];
      };
      expect(throttled.responses.map((r) => r.status)).toEqual([429, 429, 429]);
      expect(throttled.responses[0]!.headers['retry-after']).toBe('7');
    } finally {
      await call(sim, 'DELETE', '/_sim/faults');
    }
  });

  it('delivers sendMail to a simulated recipient and threads the reply', async () => {
    const subject = `Quarterly numbers ${Date.now()} – Zoë`;
    await client.api(`/users/${alice}/sendMail`).post({
      message: {
        subject,
        body: { contentType: 'Text', content: 'Numbers attached.' },
        toRecipients: [{ emailAddress: { address: bob, name: 'Bob' } }],
      },
      saveToSentItems: true,
    });
    const select = 'subject,from,internetMessageId,conversationId,internetMessageHeaders';
    const bobInbox = (await client.api(`/users/${bob}/mailFolders/inbox/messages`).select(select).get()) as {
      value: any[];
    };
    const received = bobInbox.value.find((m) => m.subject === subject);
    expect(received.from.emailAddress.address).toBe(alice);
    const aliceSent = (await client
      .api(`/users/${alice}/mailFolders/sentitems/messages`)
      .select(select)
      .top(5)
      .get()) as { value: any[] };
    const sent = aliceSent.value.find((m) => m.subject === subject);
    expect(sent.internetMessageId).toBe(received.internetMessageId);

    await client.api(`/users/${bob}/messages/${received.id}/reply`).post({ comment: 'Thanks Alice!' });
    const aliceInbox = (await client.api(`/users/${alice}/mailFolders/inbox/messages`).select(select).top(5).get()) as {
      value: any[];
    };
    const reply = aliceInbox.value.find((m) => m.subject === `RE: ${subject}`);
    const header = (name: string) =>
      (reply.internetMessageHeaders as { name: string; value: string }[]).find((h) => h.name === name)?.value;
    expect(header('In-Reply-To')).toBe(sent.internetMessageId);
    expect(header('References')).toBe(sent.internetMessageId);
    expect(reply.conversationId).toBe(sent.conversationId);

    const noRecipients = await graphError(client.api(`/users/${alice}/sendMail`).post({ message: { subject: 'x' } }));
    expect(noRecipients).toMatchObject({ statusCode: 400, code: 'ErrorInvalidRecipients' });
  });

  it('withholds bodies and attachments from an app granted only Mail.ReadBasic.All', async () => {
    const app = await call(sim, 'POST', `/_sim/tenants/${tenant.tenantId}/apps`, {
      displayName: 'basic reader',
      roles: ['Mail.ReadBasic.All'],
      secrets: [{}],
    });
    expect(app.status).toBe(201);
    const token = await appToken(sim, tenant.tenantId, app.body.appId, app.body.secrets[0].value);
    const basic = Client.init({
      baseUrl: `${sim.url}/`,
      customHosts: new Set(['127.0.0.1']),
      authProvider: (done) => done(null, token),
    });
    const list = (await basic.api(`/users/${alice}/mailFolders/inbox/messages`).top(1).get()) as {
      value: Record<string, unknown>[];
    };
    expect(list.value[0]).toHaveProperty('subject');
    expect(list.value[0]).not.toHaveProperty('body');
    expect(list.value[0]).not.toHaveProperty('bodyPreview');
    const id = list.value[0]!['id'] as string;
    expect(await graphError(basic.api(`/users/${alice}/messages/${id}/attachments`).get())).toMatchObject({
      statusCode: 403,
      code: 'ErrorAccessDenied',
    });
    expect(
      (await graphError(basic.api(`/users/${alice}/sendMail`).post({ message: { subject: 'x' } }))).statusCode,
    ).toBe(403);
  });

  it('validates a subscription endpoint, notifies it of new messages and sends lifecycle events', async () => {
    const receiver = await startReceiver();
    try {
      const expirationDateTime = new Date(Date.now() + 60 * 60_000).toISOString();
      const subscription = (await client.api('/subscriptions').post({
        changeType: 'created,updated',
        notificationUrl: `${receiver.url}/notify`,
        lifecycleNotificationUrl: `${receiver.url}/lifecycle`,
        resource: `users/${aliceId}/mailFolders('inbox')/messages`,
        expirationDateTime,
        clientState: 'secret-state',
      })) as Record<string, any>;
      expect(subscription).toMatchObject({
        changeType: 'created,updated',
        clientState: 'secret-state',
        applicationId: tenant.appId,
      });

      const delivered = await call(sim, 'POST', `/_sim/mailboxes/${alice}/messages`, {
        folder: 'Inbox',
        message: { subject: 'ping' },
      });
      const notification = await waitFor(() => receiver.received.find((r) => r.url === '/notify')?.body.value[0]);
      expect(notification).toMatchObject({
        subscriptionId: subscription.id,
        clientState: 'secret-state',
        changeType: 'created',
        tenantId: tenant.tenantId,
        resourceData: { '@odata.type': '#Microsoft.Graph.Message', id: delivered.body.restIds[0] },
      });
      expect(notification.resource).toBe(`Users/${aliceId}/Messages/${delivered.body.restIds[0]}`);

      expect(
        (await call(sim, 'POST', `/_sim/subscriptions/${subscription.id}/lifecycle`, { event: 'missed' })).body,
      ).toMatchObject({ delivered: true });
      const lifecycle = receiver.received.find((r) => r.url === '/lifecycle')?.body.value[0];
      expect(lifecycle).toMatchObject({
        subscriptionId: subscription.id,
        lifecycleEvent: 'missed',
        clientState: 'secret-state',
      });

      const renewed = (await client
        .api(`/subscriptions/${subscription.id}`)
        .patch({ expirationDateTime: new Date(Date.now() + 2 * 3600_000).toISOString() })) as {
        expirationDateTime: string;
      };
      expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(Date.parse(expirationDateTime));
      const tooLong = await graphError(
        client
          .api(`/subscriptions/${subscription.id}`)
          .patch({ expirationDateTime: new Date(Date.now() + 10_081 * 60_000).toISOString() }),
      );
      expect(tooLong.statusCode).toBe(400);
      await client.api(`/subscriptions/${subscription.id}`).delete();
      expect((await graphError(client.api(`/subscriptions/${subscription.id}`).get())).statusCode).toBe(404);

      receiver.echo.enabled = false;
      const refused = await graphError(
        client.api('/subscriptions').post({
          changeType: 'created',
          notificationUrl: `${receiver.url}/notify`,
          resource: `users/${alice}/messages`,
          expirationDateTime,
          clientState: 'x',
        }),
      );
      expect(refused).toMatchObject({ statusCode: 400, code: 'ValidationError' });
    } finally {
      await receiver.close();
    }
  });
});
