/** The `mailbox-sync` queue (and any later work queue). Messages are JSON; adapters encode as the host expects. */
export interface WorkQueue<T> {
  send(message: T, options?: { visibilityDelaySeconds?: number }): Promise<void>;
  /** Sends many messages concurrently (bounded); resolves when all are accepted. */
  sendMany(messages: readonly T[], options?: { concurrency?: number }): Promise<void>;
}
