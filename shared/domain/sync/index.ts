/** The mailbox sync engine (domain only: no SDK imports). Adapters and functions import from here. */
export * from './attachments';
export * from './cleanup';
export * from './contacts';
export * from './folder-sync';
export * from './governor';
export * from './ids';
export * from './linking';
export * from './message-mapping';
export * from './progress';
export * from './schedule';
export * from './sync-mailbox';
export { mapWithConcurrency } from './concurrency';
