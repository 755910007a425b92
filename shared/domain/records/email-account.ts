import { z } from 'zod';
import { emailAddress, isoDate, isoDateTime, recordName, storedFields } from './common';

export const ACCOUNT_TYPES = ['User Mailbox', 'Shared Mailbox'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export const SYNC_STATUSES = ['Success', 'Partial Success', 'Failed', 'In Progress'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** The folders synced when an account does not choose: the spec's defaults. */
export const DEFAULT_FOLDERS = ['Inbox', 'Sent Items'] as const;

/** Per-folder delta state. `nextLink` is the mid-run checkpoint; `deltaLink` the completed round's token. */
export const folderSyncState = z
  .object({
    folderId: z.string().optional(),
    deltaLink: z.string().optional(),
    nextLink: z.string().optional(),
    /** Messages processed in the current round (resumes with the nextLink). */
    processed: z.number().int().nonnegative().default(0),
    /** Total items in the folder when Graph gives it (for progress and ETA). */
    estimatedTotal: z.number().int().nonnegative().optional(),
    roundStartedAt: isoDateTime.optional(),
    /** A filtered initial delta caps at 5,000; the window's lower bound for the next catch-up pass. */
    filterFrom: isoDateTime.optional(),
    /** A filtered round hit the 5,000 cap: this folder's rounds run without `$filter` (older mail is dropped
     * client-side). Set by the sync engine (shared/domain/sync/folder-sync.ts). */
    unfiltered: z.boolean().optional(),
    /** The current fresh round is a resync (after an expired token, a cap restart or a re-created folder): at its
     * end, communications of the folder it did not deliver are marked removed (the sync engine's sweep). */
    sweepAtEnd: z.boolean().optional(),
  })
  .strict();
export type FolderSyncState = z.infer<typeof folderSyncState>;

/** Child table "M365 Folder Filter". `folderName` is a display name or a path such as `Inbox/Orders`. */
export const folderFilterEntry = z
  .object({
    folderName: z
      .string()
      .trim()
      .min(1)
      .max(400)
      // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
      .refine((v) => !/[\\\u0000-\u001f]/.test(v), 'must not contain control characters or backslashes'),
    syncEnabled: z.boolean().default(true),
    lastSyncTime: isoDateTime.optional(),
    state: folderSyncState.optional(),
  })
  .strict();
export type FolderFilterEntry = z.infer<typeof folderFilterEntry>;

/** A rule that links communications to business records (issue 5, item 8). Rules are data. */
export const linkingRule = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('subjectPattern'),
      /** A regular expression with one capture group giving the reference name, e.g. `\[#(TICKET-\d+)\]`. */
      pattern: z.string().min(1).max(500),
      referenceDoctype: z.string().min(1).max(140),
    })
    .strict(),
  z
    .object({
      kind: z.literal('senderDomain'),
      domain: z.string().min(1).max(253),
      referenceDoctype: z.string().min(1).max(140),
      referenceName: z.string().min(1).max(140),
    })
    .strict(),
  z.object({ kind: z.literal('threadInheritance') }).strict(),
]);
export type LinkingRule = z.infer<typeof linkingRule>;

/** Container `emailAccounts`, partition key `/id`; id = idForName(accountName). */
export const emailAccountRecord = z
  .object({
    ...storedFields,
    docType: z.literal('emailAccount'),
    accountName: recordName,
    accountType: z.enum(ACCOUNT_TYPES),
    emailAddress,
    /** For a user mailbox, the user; for a shared mailbox, the admin who configured it. Lowercased. */
    user: z.string().min(1).max(320),
    enabled: z.boolean(),
    /** The service principal's name. */
    servicePrincipal: recordName,
    syncFromDate: isoDate.optional(),
    lastSyncTime: isoDateTime.optional(),
    lastSyncStatus: z.enum(SYNC_STATUSES).optional(),
    syncErrorMessage: z.string().optional(),
    /** Machine-readable code of the last failure (a Graph or Entra code) and what to do about it. */
    syncErrorCode: z.string().optional(),
    syncErrorRemedy: z.string().optional(),
    folderFilter: z.array(folderFilterEntry).max(100),
    autoCreateContact: z.boolean(),
    syncAttachments: z.boolean(),
    /** In MB (spec default 10). */
    maxAttachmentSize: z.number().int().min(0).max(150),
    linkingRules: z.array(linkingRule).max(50).default([]),
    /** The worker's lease (one sync per account at a time). */
    lease: z.object({ holder: z.string(), expiresAt: isoDateTime }).strict().optional(),
    /** Graph throttled this mailbox; the fan-out skips it until then. */
    throttledUntil: isoDateTime.optional(),
    createdBy: z.string().optional(),
  })
  .strict();
export type EmailAccountRecord = z.infer<typeof emailAccountRecord>;
