/**
 * Contacts from mail (pure): every external address of a message (from, sender, to, cc, bcc, reply-to), deduped
 * case-insensitively, never the mailbox's own address. The repository merges sightings per address.
 */
import type { GraphMessageLike, GraphRecipientLike } from '../ports/mail-source';

export interface ContactCandidate {
  /** Lowercased. */
  email: string;
  fullName?: string;
}

/** Deliberately simple: one `@`, something on each side, a dot in the domain, no spaces or angle brackets. */
const PLAUSIBLE_EMAIL = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

export function extractContacts(
  messages: readonly GraphMessageLike[],
  mailboxAddress: string,
  /** Other addresses that are the mailbox itself (aliases). */
  ownAliases: readonly string[] = [],
): ContactCandidate[] {
  const own = new Set([mailboxAddress, ...ownAliases].map((a) => a.trim().toLowerCase()));
  const byEmail = new Map<string, ContactCandidate>();
  const add = (recipient: GraphRecipientLike | null | undefined): void => {
    const email = recipient?.emailAddress?.address?.trim().toLowerCase();
    if (!email || own.has(email) || email.length > 320 || !PLAUSIBLE_EMAIL.test(email)) return;
    const name = (recipient?.emailAddress?.name ?? '').replace(/\s+/g, ' ').trim();
    const usefulName = name !== '' && name.toLowerCase() !== email ? name.slice(0, 300) : undefined;
    const existing = byEmail.get(email);
    if (!existing) byEmail.set(email, usefulName ? { email, fullName: usefulName } : { email });
    else if (!existing.fullName && usefulName) existing.fullName = usefulName;
  };
  for (const m of messages) {
    add(m.from);
    add(m.sender);
    for (const list of [m.toRecipients, m.ccRecipients, m.bccRecipients, m.replyTo]) for (const r of list ?? []) add(r);
  }
  return [...byEmail.values()];
}

/**
 * The addresses a sync run has already recorded (per run, bounded): a correspondent seen on every page is
 * written once per run, not once per page. An address recorded without a name passes again when a later
 * sighting has one (to fill it in).
 */
export class ContactSightingCache {
  private readonly recorded = new Map<string, boolean>();

  constructor(private readonly maxEntries = 50_000) {}

  /** The candidates this run has not recorded yet (or only without the name this one has). */
  unrecorded(candidates: readonly ContactCandidate[]): ContactCandidate[] {
    return candidates.filter((c) => {
      const hadName = this.recorded.get(c.email);
      return hadName === undefined || (!hadName && c.fullName !== undefined);
    });
  }

  remember(candidates: readonly ContactCandidate[], except: ReadonlySet<string> = new Set()): void {
    for (const c of candidates) {
      if (except.has(c.email)) continue;
      if (this.recorded.size >= this.maxEntries && !this.recorded.has(c.email)) this.recorded.clear();
      this.recorded.set(c.email, this.recorded.get(c.email) === true || c.fullName !== undefined);
    }
  }
}
