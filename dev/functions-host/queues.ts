/**
 * Storage queue triggers, with the Functions queue extension's semantics: poll with back-off up to
 * `maxPollingInterval`, fetch `batchSize` messages and the next batch once no more than `newBatchThreshold` are
 * still running; keep a message leased (invisible) while its function runs; on success write the outputs then
 * delete the message; on failure make it visible again after `visibilityTimeout`; after `maxDequeueCount` failed
 * attempts copy the message, body unchanged, to `<queue>-poison` and delete it.
 */
import type { QueueClient, DequeuedMessageItem } from '@azure/storage-queue';
import { randomUUID } from 'node:crypto';
import type { RpcInvocationRequest, RpcTypedData } from './core-types';
import { triggerOf } from './bindings';
import type { RegisteredFunction } from './functions-core';
import type { QueueSettings } from './host-json';
import type { InvocationOutcome } from './invoke';
import { describeError, elapsed, type HostLog } from './log';
import { decodeMessage, type QueueConnections } from './storage';

const MIN_POLL_MS = 100;

export interface QueueListenerDeps {
  fn: RegisteredFunction;
  queue: QueueClient;
  /** `<queue>-poison` in the same account, created on first use. */
  poisonQueue: QueueClient;
  connections: QueueConnections;
  settings: QueueSettings;
  /** How long a received message stays invisible while its function runs. */
  leaseMs: number;
  invoke(fn: RegisteredFunction, request: RpcInvocationRequest): Promise<InvocationOutcome>;
  writeOutputs(fn: RegisteredFunction, outcome: InvocationOutcome): Promise<void>;
  log: HostLog;
}

/** The trigger input and metadata for one message, shaped as the host sends them. */
export function queueInvocationRequest(
  fn: RegisteredFunction,
  message: Pick<
    DequeuedMessageItem,
    'messageId' | 'popReceipt' | 'dequeueCount' | 'insertedOn' | 'expiresOn' | 'nextVisibleOn'
  >,
  content: Buffer,
): RpcInvocationRequest {
  const { name, binding } = triggerOf(fn);
  const text = content.toString('utf8');
  const data: RpcTypedData = binding.dataType === 'binary' ? { bytes: content } : { string: text };
  return {
    inputData: [{ name, data }],
    triggerMetadata: {
      QueueTrigger: { string: text },
      DequeueCount: { int: message.dequeueCount },
      Id: { string: message.messageId },
      PopReceipt: { string: message.popReceipt },
      InsertionTime: { string: message.insertedOn.toISOString() },
      ExpirationTime: { string: message.expiresOn.toISOString() },
      NextVisibleTime: { string: message.nextVisibleOn.toISOString() },
      sys: {
        json: JSON.stringify({
          MethodName: fn.metadata.name,
          UtcNow: new Date().toISOString(),
          RandGuid: randomUUID(),
        }),
      },
    },
  };
}

export class QueueListener {
  readonly #deps: QueueListenerDeps;
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #missingQueueLogged = false;

  constructor(deps: QueueListenerDeps) {
    this.#deps = deps;
  }

  get queueName(): string {
    return this.#deps.queue.name;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops polling and waits (up to `graceMs`) for running invocations to finish. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    if (this.#inFlight.size > 0) {
      await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(graceMs)]);
    }
  }

  async #run(): Promise<void> {
    const { settings, queue, log } = this.#deps;
    let delay = MIN_POLL_MS;
    while (!this.#stopped) {
      if (this.#inFlight.size > settings.newBatchThreshold) {
        await Promise.race([...this.#inFlight]);
        continue;
      }
      let messages: DequeuedMessageItem[] = [];
      try {
        const result = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: Math.max(1, Math.ceil(this.#deps.leaseMs / 1000)),
        });
        messages = result.receivedMessageItems;
        this.#missingQueueLogged = false;
      } catch (error) {
        if (this.#stopped) break;
        if ((error as { statusCode?: number }).statusCode === 404) {
          if (!this.#missingQueueLogged) log.warn(`queue ${queue.name} does not exist yet; waiting for it`);
          this.#missingQueueLogged = true;
        } else {
          log.warn(`queue ${queue.name}: polling failed: ${describeError(error)}`);
        }
      }
      if (messages.length === 0) {
        await this.#sleep(delay);
        delay = Math.min(delay * 2, Math.max(MIN_POLL_MS, settings.maxPollingIntervalMs));
        continue;
      }
      delay = MIN_POLL_MS;
      for (const message of messages) {
        const task = this.#process(message).finally(() => this.#inFlight.delete(task));
        this.#inFlight.add(task);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { fn, queue, settings, log } = this.#deps;
    const name = fn.metadata.name;
    const startedAt = performance.now();
    const attempt = `attempt ${message.dequeueCount}/${settings.maxDequeueCount}`;
    const label = `queue ${queue.name} ${message.messageId.slice(0, 8)}`;
    try {
      if (message.dequeueCount > settings.maxDequeueCount) {
        await this.#poison(message, label);
        return;
      }
      try {
        const content = decodeMessage(message.messageText, settings.messageEncoding);
        const outcome = await this.#deps.invoke(fn, queueInvocationRequest(fn, message, content));
        await this.#deps.writeOutputs(fn, outcome);
      } catch (error) {
        log.error(`${label} ✗ ${attempt} in ${elapsed(startedAt)} [${name}] ${describeError(error)}`);
        if (message.dequeueCount >= settings.maxDequeueCount) {
          await this.#poison(message, label);
        } else {
          await queue.updateMessage(
            message.messageId,
            message.popReceipt,
            undefined,
            Math.ceil(settings.visibilityTimeoutMs / 1000),
          );
        }
        return;
      }
      await queue.deleteMessage(message.messageId, message.popReceipt);
      log.info(`${label} ✓ ${attempt} in ${elapsed(startedAt)} [${name}]`);
    } catch (error) {
      // Completing the message failed (e.g. the lease expired): it will be delivered again.
      log.warn(`${label}: could not complete the message: ${describeError(error)}`);
    }
  }

  async #poison(message: DequeuedMessageItem, label: string): Promise<void> {
    const { queue, poisonQueue, connections, log } = this.#deps;
    await connections.ensureQueue(poisonQueue);
    // The raw message text, so the body stays exactly as it was enqueued (same encoding).
    await poisonQueue.sendMessage(message.messageText);
    await queue.deleteMessage(message.messageId, message.popReceipt);
    log.error(`${label} moved to ${poisonQueue.name} after ${message.dequeueCount} attempts`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
