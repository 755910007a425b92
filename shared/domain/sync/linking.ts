/**
 * Linking communications to business records (pure). Rules are data (`LinkingRule`, stored on the account in
 * `linkingRules` or globally), evaluated in order; the first rule that matches sets `referenceDoctype` /
 * `referenceName`:
 * - `subjectPattern`: a regular expression on the subject; capture group 1 (or the whole match) is the name,
 *   e.g. `\[#(TICKET-\d+)\]` links "Re: [#TICKET-123] Printer" to TICKET-123.
 * - `senderDomain`: the sender's domain (or a subdomain of it) maps to a fixed record.
 * - `threadInheritance`: a reply inherits the reference of the message it answers — by `In-Reply-To` (then
 *   `References`, newest first) when headers are known, else by `conversationId`.
 * A reference already on a stored communication (set by a rule or by a person) is never overwritten.
 */
import type { LinkingRule } from '../records';

export interface RecordReference {
  referenceDoctype: string;
  referenceName: string;
}

export interface LinkingInput {
  subject: string;
  /** The sender's address. */
  sender: string;
  conversationId?: string;
  /** `In-Reply-To` header (a Message-ID), when known. */
  inReplyTo?: string;
  /** `References` header, when known. */
  references?: string;
}

/** References of already-linked messages, by conversation and by internet message id. */
export interface ThreadReferences {
  byConversationId: ReadonlyMap<string, RecordReference>;
  byMessageId: ReadonlyMap<string, RecordReference>;
}

/**
 * Finds references of stored, linked communications of an account (a port the Cosmos adapter implements with
 * one query per page: `SELECT c.conversationId, c.messageId, c.referenceDoctype, c.referenceName FROM c WHERE
 * c.emailAccount = @a AND IS_DEFINED(c.referenceName) AND (ARRAY_CONTAINS(@conv, c.conversationId) OR
 * ARRAY_CONTAINS(@ids, c.messageId))`). Optional: without it, inheritance works within one sync run.
 */
export interface ThreadReferenceLookup {
  findReferences(
    emailAccount: string,
    keys: { conversationIds: readonly string[]; messageIds: readonly string[] },
  ): Promise<ThreadReferences>;
}

export const emptyThreadReferences = (): ThreadReferences => ({ byConversationId: new Map(), byMessageId: new Map() });

export interface LinkMatch extends RecordReference {
  /** Index of the rule that matched, and its kind (for the per-message trace). */
  ruleIndex: number;
  ruleKind: LinkingRule['kind'];
}

const MAX_SUBJECT_FOR_MATCHING = 1000;
const compiled = new Map<string, RegExp | null>();

/** Compiles (and caches) a rule's pattern; `null` when it is not a valid regular expression. */
export function compilePattern(pattern: string): RegExp | null {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'i');
    } catch {
      re = null;
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** Message-ids in `In-Reply-To` then `References` (newest first), angle brackets kept as Graph gives them. */
export function parentMessageIds(input: Pick<LinkingInput, 'inReplyTo' | 'references'>): string[] {
  const ids: string[] = [];
  const push = (text: string | undefined, reverse: boolean): void => {
    const found = (text ?? '').match(/<[^<>\s]+>/g) ?? [];
    for (const id of reverse ? found.reverse() : found) if (!ids.includes(id)) ids.push(id);
  };
  push(input.inReplyTo, false);
  push(input.references, true);
  return ids;
}

const domainOf = (address: string): string => {
  const at = address.lastIndexOf('@');
  return at === -1
    ? ''
    : address
        .slice(at + 1)
        .trim()
        .toLowerCase();
};

export function applyLinkingRules(
  rules: readonly LinkingRule[],
  input: LinkingInput,
  thread: ThreadReferences = emptyThreadReferences(),
): LinkMatch | undefined {
  const subject = input.subject.slice(0, MAX_SUBJECT_FOR_MATCHING);
  for (const [ruleIndex, rule] of rules.entries()) {
    switch (rule.kind) {
      case 'subjectPattern': {
        const re = compilePattern(rule.pattern);
        const match = re?.exec(subject);
        const name = (match?.[1] ?? match?.[0])?.trim();
        if (name)
          return { referenceDoctype: rule.referenceDoctype, referenceName: name, ruleIndex, ruleKind: rule.kind };
        break;
      }
      case 'senderDomain': {
        const domain = domainOf(input.sender);
        const wanted = rule.domain.trim().toLowerCase().replace(/^@/, '');
        if (domain !== '' && (domain === wanted || domain.endsWith(`.${wanted}`))) {
          return {
            referenceDoctype: rule.referenceDoctype,
            referenceName: rule.referenceName,
            ruleIndex,
            ruleKind: rule.kind,
          };
        }
        break;
      }
      case 'threadInheritance': {
        for (const id of parentMessageIds(input)) {
          const ref = thread.byMessageId.get(id);
          if (ref) return { ...ref, ruleIndex, ruleKind: rule.kind };
        }
        const ref = input.conversationId ? thread.byConversationId.get(input.conversationId) : undefined;
        if (ref) return { ...ref, ruleIndex, ruleKind: rule.kind };
        break;
      }
    }
  }
  return undefined;
}

/** Whether any rule needs thread lookups (so the engine can skip the query otherwise). */
export const usesThreadInheritance = (rules: readonly LinkingRule[]): boolean =>
  rules.some((r) => r.kind === 'threadInheritance');
