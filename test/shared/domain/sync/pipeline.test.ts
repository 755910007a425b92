/**
 * What makes a large sync fast without giving up exactness: pages prepared ahead of the one being written,
 * attachments of small messages listed with their bytes in one request, and correspondents recorded once per run.
 */
import type { FakeAttachment } from './fakes';
import { createHarness } from './harness';

const inboxOnly = [{ folderName: 'Inbox', syncEnabled: true }];

function fileAttachment(id: string, text: string): FakeAttachment {
  const bytes = Buffer.from(text, 'utf8');
  return {
    id,
    name: `${id}.txt`,
    contentType: 'text/plain',
    size: bytes.length + 200,
    isInline: false,
    kind: 'file',
    bytes,
  };
}

describe('pages prepared ahead of the write', () => {
  it.each([1, 2, 3, 5])(
    'stores every message exactly once when Graph repeats messages on the next page (depth %i)',
    async (pipelineDepth) => {
      const h = await createHarness({
        account: { folderFilter: inboxOnly, autoCreateContact: true, syncAttachments: true },
        source: { repeatRate: 0.5, seed: 7 },
        settings: { pageSize: 3, pipelineDepth },
      });
      const ids = Array.from({ length: 40 }, (_, i) =>
        h.mailbox.create(
          'Inbox',
          { from: { emailAddress: { name: `P ${i % 7}`, address: `p${i % 7}@partner.example` } } },
          i % 4 === 0 ? [fileAttachment(`a${i}`, `body ${i}`)] : [],
        ),
      );
      const result = await h.run();
      expect(result.outcome).toBe('completed');

      const stored = h.byGraphId();
      expect([...stored.keys()].sort()).toEqual([...ids].sort());
      expect(h.communications()).toHaveLength(40);
      const inbox = result.outcome === 'completed' ? result.folders.find((f) => f.folderName === 'Inbox') : undefined;
      expect(inbox?.counters).toMatchObject({ created: 40, updated: 0, removed: 0 });
      for (const [id, c] of stored) {
        const wanted = ids.indexOf(id) % 4 === 0 ? 1 : 0;
        expect(c.attachments.filter((a) => a.status === 'stored')).toHaveLength(wanted);
      }
      // A second cycle writes nothing.
      const second = await h.run();
      const again = second.outcome === 'completed' ? second.folders.find((f) => f.folderName === 'Inbox') : undefined;
      expect(again?.counters).toMatchObject({ created: 0, updated: 0, removed: 0 });
    },
  );

  it('resumes exactly at the checkpoint when the time budget runs out with pages prepared ahead', async () => {
    const h = await createHarness({
      account: { folderFilter: inboxOnly },
      source: { msPerRequest: 1_000 },
      settings: { pageSize: 5, pipelineDepth: 3, timeBudgetSeconds: 4 },
    });
    const ids = Array.from({ length: 60 }, () => h.mailbox.create('Inbox'));
    const results = await h.runToCompletion();
    expect(results.length).toBeGreaterThan(1);
    expect(results.slice(0, -1).every((r) => r.outcome === 'continued')).toBe(true);
    expect([...h.byGraphId().keys()].sort()).toEqual([...ids].sort());
    expect(h.communications()).toHaveLength(60);
  });
});

describe('attachments of small messages', () => {
  it('lists them with their bytes in one request, with no download per attachment', async () => {
    const h = await createHarness({ account: { folderFilter: inboxOnly, syncAttachments: true } });
    const id = h.mailbox.create('Inbox', {}, [fileAttachment('one', 'first file'), fileAttachment('two', 'second')]);
    await h.run();

    expect(h.source.calls.listAttachments).toBe(1);
    expect(h.source.calls.downloadAttachment).toBe(0);
    const stored = h.byGraphId().get(id);
    expect(stored?.attachments.map((a) => [a.fileName, a.status])).toEqual([
      ['one.txt', 'stored'],
      ['two.txt', 'stored'],
    ]);
    const texts = stored?.attachments.map((a) =>
      h.blobs.blobs.get(`attachments/${a.blobName ?? ''}`)?.bytes.toString(),
    );
    expect(texts).toEqual(['first file', 'second']);
  });

  it('streams each file of a message above the inline limit (or of unknown size)', async () => {
    const h = await createHarness({
      account: { folderFilter: inboxOnly, syncAttachments: true },
      settings: { inlineAttachmentsMaxBytes: 10 },
    });
    const id = h.mailbox.create('Inbox', {}, [fileAttachment('one', 'first file'), fileAttachment('two', 'second')]);
    await h.run();

    expect(h.source.calls.listAttachments).toBe(1);
    expect(h.source.calls.downloadAttachment).toBe(2);
    const stored = h.byGraphId().get(id);
    const texts = stored?.attachments.map((a) =>
      h.blobs.blobs.get(`attachments/${a.blobName ?? ''}`)?.bytes.toString(),
    );
    expect(texts).toEqual(['first file', 'second']);
  });

  it("still records an attachment over the account's limit as skipped when its bytes came with the list", async () => {
    const h = await createHarness({
      account: { folderFilter: inboxOnly, syncAttachments: true, maxAttachmentSize: 1 },
    });
    const big = { ...fileAttachment('big', 'x'), size: 2 * 1024 * 1024 };
    const id = h.mailbox.create('Inbox', {}, [big, fileAttachment('small', 'ok')]);
    await h.run();
    const stored = h.byGraphId().get(id);
    expect(stored?.attachments.map((a) => a.status)).toEqual(['skipped', 'stored']);
    expect(stored?.attachments[0]?.skipReason).toMatch(/limit of 1 MB/);
  });
});

describe('contacts', () => {
  it('records a correspondent once per run, however many pages mention them, and again in the next run', async () => {
    const h = await createHarness({
      account: { folderFilter: inboxOnly, autoCreateContact: true },
      settings: { pageSize: 2 },
    });
    const recorded: string[] = [];
    const original = h.repos.contacts.recordSightings.bind(h.repos.contacts);
    h.repos.contacts.recordSightings = (candidates, sighting) => {
      recorded.push(...candidates.map((c) => c.email));
      return original(candidates, sighting);
    };
    for (let i = 0; i < 10; i++) {
      h.mailbox.create('Inbox', {
        from: { emailAddress: { name: i === 5 ? 'Ann Lee' : '', address: 'ann@partner.example' } },
        toRecipients: [{ emailAddress: { address: `other${i}@x.example` } }],
      });
    }
    await h.run();

    // Ann once without a name, once more when a later page gives her name; each other address once.
    expect(recorded.filter((e) => e === 'ann@partner.example')).toHaveLength(2);
    expect(recorded.filter((e) => e !== 'ann@partner.example').sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `other${i}@x.example`).sort(),
    );
    const ann = (await h.repos.contacts.list({ limit: 50 }, { email: 'ann@partner.example' })).items[0];
    expect(ann).toMatchObject({ fullName: 'Ann Lee', emailAccounts: ['Sales Inbox'] });

    h.mailbox.create('Inbox', { from: { emailAddress: { address: 'ann@partner.example' } } });
    await h.run();
    expect(recorded.filter((e) => e === 'ann@partner.example')).toHaveLength(3);
  });
});
