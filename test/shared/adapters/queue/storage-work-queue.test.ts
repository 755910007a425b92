import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { StorageWorkQueue, encodeQueueMessage } from '../../../../shared/adapters/queue/storage-work-queue';
import { isAppError } from '../../../../shared/errors';
import { testStack, uniqueName } from '../../../support/stack';

interface Job {
  emailAccount: string;
  n: number;
}

describe('StorageWorkQueue (Azurite)', () => {
  let queue: QueueClient;

  beforeAll(async () => {
    queue = QueueServiceClient.fromConnectionString(testStack().storageConnectionString).getQueueClient(
      uniqueName('work'),
    );
    await queue.create();
  });
  afterAll(async () => {
    await queue.delete();
  });

  async function drain(): Promise<Job[]> {
    const out: Job[] = [];
    for (;;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
      if (receivedMessageItems.length === 0) return out;
      for (const item of receivedMessageItems) {
        out.push(JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as Job);
        await queue.deleteMessage(item.messageId, item.popReceipt);
      }
    }
  }

  it('sends base64 JSON the Functions host can decode', async () => {
    await new StorageWorkQueue<Job>(queue).send({ emailAccount: 'M365-a@contoso.com', n: 1 });
    expect(await drain()).toEqual([{ emailAccount: 'M365-a@contoso.com', n: 1 }]);
  });

  it('sends many messages concurrently, each exactly once', async () => {
    const jobs = Array.from({ length: 150 }, (_, n) => ({ emailAccount: `acct-${n}`, n }));
    await new StorageWorkQueue<Job>(queue).sendMany(jobs, { concurrency: 16 });
    const received = await drain();
    expect(received.map((j) => j.n).sort((a, b) => a - b)).toEqual(jobs.map((j) => j.n));
  });

  it('hides a delayed message until its delay passes', async () => {
    await new StorageWorkQueue<Job>(queue).send({ emailAccount: 'later', n: 2 }, { visibilityDelaySeconds: 2 });
    expect(await drain()).toEqual([]);
    await new Promise((r) => setTimeout(r, 2200));
    expect(await drain()).toEqual([{ emailAccount: 'later', n: 2 }]);
  });

  it('refuses a message over the 64 KiB limit before sending it', () => {
    let caught: unknown;
    try {
      encodeQueueMessage({ blob: 'x'.repeat(60_000) });
    } catch (error) {
      caught = error;
    }
    expect(isAppError(caught, 'PAYLOAD_TOO_LARGE')).toBe(true);
  });
});
