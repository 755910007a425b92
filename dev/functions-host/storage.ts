/**
 * Queue access for triggers and output bindings. A binding's `connection` names an app setting: either a
 * connection string, or the identity-based form `<connection>__queueServiceUri` / `<connection>__accountName`
 * (with `DefaultAzureCredential`, optionally `<connection>__clientId`). Default connection: `AzureWebJobsStorage`.
 */
import type * as Identity from '@azure/identity';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import type { RpcBindingInfo } from './core-types';
import { resolveSettings, stringOption } from './bindings';
import type { QueueSettings } from './host-json';

export const DEFAULT_CONNECTION = 'AzureWebJobsStorage';

export class QueueConnections {
  readonly #services = new Map<string, QueueServiceClient>();
  readonly #created = new Map<string, Promise<void>>();

  constructor(
    private readonly settings: () => Record<string, string | undefined>,
    private readonly defaultConnectionString: string | undefined,
  ) {}

  service(connection: string | undefined): QueueServiceClient {
    const name = connection ?? DEFAULT_CONNECTION;
    let client = this.#services.get(name);
    if (!client) {
      client = this.#create(name);
      this.#services.set(name, client);
    }
    return client;
  }

  #create(name: string): QueueServiceClient {
    const settings = this.settings();
    const connectionString = settings[name] ?? (name === DEFAULT_CONNECTION ? this.defaultConnectionString : undefined);
    if (connectionString) return QueueServiceClient.fromConnectionString(connectionString);
    const account = settings[`${name}__accountName`];
    const uri =
      settings[`${name}__queueServiceUri`] ?? (account ? `https://${account}.queue.core.windows.net` : undefined);
    if (!uri) {
      throw new Error(
        `Storage connection "${name}" is not configured: set "${name}" (a connection string) or "${name}__queueServiceUri"`,
      );
    }
    // Loaded only when an identity-based connection is used (keeps start-up fast locally).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy load
    const { DefaultAzureCredential } = require('@azure/identity') as typeof Identity;
    const clientId = settings[`${name}__clientId`];
    return new QueueServiceClient(
      uri,
      new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}),
    );
  }

  /** The queue a binding names (`queueName` with `%SETTING%` resolved). */
  queueFor(binding: RpcBindingInfo): QueueClient {
    const raw = stringOption(binding, 'queueName');
    if (!raw) throw new Error('The queue binding has no queueName');
    const queueName = resolveSettings(raw, this.settings()).toLowerCase();
    return this.service(stringOption(binding, 'connection')).getQueueClient(queueName);
  }

  /** Creates the queue once per host (output bindings and poison queues are created on first use). */
  async ensureQueue(queue: QueueClient): Promise<void> {
    const key = queue.url;
    let pending = this.#created.get(key);
    if (!pending) {
      pending = queue.createIfNotExists().then(() => undefined);
      this.#created.set(key, pending);
      pending.catch(() => this.#created.delete(key));
    }
    await pending;
  }

  async send(queue: QueueClient, content: Buffer, encoding: QueueSettings['messageEncoding']): Promise<void> {
    await this.ensureQueue(queue);
    await queue.sendMessage(encodeMessage(content, encoding));
  }
}

export function encodeMessage(content: Buffer, encoding: QueueSettings['messageEncoding']): string {
  return encoding === 'base64' ? content.toString('base64') : content.toString('utf8');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a message as the queue trigger does; throws when a base64 queue holds something else. */
export function decodeMessage(text: string, encoding: QueueSettings['messageEncoding']): Buffer {
  if (encoding === 'none') return Buffer.from(text, 'utf8');
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new Error('The message is not valid base64 (host.json extensions.queues.messageEncoding is "base64")');
  }
  return Buffer.from(compact, 'base64');
}
