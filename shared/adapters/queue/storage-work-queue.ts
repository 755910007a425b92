/**
 * WorkQueue on Azure Storage queues. Messages are JSON, base64-encoded as the Functions host expects by
 * default (`messageEncoding: base64` in host.json). The queue SDK does not encode on its own.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { WorkQueue } from '../../domain/ports/work-queue';
import { AppError, dependencyUnavailable } from '../../errors';

/** Azure Storage rejects messages over 64 KiB (after base64). */
export const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;

export function encodeQueueMessage(message: unknown): string {
  const encoded = Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
  if (encoded.length > MAX_QUEUE_MESSAGE_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `A queue message may hold at most ${MAX_QUEUE_MESSAGE_BYTES} bytes.`);
  }
  return encoded;
}

export class StorageWorkQueue<T> implements WorkQueue<T> {
  constructor(private readonly queue: QueueClient) {}

  async send(message: T, options: { visibilityDelaySeconds?: number } = {}): Promise<void> {
    const text = encodeQueueMessage(message);
    try {
      await this.queue.sendMessage(text, {
        ...(options.visibilityDelaySeconds ? { visibilityTimeout: Math.ceil(options.visibilityDelaySeconds) } : {}),
      });
    } catch (error) {
      throw dependencyUnavailable('Azure Storage queue', error);
    }
  }

  async sendMany(messages: readonly T[], options: { concurrency?: number } = {}): Promise<void> {
    const concurrency = Math.max(1, options.concurrency ?? 32);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < messages.length) {
        const message = messages[next++] as T;
        await this.send(message);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));
  }
}
