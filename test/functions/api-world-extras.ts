/**
 * Wires the service principal and sync routes into an `ApiWorld` (see `api-fixture.ts`):
 *
 * - identity services over the world's in-memory repositories, with an in-memory secret store, a token
 *   provider that hands `Contoso` a token carrying Mail.Read and User.Read.All (anything else: no token), and a
 *   Graph probe that answers 200 — enough for the routes' access rules and input handling (the real Key
 *   Vault / Entra ID path is tested in `service-principals.test.ts` against the simulator);
 * - an Azurite queue of its own for sync requests.
 *
 * Every `world.reset()` re-wires both to the fresh repositories and empties the queue.
 *
 *   const world = await startApiWorld();
 *   const extras = await withServicePrincipalsAndSyncQueue(world);   // beforeAll
 *   await extras.close();                                            // afterAll, before world.close()
 */
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { setIdentityServicesForTests, type IdentityServices } from '../../shared/adapters/identity/factory';
import type { MsalTokenProvider } from '../../shared/adapters/msal/msal-token-provider';
import { StorageWorkQueue } from '../../shared/adapters/queue/storage-work-queue';
import { setSyncQueueForTests } from '../../shared/api/dependencies';
import { TokenCacheCipher } from '../../shared/domain/identity/token-cache-cipher';
import type { MailboxSyncMessage } from '../../shared/domain/sync/schedule';
import { InMemorySecretStore, ScriptedTokenProvider, fakeJwt } from '../shared/domain/identity/fakes';
import { testStack, uniqueName } from '../support/stack';
import type { ApiWorld } from './api-fixture';

export interface ApiWorldExtras {
  queue: QueueClient;
  /** The secret store of the current world (fresh after each reset). */
  secrets(): InMemorySecretStore;
  /** Every message on the sync queue, decoded (removes them). */
  drainQueue(): Promise<unknown[]>;
  /** What a refused request must not have left behind: secrets stored, messages queued. */
  sideEffects(): Promise<{ secrets: number; queued: number }>;
  close(): Promise<void>;
}

export async function withServicePrincipalsAndSyncQueue(world: ApiWorld): Promise<ApiWorldExtras> {
  const queue = QueueServiceClient.fromConnectionString(testStack().storageConnectionString).getQueueClient(
    uniqueName('api-sync'),
  );
  await queue.create();
  let secrets = new InMemorySecretStore();

  const wire = (): void => {
    secrets = new InMemorySecretStore();
    const tokens = new ScriptedTokenProvider();
    tokens.outcomes.set('Contoso', {
      accessToken: fakeJwt({ roles: ['Mail.Read', 'User.Read.All', 'MailboxSettings.Read', 'Mail.Send'] }),
      expiresOn: new Date(world.clock.now().getTime() + 3600_000),
      fromCache: false,
    });
    const services: IdentityServices = {
      servicePrincipals: world.repos.servicePrincipals,
      emailAccounts: world.repos.emailAccounts,
      secrets,
      cipher: new TokenCacheCipher(secrets, 'token-cache-key', world.clock),
      // The routes reach the token provider only through the TokenProvider port (test connection).
      tokens: tokens as unknown as MsalTokenProvider,
      graphProbe: { get: () => Promise.resolve({ status: 200 }) },
      clock: world.clock,
      allowedDevHosts: [],
    };
    setIdentityServicesForTests(services);
    setSyncQueueForTests(new StorageWorkQueue<MailboxSyncMessage>(queue));
  };

  const reset = world.reset.bind(world);
  world.reset = async () => {
    await reset();
    wire();
    await queue.clearMessages();
  };
  await world.reset();

  const drainQueue = async (): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (;;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
      if (receivedMessageItems.length === 0) return out;
      for (const item of receivedMessageItems) {
        out.push(JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')));
        await queue.deleteMessage(item.messageId, item.popReceipt);
      }
    }
  };

  return {
    queue,
    secrets: () => secrets,
    drainQueue,
    async sideEffects() {
      const { approximateMessagesCount } = await queue.getProperties();
      return { secrets: secrets.versions.size, queued: approximateMessagesCount ?? 0 };
    },
    async close() {
      world.reset = reset;
      setIdentityServicesForTests(undefined);
      setSyncQueueForTests(undefined);
      await queue.delete();
    },
  };
}
