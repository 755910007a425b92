/**
 * The mail store, generator, ids and delta logic, in memory (no server): deterministic generation, REST vs
 * immutable ids across moves, folder counts, delta rounds (initial walk, changes, moves, deletes, repeats,
 * caps, ordering, expiry) and a 100,000-message mailbox walked through delta with bounded memory.
 */
import type { SimUser } from '../../../../dev/m365-simulator/contract';
import type { SimHttpError } from '../../../../dev/m365-simulator/contract';
import { deltaPage, type DeltaOptions } from '../../../../dev/m365-simulator/mail/delta';
import { MailStore, type FolderState, type MailboxStore } from '../../../../dev/m365-simulator/mail/store';

const NOW = new Date('2025-06-01T12:00:00Z');

function user(n: number): SimUser {
  return {
    id: `00000000-0000-4000-8000-00000000000${n}`,
    tenantId: 'tenant-1',
    userPrincipalName: `user${n}@contoso.com`,
    mail: `user${n}@contoso.com`,
    displayName: `Zoë Müller ${n}`,
    userPurpose: 'user',
    mailboxEnabled: true,
  };
}

function seeded(seed: number, folders: Record<string, number>, n = 1): MailboxStore {
  const store = new MailStore(() => NOW);
  const mailbox = store.mailbox(user(n));
  mailbox.seedMailbox({ seed, folders, since: '2025-01-01T00:00:00Z' });
  return mailbox;
}

interface Walked {
  present: string[];
  removed: { id: string; reason: string }[];
  pages: number;
  deltaToken: string;
}

/** Walks one delta round to its deltaToken. */
function walk(
  mailbox: MailboxStore,
  folder: FolderState,
  start: { token: string } | { options: DeltaOptions },
  pageSize: number,
  onPage?: (page: number) => void,
  immutable = false,
): Walked {
  const result: Walked = { present: [], removed: [], pages: 0, deltaToken: '' };
  let request = start;
  for (;;) {
    const page = deltaPage(mailbox, folder, request, pageSize);
    result.pages++;
    for (const item of page.items) {
      if (item.removed) {
        result.removed.push({
          id: mailbox.historicalMessageId(item.slot, item.folderSlot, item.gen, immutable),
          reason: item.removed,
        });
      } else {
        result.present.push(mailbox.messageId(item.slot, immutable));
      }
    }
    onPage?.(result.pages);
    if (page.deltaToken) {
      result.deltaToken = page.deltaToken;
      return result;
    }
    if (!page.skipToken) throw new Error('page without a token');
    request = { token: page.skipToken };
  }
}

describe('message generation', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = seeded(42, { Inbox: 20 });
    const b = seeded(42, { Inbox: 20 });
    const c = seeded(43, { Inbox: 20 });
    const view = (m: MailboxStore, slot: number) => {
      const content = m.content(slot);
      return { subject: content.subject, from: content.from, id: content.internetMessageId, body: content.body().html };
    };
    expect(view(a, 5)).toEqual(view(b, 5));
    expect(view(a, 5)).not.toEqual(view(c, 5));
    expect(a.table.received[7]).toBe(b.table.received[7]);
  });

  it('produces realistic threads, Unicode names and attachments', () => {
    const m = seeded(7, { Inbox: 400, 'Sent Items': 100 });
    const contents = Array.from({ length: 500 }, (_, slot) => m.content(slot));
    const replies = contents.filter((c) => c.references.length > 0);
    expect(replies.length).toBeGreaterThan(50);
    for (const reply of replies.slice(0, 20)) {
      expect(reply.inReplyTo).toBe(reply.references[reply.references.length - 1]);
      expect(reply.threadKey).toBe(reply.references[0]);
      expect(reply.subject).toMatch(/^(RE|Re|AW): /);
    }
    expect(contents.some((c) => /[^\u0020-\u007e]/.test(c.from?.name ?? ''))).toBe(true);
    expect(contents.filter((c) => c.attachments.length > 0).length).toBeGreaterThan(15);
    const sent = contents.slice(400);
    expect(sent.every((c) => c.from?.address === 'user1@contoso.com')).toBe(true);
    const body = contents[0]!.body();
    expect(body.html).toContain('<html>');
    expect(body.text.length).toBeGreaterThan(20);
  });

  it('keeps the same conversation for a generated reply chain', () => {
    const m = seeded(11, { Inbox: 200 });
    const byMessageId = new Map(Array.from({ length: 200 }, (_, s) => [m.content(s).internetMessageId, s] as const));
    const reply = Array.from({ length: 200 }, (_, s) => s).find((s) => m.content(s).references.length > 0)!;
    const rootSlot = byMessageId.get(m.content(reply).references[0]!)!;
    expect(m.conversationIdOf(m.content(reply))).toBe(m.conversationIdOf(m.content(rootSlot)));
  });
});

describe('folders and ids', () => {
  it('creates well-known and nested folders with counts', () => {
    const m = seeded(1, { Inbox: 10, 'Archive/2024': 5, 'Inbox/Projects/Alpha': 3 });
    const alpha = m.resolveFolderPath('Inbox/Projects/Alpha', false)!;
    expect(m.folderPath(alpha.slot)).toBe('Inbox/Projects/Alpha');
    expect(alpha.total).toBe(3);
    expect(m.wellKnown('inbox').children.length).toBe(1);
    expect(m.resolveFolderPath('archive/2024', false)!.total).toBe(5);
    expect(m.findFolder('INBOX')).toBe(m.wellKnown('inbox'));
    expect(m.findFolder(alpha.id)).toBe(alpha);
    const inbox = m.wellKnown('inbox');
    expect(inbox.unread).toBe(Array.from({ length: 10 }, (_, s) => s).filter((s) => !m.isRead(s)).length);
  });

  it('changes the REST id on a move but keeps the immutable id', () => {
    const m = seeded(1, { Inbox: 3 });
    const rest = m.messageId(0, false);
    const immutable = m.messageId(0, true);
    expect(rest).not.toBe(immutable);
    expect(rest.length).toBeGreaterThan(100);
    expect(m.lookupMessage(rest)).toEqual({ ok: true, slot: 0 });
    expect(m.lookupMessage(immutable)).toEqual({ ok: true, slot: 0 });
    m.moveMessage(0, m.wellKnown('archive').slot);
    expect(m.messageId(0, true)).toBe(immutable);
    expect(m.messageId(0, false)).not.toBe(rest);
    expect(m.lookupMessage(rest)).toEqual({ ok: false, reason: 'notFound' });
    expect(m.lookupMessage(m.messageId(0, false))).toEqual({ ok: true, slot: 0 });
    expect(m.wellKnown('inbox').total).toBe(2);
    expect(m.wellKnown('archive').total).toBe(1);
  });

  it('treats ids as case-sensitive and rejects garbage', () => {
    const m = seeded(1, { Inbox: 1 });
    const id = m.messageId(0, false);
    const recased = id.replace(/[a-z]/, (ch) => ch.toUpperCase());
    expect(recased).not.toBe(id);
    expect(m.lookupMessage(recased).ok).toBe(false);
    expect(m.lookupMessage('not an id!')).toEqual({ ok: false, reason: 'malformed' });
    const other = seeded(1, { Inbox: 1 }, 2);
    expect(other.lookupMessage(id)).toEqual({ ok: false, reason: 'notFound' });
  });
});

describe('delta', () => {
  it('walks the initial round in pages to a deltaToken, then returns nothing new', () => {
    const m = seeded(3, { Inbox: 25 });
    const inbox = m.wellKnown('inbox');
    const first = walk(m, inbox, { options: {} }, 10);
    expect(first.pages).toBe(3);
    expect(new Set(first.present).size).toBe(25);
    const second = walk(m, inbox, { token: first.deltaToken }, 10);
    expect(second.present).toEqual([]);
    expect(second.removed).toEqual([]);
  });

  it('reports changes, arrivals, moves out (changed) and deletions in the next round', () => {
    const m = seeded(3, { Inbox: 10 });
    const inbox = m.wellKnown('inbox');
    const archive = m.wellKnown('archive');
    const round1 = walk(m, inbox, { options: {} }, 4);
    const archiveRound1 = walk(m, archive, { options: {} }, 4);
    const movedRestId = m.messageId(2, false);
    const deletedRestId = m.messageId(3, false);
    m.updateMessage(1, { isRead: !m.isRead(1) });
    m.updateMessage(4, { patch: { categories: ['Red category'], subject: 'Edited' } });
    m.moveMessage(2, archive.slot);
    m.deleteMessage(3);
    const arrived = m.addMessage({ folderSlot: inbox.slot, receivedMs: NOW.getTime() });
    const round2 = walk(m, inbox, { token: round1.deltaToken }, 2);
    expect(new Set(round2.present)).toEqual(
      new Set([m.messageId(1, false), m.messageId(4, false), m.messageId(arrived, false)]),
    );
    expect(round2.removed).toEqual([
      { id: movedRestId, reason: 'changed' },
      { id: deletedRestId, reason: 'deleted' },
    ]);
    expect(m.content(4).subject).toBe('Edited');
    const archiveRound2 = walk(m, archive, { token: archiveRound1.deltaToken }, 10);
    expect(archiveRound2.present).toEqual([m.messageId(2, false)]);
  });

  it('reports removals with the immutable id under ImmutableId', () => {
    const m = seeded(3, { Inbox: 5 });
    const inbox = m.wellKnown('inbox');
    const round1 = walk(m, inbox, { options: {} }, 10, undefined, true);
    const immutable = m.messageId(0, true);
    m.moveMessage(0, m.wellKnown('archive').slot);
    const round2 = walk(m, inbox, { token: round1.deltaToken }, 10, undefined, true);
    expect(round2.removed).toEqual([{ id: immutable, reason: 'changed' }]);
  });

  it('repeats an item changed mid-walk later in the same round', () => {
    const m = seeded(3, { Inbox: 30 });
    const inbox = m.wellKnown('inbox');
    const firstId = m.messageId(0, false);
    const walked = walk(m, inbox, { options: {} }, 10, (page) => {
      if (page === 1) m.updateMessage(0, { isRead: !m.isRead(0) });
    });
    expect(walked.present.filter((id) => id === firstId)).toHaveLength(2);
    expect(new Set(walked.present).size).toBe(30);
    const next = walk(m, inbox, { token: walked.deltaToken }, 10);
    expect(next.present).toEqual([]);
  });

  it('delivers a deletion made mid-walk of the initial round', () => {
    const m = seeded(3, { Inbox: 30 });
    const inbox = m.wellKnown('inbox');
    const id = m.messageId(0, false);
    const walked = walk(m, inbox, { options: {} }, 10, (page) => {
      if (page === 2) m.deleteMessage(0);
    });
    expect(walked.present).toContain(id);
    expect(walked.removed).toEqual([{ id, reason: 'deleted' }]);
  });

  it('orders newest first, caps filtered rounds at 5,000 and honours $top as a total', () => {
    const m = seeded(5, { Inbox: 6000 });
    const inbox = m.wellKnown('inbox');
    const ordered = walk(m, inbox, { options: { orderDesc: true, top: 50 } }, 20);
    expect(ordered.present).toHaveLength(50);
    const received = ordered.present.map((id) => {
      const found = m.lookupMessage(id);
      if (!found.ok) throw new Error('lost');
      return m.table.received[found.slot]!;
    });
    expect([...received].sort((a, b) => b - a)).toEqual(received);
    const filtered = walk(
      m,
      inbox,
      { options: { filter: { op: 'ge', ms: Date.parse('2025-01-01T00:00:00Z') } } },
      1000,
    );
    expect(filtered.present).toHaveLength(5000);
    const recent = walk(m, inbox, { options: { filter: { op: 'gt', ms: Date.parse('2025-05-01T00:00:00Z') } } }, 1000);
    expect(recent.present.length).toBeGreaterThan(500);
    expect(recent.present.length).toBeLessThan(2000);
  });

  it('filters later rounds by changeType', () => {
    const m = seeded(3, { Inbox: 5 });
    const inbox = m.wellKnown('inbox');
    const base = walk(m, inbox, { options: { changeType: 'created' } }, 10);
    expect(base.present).toHaveLength(5);
    m.updateMessage(0, { isRead: !m.isRead(0) });
    const added = m.addMessage({ folderSlot: inbox.slot, receivedMs: NOW.getTime() });
    m.deleteMessage(1);
    const next = walk(m, inbox, { token: base.deltaToken }, 10);
    expect(next.present).toEqual([m.messageId(added, false)]);
    expect(next.removed).toEqual([]);
  });

  it('answers 410 for tokens issued before an expiry, with the chosen code', () => {
    const m = seeded(3, { Inbox: 15 });
    const inbox = m.wellKnown('inbox');
    const page = deltaPage(m, inbox, { options: {} }, 10);
    const round = walk(m, inbox, { options: {} }, 10);
    m.expireDelta(inbox.slot);
    const error = (token: string): SimHttpError => {
      try {
        deltaPage(m, inbox, { token }, 10);
      } catch (e) {
        return e as SimHttpError;
      }
      throw new Error('no error');
    };
    expect(error(round.deltaToken)).toMatchObject({ status: 410, code: 'SyncStateNotFound' });
    expect(error(page.skipToken!)).toMatchObject({ status: 410 });
    const fresh = walk(m, inbox, { options: {} }, 10);
    expect(fresh.present).toHaveLength(15);
    m.expireDelta(undefined, { code: 'resyncRequired' });
    expect(error(fresh.deltaToken)).toMatchObject({ status: 410, code: 'resyncRequired' });
    expect(error('garbage')).toMatchObject({ status: 400 });
  });

  // The simulator process's memory under a full 100k walk is a measured figure, not an assertion (it depends on
  // the garbage collector and on what else runs): `npm run sim:memory`. Here: correctness, and the store's own
  // compact size, which is deterministic.
  it('walks a 100,000-message mailbox with every id exactly once, from a compact store', () => {
    // JS heap plus ArrayBuffer backing stores (the store's typed-array columns live outside heapUsed).
    const used = (): number => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const heapAtStart = used();
    const startedAt = Date.now();
    const store = new MailStore(() => NOW);
    const m = store.mailbox(user(9));
    m.seedMailbox({ seed: 99, folders: { Inbox: 100_000 }, since: '2020-01-01T00:00:00Z' });
    const seededAt = Date.now();
    const heapSeeded = used();
    const inbox = m.wellKnown('inbox');
    const seen = new Uint8Array(100_000);
    let peak = heapSeeded;
    let count = 0;
    let request: { token: string } | { options: DeltaOptions } = {
      options: { select: ['subject', 'receivedDateTime'] },
    };
    for (;;) {
      const page = deltaPage(m, inbox, request, 1000);
      for (const item of page.items) {
        const found = m.lookupMessage(m.messageId(item.slot, true));
        if (!found.ok) throw new Error('id did not resolve');
        m.content(item.slot); // what a page serialiser does per message
        seen[found.slot] = (seen[found.slot] ?? 0) + 1;
        count++;
      }
      peak = Math.max(peak, used());
      if (page.deltaToken) break;
      request = { token: page.skipToken! };
    }
    expect(count).toBe(100_000);
    expect(seen.every((n) => n === 1)).toBe(true);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `100k mailbox: store columns+logs ${mb(m.memoryBytes())} MB; heap+arrayBuffers after seeding +${mb(heapSeeded - heapAtStart)} MB; ` +
        `peak during walk +${mb(peak - heapAtStart)} MB; seed ${seededAt - startedAt} ms, walk ${Date.now() - seededAt} ms`,
    );
    expect(m.memoryBytes()).toBeLessThan(16 * 1024 * 1024);
  });
});
