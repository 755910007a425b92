/**
 * The API's request and response shapes (zod). Field names are the spec's field names in camelCase.
 *
 * Response views are plain (non-strict) objects: the route framework parses every response through them,
 * which drops any stored field a view does not list (leases, delta links, blob names, token caches...).
 * Request schemas are strict at every level: unknown fields are refused.
 */
import { z } from 'zod';
import {
  createServicePrincipalInput,
  testConnectionInput,
  updateServicePrincipalInput,
} from '../domain/identity/service-principal-input';
import type { FolderPhase } from '../domain/sync/progress';
import {
  ACCOUNT_TYPES,
  CLOUDS,
  SERVICE_PRINCIPAL_AUDIT_ACTIONS,
  SYNC_LOG_STATUSES,
  SYNC_STATUSES,
  SYNC_TYPES,
  attachmentMeta,
  communicationRecord,
  emailAddress,
  folderFilterEntry,
  isoDate,
  isoDateTime,
  linkingRule,
  recordName,
} from '../domain/records';

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

/** `{name}` path param of email accounts. */
export const accountNameParams = z.object({ name: recordName.meta({ description: 'The account name.' }) });

/** Communication ids are hex digests (48 characters); anything else cannot exist. */
export const communicationIdParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a communication id')
    .meta({ description: 'The communication id.' }),
});

/** `{id}` and `{attachmentId}` path params of a communication's attachment. */
export const attachmentParams = communicationIdParams.extend({
  attachmentId: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z0-9+/=_-]+$/, 'must be an attachment id')
    .meta({ description: "The attachment's id (as listed in the communication's `attachments`)." }),
});

/** A Frappe-style doctype name, e.g. `Support Ticket`. */
export const referenceDoctype = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(140, 'must be at most 140 characters')
  .regex(/^[A-Za-z][A-Za-z0-9 _-]*$/, 'may contain only letters, digits, spaces, _ and -, starting with a letter');

/** The linked record's name, e.g. `TICKET-0042`. */
export const referenceName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(140, 'must be at most 140 characters')
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  .refine((v) => !/[\u0000-\u001f\u007f<>]/.test(v), 'must not contain control characters, < or >');

// ---------------------------------------------------------------------------------------------------------
// Email accounts

export const folderFilterView = z
  .object({
    folderName: z.string(),
    syncEnabled: z.boolean(),
    lastSyncTime: z.string().optional(),
  })
  .meta({ id: 'FolderFilterEntry' });

export const emailAccountView = z
  .object({
    accountName: z.string(),
    accountType: z.enum(ACCOUNT_TYPES),
    emailAddress: z.string(),
    user: z.string().meta({ description: 'User mailbox: its user. Shared mailbox: the admin who configured it.' }),
    enabled: z.boolean(),
    servicePrincipal: z.string(),
    syncFromDate: z.string().optional(),
    lastSyncTime: z.string().optional(),
    lastSyncStatus: z.enum(SYNC_STATUSES).optional(),
    syncErrorMessage: z.string().optional(),
    syncErrorCode: z.string().optional(),
    syncErrorRemedy: z.string().optional(),
    folderFilter: z.array(folderFilterView),
    autoCreateContact: z.boolean(),
    syncAttachments: z.boolean(),
    maxAttachmentSize: z.number().int().meta({ description: 'In MB.' }),
    linkingRules: z.array(linkingRule),
    throttledUntil: z.string().optional(),
    createdBy: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    etag: z.string().optional().meta({ description: 'Send as `If-Match` to make a change conditional.' }),
  })
  .meta({ id: 'EmailAccount' });

/** A folder of the mailbox (`MailboxFolderView` in `mailbox-reads.ts`), read from Microsoft 365. */
export const mailboxFolderView = z
  .object({
    id: z.string().meta({ description: "Graph's folder id." }),
    displayName: z.string(),
    path: z.string().meta({ description: 'Display names from the top of the mailbox, e.g. `Inbox/Orders`.' }),
    parentFolderId: z.string().optional(),
    totalItemCount: z.number().int(),
    unreadItemCount: z.number().int(),
    childFolderCount: z.number().int(),
    syncEnabled: z.boolean().meta({ description: "Whether the account's folder filter syncs this folder." }),
  })
  .meta({ id: 'MailboxFolder' });

export const mailboxFolderListView = z.object({ items: z.array(mailboxFolderView) }).meta({ id: 'MailboxFolderList' });

/** A folder to sync (the child table "M365 Folder Filter"), as a client sends it. */
export const folderFilterInput = z
  .object({
    folderName: folderFilterEntry.shape.folderName,
    syncEnabled: z.boolean().default(true),
  })
  .strict()
  .meta({ id: 'FolderFilterInput' });

export const folderFilterList = z
  .array(folderFilterInput)
  .max(100, 'must list at most 100 folders')
  .superRefine((folders, ctx) => {
    const seen = new Set<string>();
    folders.forEach((folder, index) => {
      const key = folder.folderName.toLowerCase();
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [index, 'folderName'], message: 'is listed twice' });
      seen.add(key);
    });
  });

const accountSettings = {
  syncFromDate: isoDate.optional().meta({ description: 'Sync mail received on or after this date.' }),
  folderFilter: folderFilterList.optional().meta({ description: 'Folders to sync (default: Inbox and Sent Items).' }),
  autoCreateContact: z.boolean().optional(),
  syncAttachments: z.boolean().optional(),
  maxAttachmentSize: z.number().int().min(0).max(150).optional().meta({ description: 'In MB (default 10).' }),
};

export const enableSyncBody = z
  .object({
    servicePrincipal: recordName.meta({ description: 'The service principal (tenant) to sync through.' }),
    emailAddress: emailAddress.optional().meta({ description: 'Your mailbox address (default: your username).' }),
    accountName: recordName.optional().meta({ description: 'Default: `M365-{emailAddress}`.' }),
    ...accountSettings,
  })
  .strict()
  .meta({ id: 'EnableSyncRequest' });
export type EnableSyncBody = z.output<typeof enableSyncBody>;

export const sharedMailboxBody = z
  .object({
    servicePrincipal: recordName,
    emailAddress: emailAddress.meta({ description: 'The shared mailbox address, e.g. support@contoso.com.' }),
    accountName: recordName.optional().meta({ description: 'Default: `M365-{emailAddress}`.' }),
    ...accountSettings,
  })
  .strict()
  .meta({ id: 'SharedMailboxRequest' });
export type SharedMailboxBody = z.output<typeof sharedMailboxBody>;

export const emailAccountPatchBody = z
  .object({
    enabled: z.boolean().optional(),
    servicePrincipal: recordName.optional(),
    syncFromDate: isoDate.nullable().optional().meta({ description: 'null clears it.' }),
    folderFilter: folderFilterList.optional(),
    autoCreateContact: z.boolean().optional(),
    syncAttachments: z.boolean().optional(),
    maxAttachmentSize: z.number().int().min(0).max(150).optional(),
    linkingRules: z.array(linkingRule).max(50, 'must list at most 50 rules').optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'must change at least one field')
  .meta({ id: 'EmailAccountPatch' });
export type EmailAccountPatchBody = z.output<typeof emailAccountPatchBody>;

export const folderFilterBody = z
  .object({ folderFilter: folderFilterList })
  .strict()
  .meta({ id: 'FolderFilterRequest' });

export const emailAccountListQuery = {
  accountType: z.enum(ACCOUNT_TYPES).optional(),
  enabled: z.stringbool().optional().meta({ description: '`true` or `false`.' }),
};

// ---------------------------------------------------------------------------------------------------------
// Sync logs

export const syncLogView = z
  .object({
    id: z.string(),
    emailAccount: z.string(),
    folderName: z.string(),
    syncType: z.enum(SYNC_TYPES),
    syncStartTime: z.string(),
    syncEndTime: z.string().optional(),
    status: z.enum(SYNC_LOG_STATUSES),
    emailsFetched: z.number().int(),
    emailsCreated: z.number().int(),
    emailsUpdated: z.number().int(),
    emailsSkipped: z.number().int(),
    emailsRemoved: z.number().int(),
    errorMessage: z.string().optional(),
    errorCode: z.string().optional(),
  })
  .meta({ id: 'SyncLog' });

// ---------------------------------------------------------------------------------------------------------
// Communications

/**
 * Views reuse the record's field schemas where the view shows the field as stored. Where the record validates
 * more strictly (ids, instants, non-negative sizes) the view keeps a plain type: a view drops fields, it never
 * refuses a stored record.
 */
export const attachmentView = z
  .object({
    ...attachmentMeta.pick({
      id: true,
      fileName: true,
      contentType: true,
      size: true,
      isInline: true,
      kind: true,
      status: true,
      skipReason: true,
      url: true,
      contentId: true,
    }).shape,
    size: z.number().int(),
    url: attachmentMeta.shape.url.meta({ description: 'The link, for reference attachments.' }),
  })
  .meta({ id: 'Attachment' });

const communicationFields = {
  ...communicationRecord.pick({
    id: true,
    emailAccount: true,
    accountType: true,
    owner: true,
    subject: true,
    sender: true,
    senderFullName: true,
    recipients: true,
    cc: true,
    bcc: true,
    sentOrReceived: true,
    communicationDate: true,
    seen: true,
    referenceDoctype: true,
    referenceName: true,
    folder: true,
    conversationId: true,
    messageId: true,
    inReplyTo: true,
    importance: true,
    categories: true,
    hasAttachments: true,
    attachments: true,
    removedInM365: true,
    createdAt: true,
    updatedAt: true,
    etag: true,
  }).shape,
  id: z.string(),
  emailAccount: z.string(),
  owner: z.string(),
  communicationDate: z.string(),
  attachments: z.array(attachmentView),
  createdAt: z.string(),
  updatedAt: z.string(),
};

/** In lists: everything but the body. */
export const communicationSummaryView = z.object(communicationFields).meta({ id: 'CommunicationSummary' });

export const communicationView = z
  .object({
    ...communicationFields,
    content: communicationRecord.shape.content.meta({
      description: 'HTML body (empty when the body is stored separately).',
    }),
    textContent: communicationRecord.shape.textContent,
    contentStoredSeparately: z.boolean().meta({ description: 'True when the body was too large for the record.' }),
  })
  .meta({ id: 'Communication' });

export const communicationListQuery = {
  emailAccount: recordName.optional(),
  folder: folderFilterEntry.shape.folderName.optional(),
  referenceDoctype: referenceDoctype.optional(),
  referenceName: referenceName.optional(),
  since: isoDateTime.optional().meta({ description: 'Only communications on or after this instant.' }),
};

export const communicationPatchBody = z
  .object({
    referenceDoctype: referenceDoctype.nullable().meta({ description: 'null removes the link.' }),
    referenceName: referenceName.nullable(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.referenceDoctype === null) !== (body.referenceName === null)) {
      ctx.addIssue({
        code: 'custom',
        path: [body.referenceDoctype === null ? 'referenceDoctype' : 'referenceName'],
        message: 'referenceDoctype and referenceName are set or cleared together',
      });
    }
  })
  .meta({ id: 'CommunicationLink' });

// ---------------------------------------------------------------------------------------------------------
// Contacts

export const contactView = z
  .object({
    id: z.string(),
    emailId: z.string(),
    fullName: z.string().optional(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    emailAccounts: z
      .array(z.string())
      .optional()
      .meta({ description: 'Accounts whose mail mentioned it (System Managers and Inbox Users only).' }),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Contact' });

export const contactListQuery = {
  email: emailAddress.optional().meta({ description: 'Exact address (case-insensitive).' }),
};

// ---------------------------------------------------------------------------------------------------------
// Service principals

/** `{name}` path param of service principals. */
export const servicePrincipalNameParams = z.object({
  name: recordName.meta({ description: 'The service principal name.' }),
});

export const servicePrincipalCreateBody = createServicePrincipalInput.meta({
  id: 'ServicePrincipalCreate',
  description:
    'Exactly one credential: `clientSecret` (with `clientSecretExpiresAt` for expiry warnings), `certificate: { pem }` ' +
    '(private key and certificate) or `federated: {}`. Secrets go to Key Vault and are never returned.',
});

export const servicePrincipalPatchBody = updateServicePrincipalInput.meta({
  id: 'ServicePrincipalPatch',
  description:
    'Only the fields to change. `null` clears an optional text field; for `authorityUrl`, `graphApiEndpoint` and ' +
    "`scopes` it restores the cloud's default. A new credential replaces the old one (rotation).",
});

const servicePrincipalCredentialView = z
  .object({
    kind: z.enum(['clientSecret', 'certificate', 'federated']),
    expiresAt: z.string().optional(),
    thumbprintSha256: z.string().optional(),
    managedIdentityClientId: z.string().optional(),
  })
  .meta({ id: 'ServicePrincipalCredential', description: 'How the principal signs in; never the secret itself.' });

const servicePrincipalAuditView = z
  .object({
    at: z.string(),
    action: z.enum(SERVICE_PRINCIPAL_AUDIT_ACTIONS),
    actor: z.string(),
    code: z.string().optional(),
    message: z.string().optional(),
  })
  .meta({ id: 'ServicePrincipalAuditEntry' });

/** What a System Manager sees: every field except secrets (`toPublicServicePrincipal`). */
export const servicePrincipalView = z
  .object({
    servicePrincipalName: z.string(),
    tenantId: z.string(),
    tenantName: z.string().optional(),
    clientId: z.string(),
    cloud: z.enum(CLOUDS),
    authorityUrl: z.string(),
    graphApiEndpoint: z.string(),
    scopes: z.string(),
    enabled: z.boolean(),
    company: z.string().optional(),
    description: z.string().optional(),
    credential: servicePrincipalCredentialView,
    hasTokenCache: z.boolean().meta({ description: 'An encrypted token cache is stored (never returned).' }),
    lastTokenRefresh: z.string().optional(),
    tokenExpiresAt: z.string().optional(),
    lastValidatedAt: z.string().optional(),
    validationError: z.object({ code: z.string(), message: z.string(), at: z.string() }).optional(),
    credentialWarning: z.string().optional().meta({ description: 'Set when the credential expires within 30 days.' }),
    audit: z.array(servicePrincipalAuditView),
    createdBy: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    etag: z.string().optional().meta({ description: 'Send as `If-Match` to make a change conditional.' }),
  })
  .meta({ id: 'ServicePrincipal' });

/** What everyone else sees of an enabled principal (to pick one when enabling sync). */
export const servicePrincipalNameView = z
  .object({ servicePrincipalName: z.string(), tenantName: z.string().optional() })
  .meta({ id: 'ServicePrincipalName' });

export const servicePrincipalListItem = z.union([servicePrincipalView, servicePrincipalNameView]);

export const servicePrincipalListQuery = {
  enabled: z.stringbool().optional().meta({ description: '`true` or `false` (others always see enabled ones only).' }),
};

const mailboxToProbe = testConnectionInput.shape.mailboxes.unwrap().element;

/** `?mailboxes=a@contoso.com,b@contoso.com` (a POST without a body). */
export const testConnectionQuery = z.object({
  mailboxes: z
    .string()
    .max(3500, 'is too long')
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    )
    .pipe(z.array(mailboxToProbe).min(1, 'must list at least one mailbox').max(10, 'must list at most 10 mailboxes'))
    .optional()
    .meta({
      description:
        'Comma-separated mailboxes (UPN or address) to probe. Default: up to 5 mailboxes of enabled accounts using the principal.',
    }),
});

export const connectionCheckView = z
  .object({
    name: z.string().meta({ description: '`token`, `permissions`, `directory` or `mailbox:<address>`.' }),
    ok: z.boolean(),
    code: z.string().meta({ description: '`OK`, or the Entra ID / Graph error code (e.g. `AADSTS7000215`).' }),
    message: z.string(),
    remedy: z.string().optional().meta({ description: 'What to do, for failed checks.' }),
  })
  .meta({ id: 'ConnectionCheck' });

export const testConnectionResultView = z
  .object({
    ok: z.boolean(),
    servicePrincipalName: z.string(),
    tokenExpiresAt: z.string().optional(),
    checks: z.array(connectionCheckView),
  })
  .meta({ id: 'TestConnectionResult' });

// ---------------------------------------------------------------------------------------------------------
// Sync control and status

export const syncRequestedView = z
  .object({
    queued: z.boolean().meta({ description: 'A sync request was queued.' }),
    syncing: z.boolean().meta({ description: 'A sync is already running (nothing was queued; it carries on).' }),
    statusUrl: z.string().meta({ description: "The account's sync status." }),
  })
  .meta({ id: 'SyncRequested' });

export const SYNC_SKIP_REASONS = ['syncing', 'throttled', 'principal-disabled'] as const;
export type SyncSkipReason = (typeof SYNC_SKIP_REASONS)[number];

export const syncAllRequestedView = z
  .object({
    queued: z.number().int().meta({ description: 'How many accounts were queued.' }),
    accounts: z.array(z.string()).meta({ description: 'The accounts queued.' }),
    skipped: z
      .array(z.object({ accountName: z.string(), reason: z.enum(SYNC_SKIP_REASONS), message: z.string() }))
      .meta({ description: 'Your enabled accounts that were not queued, and why.' }),
    statusUrl: z.string(),
  })
  .meta({ id: 'SyncAllRequested' });

const FOLDER_PHASES = [
  'not-started',
  'initial',
  'incremental-round',
  'up-to-date',
] as const satisfies readonly FolderPhase[];

export const folderSyncStatusView = z
  .object({
    folderName: z.string(),
    syncEnabled: z.boolean(),
    phase: z.enum(FOLDER_PHASES),
    initialSyncComplete: z.boolean().meta({ description: 'The first full sync of the folder has finished.' }),
    lastSyncTime: z.string().optional(),
    processed: z.number().int().meta({ description: 'Messages processed in the current (or last) round.' }),
    estimatedTotal: z.number().int().optional().meta({ description: "The folder's item count, when known." }),
    percent: z.number().int().min(0).max(100).optional().meta({ description: 'While the first sync runs.' }),
    etaSeconds: z.number().int().min(0).optional().meta({ description: 'Estimated seconds left, with `percent`.' }),
  })
  .meta({ id: 'FolderSyncStatus' });

export const syncStatusView = z
  .object({
    accountName: z.string(),
    accountType: z.enum(ACCOUNT_TYPES),
    enabled: z.boolean(),
    lastSyncTime: z.string().optional(),
    lastSyncStatus: z.enum(SYNC_STATUSES).optional(),
    syncErrorMessage: z.string().optional(),
    syncErrorCode: z.string().optional(),
    syncErrorRemedy: z.string().optional(),
    throttledUntil: z.string().optional().meta({ description: 'Microsoft Graph throttled the mailbox until then.' }),
    syncing: z.boolean().meta({ description: 'A sync is running now.' }),
    folders: z.array(folderSyncStatusView),
    recentLogs: z.array(syncLogView).meta({ description: 'The 5 newest sync logs.' }),
  })
  .meta({ id: 'SyncStatus' });

// ---------------------------------------------------------------------------------------------------------
// Operations

/** `GET /api/health` (`functions/health.ts`, `shared/use-cases/health.ts`). */
export const healthReportView = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() })),
  warnings: z
    .array(z.object({ servicePrincipalName: z.string(), expiresAt: z.string(), message: z.string() }))
    .optional()
    .meta({ description: 'Service principal credentials expiring within 30 days (or expired); absent when none.' }),
});
