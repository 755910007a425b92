/**
 * What a synced communication holds: owner, attachments, large bodies, links to business records, contacts.
 */
import type { LinkingRule } from '../../../../shared/domain/records';
import type { ThreadReferenceLookup } from '../../../../shared/domain/sync';
import { createHarness, type Harness } from './harness';
import type { FakeAttachment } from './fakes';

const MB = 1024 * 1024;
const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);
const inboxOnly = [{ folderName: 'Inbox', syncEnabled: true }];

describe('owner and account type', () => {
  it('a shared mailbox’s communications are owned by the admin who configured it', async () => {
    const h = await createHarness({
      account: { accountType: 'Shared Mailbox', user: 'Admin@Contoso.example', folderFilter: inboxOnly },
    });
    h.mailbox.create('Inbox');
    await h.run();
    expect(h.communications()[0]).toMatchObject({
      owner: 'admin@contoso.example',
      accountType: 'Shared Mailbox',
      emailAccount: 'Sales Inbox',
    });
  });
});

describe('attachments', () => {
  const file = (id: string, name: string, size: number, extra: Partial<FakeAttachment> = {}): FakeAttachment => ({
    id,
    name,
    contentType: 'application/pdf',
    size,
    isInline: false,
    kind: 'file',
    bytes: bytes(size),
    ...extra,
  });

  async function syncOne(h: Harness, attachments: FakeAttachment[], fields = {}) {
    const id = h.mailbox.create('Inbox', fields, attachments);
    const result = await h.run();
    expect(result.outcome).toBe('completed');
    return h.byGraphId().get(id)!;
  }

  it('streams files within the limit to Blob storage and records oversized ones as skipped with the reason', async () => {
    const h = await createHarness({
      account: { syncAttachments: true, maxAttachmentSize: 1, folderFilter: inboxOnly },
      settings: { inlineAttachmentsMaxBytes: 0 }, // the streaming path (small messages are listed with bytes)
    });
    const comm = await syncOne(h, [
      file('AAMkAtt/1+small=', 'quote 2025/03?.pdf', 300 * 1024),
      file('AAMkAtt/2+big=', 'scan.tiff', 2 * MB, { contentType: 'image/tiff' }),
    ]);

    const [small, big] = comm.attachments;
    expect(small).toMatchObject({ fileName: 'quote 2025/03?.pdf', status: 'stored', size: 300 * 1024, kind: 'file' });
    expect(small!.blobName!.split('/')).toHaveLength(4);
    expect(small!.blobName).toMatch(/^sales_inbox\/[0-9a-f]{48}\/[0-9a-f]{24}\/quote_2025_03_.pdf$/);
    expect(h.blobs.blobs.get(`attachments/${small!.blobName}`)?.bytes.length).toBe(300 * 1024);
    expect(big).toMatchObject({ status: 'skipped', fileName: 'scan.tiff', size: 2 * MB });
    expect(big!.skipReason).toMatch(/1 MB/);
    expect(big!.blobName).toBeUndefined();
    expect(h.source.calls.downloadAttachment).toBe(1);
  });

  it('records reference attachments as links, stores item attachments as .eml and flags inline images', async () => {
    const h = await createHarness({ account: { syncAttachments: true, folderFilter: inboxOnly } });
    const comm = await syncOne(
      h,
      [
        {
          id: 'ref-1',
          name: 'Budget.xlsx',
          contentType: 'application/vnd.ms-excel',
          size: 0,
          isInline: false,
          kind: 'reference',
          url: 'https://contoso.sharepoint.com/budget.xlsx',
          bytes: bytes(0),
        },
        {
          id: 'item-1',
          name: 'Fwd: contract',
          contentType: 'message/rfc822',
          size: 2000,
          isInline: false,
          kind: 'item',
          bytes: new TextEncoder().encode('MIME-Version: 1.0\r\nSubject: contract\r\n\r\nbody'),
        },
        file('img-1', 'logo.png', 5000, { contentType: 'image/png', isInline: true, contentId: 'logo@01' }),
      ],
      { body: { contentType: 'html', content: '<p>Hi <img src="cid:logo@01"></p>' } },
    );

    expect(comm.attachments).toEqual([
      expect.objectContaining({ kind: 'reference', status: 'link', url: 'https://contoso.sharepoint.com/budget.xlsx' }),
      expect.objectContaining({
        kind: 'item',
        status: 'stored',
        fileName: 'Fwd: contract.eml',
        contentType: 'message/rfc822',
      }),
      expect.objectContaining({ kind: 'file', status: 'stored', isInline: true, contentId: 'logo@01' }),
    ]);
    const eml = comm.attachments[1]!.blobName!;
    expect(eml.endsWith('.eml')).toBe(true);
    expect(h.blobs.blobs.get(`attachments/${eml}`)!.bytes.toString()).toContain('Subject: contract');
    expect(h.source.calls.getMimeOfItemAttachment).toBe(1);
  });

  it('lists attachments of a message with only inline images even though Graph says hasAttachments: false', async () => {
    const h = await createHarness({ account: { syncAttachments: true, folderFilter: inboxOnly } });
    const comm = await syncOne(h, [file('img', 'a.png', 10, { isInline: true, contentId: 'a' })], {
      hasAttachments: false,
      body: { contentType: 'html', content: '<img src="cid:a">' },
    });
    expect(comm.attachments).toHaveLength(1);
  });

  it('does not touch attachments when the account does not sync them, nor again for an unchanged message', async () => {
    const off = await createHarness({ account: { folderFilter: inboxOnly } });
    const comm = await syncOne(off, [file('f', 'a.pdf', 10)]);
    expect(comm.attachments).toEqual([]);
    expect(off.source.calls.listAttachments).toBe(0);

    const on = await createHarness({ account: { syncAttachments: true, folderFilter: inboxOnly } });
    const id = on.mailbox.create('Inbox', {}, [file('f', 'a.pdf', 10)]);
    await on.run();
    on.mailbox.update(id, { isRead: true });
    await on.run();
    expect(on.source.calls.listAttachments).toBe(1);
    expect(on.byGraphId().get(id)!.attachments).toHaveLength(1);
  });

  it('keeps at most the configured number of Graph requests in flight for the mailbox', async () => {
    for (const limit of [4, 2]) {
      const h = await createHarness({
        account: { syncAttachments: true, folderFilter: inboxOnly },
        maxConcurrency: limit,
        settings: { maxConcurrencyPerMailbox: limit },
      });
      for (let m = 0; m < 12; m++) {
        h.mailbox.create(
          'Inbox',
          {},
          Array.from({ length: 5 }, (_, i) => file(`a${m}-${i}`, `f${i}.pdf`, 100)),
        );
      }
      await h.run();
      expect(h.communications().every((c) => c.attachments.length === 5)).toBe(true);
      expect(h.source.peakInFlight).toBeGreaterThan(1);
      expect(h.source.peakInFlight).toBeLessThanOrEqual(limit);
    }
  });
});

describe('bodies', () => {
  it('puts a body over 1 MB into Blob storage with a reference, keeping a shortened text', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    const html = `<html><body>${'<p>lorem ipsum dolor sit amet</p>'.repeat(40_000)}</body></html>`;
    const big = h.mailbox.create('Inbox', { body: { contentType: 'html', content: html } });
    const small = h.mailbox.create('Inbox');
    await h.run();

    const comm = h.byGraphId().get(big)!;
    expect(comm.content).toBe('');
    expect(comm.contentBlob).toMatch(/^sales_inbox\/[0-9a-f]{48}\/body\.html$/);
    expect(h.blobs.blobs.get(`attachments/${comm.contentBlob}`)!.bytes.toString('utf8')).toBe(html);
    expect(Buffer.byteLength(comm.textContent!)).toBeLessThanOrEqual(256 * 1024);
    expect(comm.textContent!.startsWith('lorem ipsum dolor sit amet')).toBe(true);
    expect(h.byGraphId().get(small)!.contentBlob).toBeUndefined();
    expect(h.byGraphId().get(small)!.content).toContain('Hello number');
  });
});

describe('linking to business records', () => {
  const rules: LinkingRule[] = [
    { kind: 'subjectPattern', pattern: '\\[#(TICKET-\\d+)\\]', referenceDoctype: 'HD Ticket' },
    { kind: 'senderDomain', domain: 'fabrikam.example', referenceDoctype: 'Customer', referenceName: 'Fabrikam' },
    { kind: 'threadInheritance' },
  ];
  const lookupOver = (h: Harness): ThreadReferenceLookup => ({
    findReferences: async (emailAccount, keys) => {
      await Promise.resolve();
      const linked = h.communications().filter((c) => c.emailAccount === emailAccount && c.referenceName);
      const ref = (c: (typeof linked)[number]) => ({
        referenceDoctype: c.referenceDoctype!,
        referenceName: c.referenceName!,
      });
      return {
        byConversationId: new Map(
          linked
            .filter((c) => c.conversationId && keys.conversationIds.includes(c.conversationId))
            .map((c) => [c.conversationId!, ref(c)]),
        ),
        byMessageId: new Map(
          linked.filter((c) => c.messageId && keys.messageIds.includes(c.messageId)).map((c) => [c.messageId!, ref(c)]),
        ),
      };
    },
  });

  it('applies subject tokens, sender domains and thread inheritance (within a run and from stored mail)', async () => {
    const h = await createHarness({ account: { linkingRules: rules, folderFilter: inboxOnly } });
    h.deps.threadLookup = lookupOver(h);
    const ticket = h.mailbox.create('Inbox', { subject: 'Printer broken [#TICKET-123]', conversationId: 'conv-T' });
    const replySamePage = h.mailbox.create('Inbox', {
      subject: 'RE: Printer broken',
      conversationId: 'conv-T',
      receivedDateTime: new Date(h.clock.now().getTime() + 1000).toISOString(),
    });
    const customer = h.mailbox.create('Inbox', {
      from: { emailAddress: { name: 'Bob', address: 'bob@mail.fabrikam.example' } },
    });
    const unrelated = h.mailbox.create('Inbox', { subject: 'Lunch?' });
    await h.run();

    const byGraph = h.byGraphId();
    expect(byGraph.get(ticket)).toMatchObject({ referenceDoctype: 'HD Ticket', referenceName: 'TICKET-123' });
    expect(byGraph.get(replySamePage)).toMatchObject({ referenceDoctype: 'HD Ticket', referenceName: 'TICKET-123' });
    expect(byGraph.get(customer)).toMatchObject({ referenceDoctype: 'Customer', referenceName: 'Fabrikam' });
    expect(byGraph.get(unrelated)!.referenceName).toBeUndefined();

    // A later reply, in another run: inherits from the stored message through the lookup.
    const later = h.mailbox.create('Inbox', {
      subject: 'RE: RE: Printer broken',
      conversationId: 'conv-T',
      receivedDateTime: new Date(h.clock.now().getTime() + 5000).toISOString(),
    });
    await h.run();
    expect(h.byGraphId().get(later)).toMatchObject({ referenceName: 'TICKET-123' });
  });

  it('never overwrites a reference already stored, and uses global rules after the account’s', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    h.deps.globalLinkingRules = async () => {
      await Promise.resolve();
      return [{ kind: 'subjectPattern', pattern: 'order (\\d+)', referenceDoctype: 'Sales Order' }];
    };
    const id = h.mailbox.create('Inbox', { subject: 'order 42' });
    await h.run();
    expect(h.byGraphId().get(id)).toMatchObject({ referenceDoctype: 'Sales Order', referenceName: '42' });

    const stored = h.byGraphId().get(id)!;
    await h.repos.communications.update('Sales Inbox', stored.id, (c) => ({ ...c, referenceName: '42-B' }));
    h.mailbox.update(id, { subject: 'order 43' });
    await h.run();
    expect(h.byGraphId().get(id)).toMatchObject({ subject: 'order 43', referenceName: '42-B' });
  });
});

describe('concurrent edits', () => {
  it('a person linking a communication while the sync updates it: both changes survive (ETag, re-read, reapply)', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    const id = h.mailbox.create('Inbox', { subject: 'Invoice' });
    await h.run();
    const commId = h.byGraphId().get(id)!.id;
    h.mailbox.update(id, { isRead: true });
    const upsertMany = h.repos.communications.upsertMany.bind(h.repos.communications);
    let intercepted = false;
    h.repos.communications.upsertMany = async (records) => {
      if (!intercepted) {
        intercepted = true;
        await h.repos.communications.update('Sales Inbox', commId, (c) => ({
          ...c,
          referenceDoctype: 'Sales Invoice',
          referenceName: 'SINV-1',
        }));
      }
      return upsertMany(records);
    };

    await h.run();

    expect(h.byGraphId().get(id)).toMatchObject({
      seen: true,
      referenceDoctype: 'Sales Invoice',
      referenceName: 'SINV-1',
    });
  });
});

describe('contacts', () => {
  it('creates one contact per external address (case-insensitive), never the mailbox itself', async () => {
    const h = await createHarness({ account: { autoCreateContact: true, folderFilter: inboxOnly } });
    h.mailbox.create('Inbox', {
      from: { emailAddress: { name: 'Ann Lee', address: 'Ann@Partner.example' } },
      toRecipients: [{ emailAddress: { name: 'Sales', address: 'SALES@contoso.example' } }],
      ccRecipients: [
        { emailAddress: { name: '', address: 'ann@partner.example' } },
        { emailAddress: { address: 'bo@x.example' } },
      ],
    });
    h.mailbox.create('Inbox', { from: { emailAddress: { name: '', address: 'ANN@partner.example' } } });
    await h.run();

    const contacts = await h.repos.contacts.list({ limit: 50 });
    expect(contacts.items.map((c) => c.emailId).sort()).toEqual(['ann@partner.example', 'bo@x.example']);
    expect(contacts.items.find((c) => c.emailId === 'ann@partner.example')).toMatchObject({
      fullName: 'Ann Lee',
      emailAccounts: ['Sales Inbox'],
      owners: ['jane@contoso.example'],
    });
  });

  it('creates none when the account does not want contacts', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly } });
    h.mailbox.create('Inbox');
    await h.run();
    expect((await h.repos.contacts.list({ limit: 10 })).items).toHaveLength(0);
  });
});
