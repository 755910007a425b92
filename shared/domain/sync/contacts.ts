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
