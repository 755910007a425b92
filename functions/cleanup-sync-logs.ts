/** Timer (daily, `CLEANUP_SYNC_LOGS_SCHEDULE`): deletes sync logs older than 30 days (TTL's backstop). */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { syncServices } from '../shared/adapters/sync-factory';
import { loggerFor } from '../shared/composition-root';
import { cleanupSyncLogs as cleanup } from '../shared/domain/sync';

export async function cleanupSyncLogs(_timer: Timer, context: InvocationContext): Promise<void> {
  const logger = loggerFor(context, { function: 'cleanup-sync-logs' });
  const { repositories, clock } = syncServices();
  await cleanup({ syncLogs: repositories.syncLogs, clock, logger });
}

app.timer('cleanup-sync-logs', {
  schedule: '%CLEANUP_SYNC_LOGS_SCHEDULE%',
  handler: cleanupSyncLogs,
});
