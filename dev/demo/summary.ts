/** The end-of-demo summary table: one row per mailbox, with what the API now serves for it. */
import { formatCount, formatSeconds } from './progress';

export interface SummaryRow {
  mailbox: string;
  kind: 'user' | 'shared';
  folders: number;
  /** Communications the API serves for the account. */
  messages: number;
  /** Attachments of those communications. */
  attachments: number;
  durationSeconds?: number;
  status: string;
}

/** A plain-text table (fixed-width columns, numbers right-aligned), with a totals row. */
export function formatSummaryTable(rows: readonly SummaryRow[]): string {
  const header = ['Mailbox', 'Folders', 'Messages', 'Attachments', 'Duration', 'Status'];
  const body = rows.map((r) => [
    `${r.mailbox}${r.kind === 'shared' ? ' (shared)' : ''}`,
    String(r.folders),
    formatCount(r.messages),
    formatCount(r.attachments),
    r.durationSeconds === undefined ? '-' : formatSeconds(r.durationSeconds),
    r.status,
  ]);
  const longest = Math.max(0, ...rows.map((r) => r.durationSeconds ?? 0));
  const total = [
    'Total',
    String(rows.reduce((s, r) => s + r.folders, 0)),
    formatCount(rows.reduce((s, r) => s + r.messages, 0)),
    formatCount(rows.reduce((s, r) => s + r.attachments, 0)),
    rows.length > 0 ? formatSeconds(longest) : '-',
    '',
  ];
  const all = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const rightAligned = new Set([1, 2, 3, 4]);
  const line = (row: string[]): string =>
    '  ' +
    row
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = '  ' + widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line), rule, line(total)].join('\n');
}
