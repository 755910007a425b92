/**
 * The demo's progress lines and summary table (pure logic): how sync-status snapshots become per-mailbox
 * progress (state, rate, ETA, duration), when a failure counts as final, and how lines are printed on a
 * terminal (redrawn in place) versus in CI (periodic lines).
 */
import type { AccountSyncStatus, FolderSyncStatus } from '../../../dev/demo/clients';
import {
  ProgressRenderer,
  ProgressTracker,
  formatProgressLine,
  type MailboxProgress,
} from '../../../dev/demo/progress';
import { formatSummaryTable } from '../../../dev/demo/summary';

const folder = (processed: number, extra: Partial<FolderSyncStatus> = {}): FolderSyncStatus => ({
  folderName: 'Inbox',
  syncEnabled: true,
  phase: 'initial',
  initialSyncComplete: false,
  processed,
  ...extra,
});

const status = (extra: Partial<AccountSyncStatus>): AccountSyncStatus => ({
  accountName: 'M365-adele@contoso.test',
  accountType: 'User Mailbox',
  enabled: true,
  syncing: true,
  folders: [],
  ...extra,
});

function tracker(): { tracker: ProgressTracker; advance: (ms: number) => void } {
  let now = 1000;
  return {
    tracker: new ProgressTracker(
      [{ accountName: 'M365-adele@contoso.test', label: 'adele@contoso.test', plannedTotal: 1000, plannedFolders: 2 }],
      () => now,
    ),
    advance: (ms) => (now += ms),
  };
}

describe('ProgressTracker', () => {
  it('waits, then reports messages synced, rate and ETA from the folder counts', () => {
    const { tracker: t, advance } = tracker();
    expect(t.snapshot()[0]).toMatchObject({ state: 'waiting', synced: 0, total: 1000, folders: 2 });

    t.update([status({ folders: [folder(0), folder(0, { folderName: 'Sent Items' })] })]);
    advance(10_000);
    const [p] = t.update([
      status({
        folders: [folder(300, { estimatedTotal: 600 }), folder(100, { folderName: 'Sent Items', estimatedTotal: 200 })],
      }),
    ]);
    expect(p).toMatchObject({ state: 'syncing', synced: 400, total: 800 });
    expect(p!.ratePerSecond).toBeCloseTo(40);
    expect(p!.etaSeconds).toBeCloseTo(10);
    expect(t.allFinished()).toBe(false);
  });

  it('uses the seeded total until Graph has counted every folder', () => {
    const { tracker: t } = tracker();
    const [p] = t.update([
      status({ folders: [folder(50, { estimatedTotal: 600 }), folder(0, { folderName: 'Sent' })] }),
    ]);
    expect(p!.total).toBe(1000);
  });

  it('is done when the run ends in Success, with its duration, and ignores later rounds', () => {
    const { tracker: t, advance } = tracker();
    t.update([status({ folders: [folder(10)] })]);
    advance(20_000);
    const done = t.update([
      status({
        syncing: false,
        lastSyncStatus: 'Success',
        folders: [folder(1000, { phase: 'up-to-date', initialSyncComplete: true })],
      }),
    ]);
    expect(done[0]).toMatchObject({ state: 'done', synced: 1000, total: 1000, status: 'Success', durationSeconds: 20 });
    expect(t.allFinished()).toBe(true);
    // The next (incremental) round restarts the folder counters: the demo's figures stay.
    const later = t.update([status({ syncing: true, folders: [folder(3, { phase: 'incremental-round' })] })]);
    expect(later[0]).toMatchObject({ state: 'done', synced: 1000 });
  });

  it('treats a Failed run as retrying first, and as final only when it stays Failed', () => {
    const { tracker: t, advance } = tracker();
    const failed = status({
      syncing: false,
      lastSyncStatus: 'Failed',
      syncErrorCode: 'AADSTS7000215',
      syncErrorMessage: 'Invalid client secret.',
      folders: [folder(0)],
    });
    expect(t.update([failed])[0]).toMatchObject({ state: 'retrying', status: 'AADSTS7000215' });
    advance(44_000);
    expect(t.update([failed])[0]!.state).toBe('retrying');
    advance(2_000);
    expect(t.update([failed])[0]).toMatchObject({ state: 'failed', error: 'Invalid client secret.' });
    expect(t.allFinished()).toBe(true);
  });

  it('forgets a failure once the retry runs', () => {
    const { tracker: t, advance } = tracker();
    t.update([status({ syncing: false, lastSyncStatus: 'Failed', folders: [folder(0)] })]);
    advance(40_000);
    t.update([status({ syncing: true, lastSyncStatus: 'In Progress', folders: [folder(100)] })]);
    advance(40_000);
    expect(t.update([status({ syncing: false, lastSyncStatus: 'Failed', folders: [folder(100)] })])[0]!.state).toBe(
      'retrying',
    );
  });
});

describe('ProgressRenderer', () => {
  const line = (state: MailboxProgress['state'], synced: number, name = 'adele'): MailboxProgress => ({
    accountName: name,
    label: `${name}@contoso.test`,
    state,
    synced,
    total: 100,
    folders: 1,
    ...(state === 'done' ? { durationSeconds: 3, status: 'Success' } : {}),
  });

  it('redraws the same lines in place on a terminal', () => {
    const out: string[] = [];
    const r = new ProgressRenderer({ tty: true, write: (t) => out.push(t) });
    r.render([line('syncing', 10), line('waiting', 0, 'megan')]);
    r.render([line('syncing', 50), line('syncing', 5, 'megan')]);
    expect(out[0]!.startsWith('\x1b[')).toBe(true);
    expect(out[0]).not.toContain('\x1b[2F');
    expect(out[1]!.startsWith('\x1b[2F')).toBe(true); // back up two lines, then overwrite them
    expect(out[1]!.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('prints every line every interval in CI, and a finished mailbox once', () => {
    let now = 0;
    const out: string[] = [];
    const r = new ProgressRenderer({ tty: false, write: (t) => out.push(t), intervalMs: 2000, now: () => now });
    r.render([line('syncing', 10), line('syncing', 5, 'megan')]);
    now = 1000;
    r.render([line('syncing', 20), line('syncing', 6, 'megan')]); // too soon: nothing
    now = 1500;
    r.render([line('done', 100), line('syncing', 7, 'megan')]); // adele finished: her line only
    now = 2100;
    r.render([line('done', 100), line('syncing', 8, 'megan')]); // periodic: megan only (adele already printed)
    const printed = out.join('').trim().split('\n');
    expect(printed.map((l) => l.trim().split(' ')[0])).toEqual([
      'adele@contoso.test',
      'megan@contoso.test',
      'adele@contoso.test',
      'megan@contoso.test',
    ]);
    expect(printed[2]).toContain('done in 3.0 s');
    expect(out.join('')).not.toContain('\x1b');
  });

  it('formats a syncing line with counts, percentage, rate and ETA', () => {
    const text = formatProgressLine({ ...line('syncing', 812), total: 1400, ratePerSecond: 210, etaSeconds: 2.8 }, 20);
    expect(text).toMatch(/adele@contoso\.test\s+\[#{12}\.{8}\]\s+812 \/ 1,400\s+57%\s+210 msg\/s\s+ETA 2\.8 s$/);
  });
});

describe('formatSummaryTable', () => {
  it('lists each mailbox with its figures and a totals row', () => {
    const table = formatSummaryTable([
      {
        mailbox: 'adele@contoso.test',
        kind: 'user',
        folders: 4,
        messages: 1400,
        attachments: 140,
        durationSeconds: 30,
        status: 'Success',
      },
      {
        mailbox: 'support@contoso.test',
        kind: 'shared',
        folders: 2,
        messages: 700,
        attachments: 70,
        durationSeconds: 12.5,
        status: 'Success',
      },
    ]).split('\n');
    expect(table[0]).toMatch(/^\s+Mailbox\s+Folders\s+Messages\s+Attachments\s+Duration\s+Status$/);
    expect(table[2]).toMatch(/adele@contoso\.test\s+4\s+1,400\s+140\s+30 s\s+Success$/);
    expect(table[3]).toMatch(/support@contoso\.test \(shared\)\s+2\s+700\s+70\s+13 s\s+Success$/);
    expect(table[5]).toMatch(/Total\s+6\s+2,100\s+210\s+30 s$/);
  });
});
