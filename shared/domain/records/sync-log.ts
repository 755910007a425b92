import { z } from 'zod';
import { isoDateTime, storedFields } from './common';

export const SYNC_LOG_STATUSES = ['Success', 'Partial Success', 'Failed'] as const;
export const SYNC_TYPES = ['Initial', 'Scheduled', 'Manual', 'Continuation'] as const;
export type SyncType = (typeof SYNC_TYPES)[number];

/** Container `syncLogs`, partition key `/emailAccount`, default TTL 30 days. */
export const syncLogRecord = z
  .object({
    ...storedFields,
    docType: z.literal('syncLog'),
    /** The account's name (partition key). */
    emailAccount: z.string().min(1),
    folderName: z.string(),
    syncType: z.enum(SYNC_TYPES),
    syncStartTime: isoDateTime,
    syncEndTime: isoDateTime.optional(),
    status: z.enum(SYNC_LOG_STATUSES),
    emailsFetched: z.number().int().nonnegative(),
    emailsCreated: z.number().int().nonnegative(),
    emailsUpdated: z.number().int().nonnegative(),
    emailsSkipped: z.number().int().nonnegative(),
    emailsRemoved: z.number().int().nonnegative(),
    errorMessage: z.string().optional(),
    errorCode: z.string().optional(),
    /** Seconds until Cosmos deletes it (container default 30 days). */
    ttl: z.number().int().positive().optional(),
  })
  .strict();
export type SyncLogRecord = z.infer<typeof syncLogRecord>;
