/**
 * Timer (`SYNC_SCHEDULE`, every 5 minutes by default): one `mailbox-sync` message per enabled account whose
 * service principal is enabled, skipping accounts with a run in progress (live lease) or paused by throttling.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { syncServices } from '../shared/adapters/sync-factory';
import { loggerFor } from '../shared/composition-root';
import { scheduleMailboxSync as schedule } from '../shared/domain/sync';

export async function scheduleMailboxSync(_timer: Timer, context: InvocationContext): Promise<void> {
  const logger = loggerFor(context, { function: 'schedule-mailbox-sync' });
  const { repositories, queue, clock } = syncServices();
  // A failed send throws (retryable): the next tick sends again; duplicates are harmless (leases).
  await schedule({
    emailAccounts: repositories.emailAccounts,
    servicePrincipals: repositories.servicePrincipals,
    queue,
    clock,
    logger,
  });
}

app.timer('schedule-mailbox-sync', {
  schedule: '%SYNC_SCHEDULE%',
  handler: scheduleMailboxSync,
});
