import { CosmosClient } from '@azure/cosmos';
import { QueueServiceClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { testStack, uniqueName } from '../support/stack';

describe('the embedded stack started for the suite', () => {
  const stack = testStack();

  it('serves Cosmos over HTTPS trusted through NODE_EXTRA_CA_CERTS', async () => {
    const client = new CosmosClient({ endpoint: stack.cosmosEndpoint, key: stack.cosmosKey });
    const { database } = await client.databases.createIfNotExists({ id: uniqueName('stack') });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: '/id' });
    await container.items.create({ id: 'a', value: 1 });
    const { resource } = await container.item('a', 'a').read<{ value: number }>();
    expect(resource?.value).toBe(1);
    await database.delete();
    client.dispose();
  });

  it('serves Azurite queues and blobs', async () => {
    const queue = QueueServiceClient.fromConnectionString(stack.storageConnectionString).getQueueClient(
      uniqueName('q'),
    );
    await queue.create();
    await queue.sendMessage('hello');
    const received = await queue.receiveMessages();
    expect(received.receivedMessageItems[0]?.messageText).toBe('hello');
    await queue.delete();

    const container = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
      uniqueName('b'),
    );
    await container.create();
    await container.getBlockBlobClient('x.txt').upload('data', 4);
    const body = await container.getBlobClient('x.txt').downloadToBuffer();
    expect(body.toString()).toBe('data');
    await container.delete();
  });
});
