/**
 * `cleanup-sync-logs` (daily timer): deletes sync logs older than the retention (30 days). Cosmos' TTL does the
 * same in Azure; this is the backstop (and the only mechanism on the local Cosmos stand-in, which ignores TTL).
 */
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { SyncLogRepository } from '../ports/repositories';

export const SYNC_LOG_RETENTION_DAYS = 30;

export interface CleanupSyncLogsDeps {
  syncLogs: Pick<SyncLogRepository, 'deleteOlderThan'>;
  clock: Clock;
  logger: Logger;
}

export async function cleanupSyncLogs(
  deps: CleanupSyncLogsDeps,
  options: { retentionDays?: number } = {},
): Promise<{ deleted: number; before: string }> {
  const days = options.retentionDays ?? SYNC_LOG_RETENTION_DAYS;
  const before = new Date(deps.clock.now().getTime() - days * 24 * 3600 * 1000);
  const deleted = await deps.syncLogs.deleteOlderThan(undefined, before);
  deps.logger.info('Old sync logs deleted', { deleted, before: before.toISOString() });
  return { deleted, before: before.toISOString() };
}
