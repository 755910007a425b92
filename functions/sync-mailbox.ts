/**
 * Queue worker (`SYNC_QUEUE_NAME`, default `mailbox-sync`): syncs one email account. Malformed messages are
 * logged and dropped (never retried: they cannot become valid). Only retryable errors are thrown, so the queue
 * retries transient failures from the last checkpoint; continuations and throttling requeue through the domain.
 */
import { app, type InvocationContext } from '@azure/functions';
import { syncServices } from '../shared/adapters/sync-factory';
import { loggerFor } from '../shared/composition-root';
import { parseMailboxSyncMessage, summarizeSyncRun, syncMailbox } from '../shared/domain/sync';
import { isRetryable } from '../shared/errors';

export async function syncMailboxWorker(message: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = context.triggerMetadata?.['dequeueCount'];
  const logger = loggerFor(context, { function: 'sync-mailbox', dequeueCount });
  const parsed = parseMailboxSyncMessage(message);
  if (!parsed.ok) {
    logger.warn('Malformed mailbox-sync message dropped', { errors: parsed.errors });
    return;
  }
  const services = syncServices();
  try {
    const result = await syncMailbox(services.syncDeps(logger), parsed.message, services.settings);
    logger.info('Mailbox sync run finished', {
      emailAccount: parsed.message.emailAccount,
      ...summarizeSyncRun(result),
    });
  } catch (error) {
    if (isRetryable(error)) throw error; // the queue retries; the run resumes from its checkpoint
    logger.error('Mailbox sync run failed; not retried', { emailAccount: parsed.message.emailAccount, error });
  }
}

app.storageQueue('sync-mailbox', {
  queueName: '%SYNC_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: syncMailboxWorker,
});
