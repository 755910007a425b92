export * from './common';
export * from './service-principal';
export * from './email-account';
export * from './sync-log';
export * from './communication';
export * from './contact';

/** Cosmos containers and their partition keys: the single source of truth (infra tests read it too). */
export const CONTAINERS = {
  servicePrincipals: { partitionKey: '/id' },
  emailAccounts: { partitionKey: '/id' },
  syncLogs: { partitionKey: '/emailAccount', defaultTtlSeconds: 30 * 24 * 3600 },
  communications: { partitionKey: '/emailAccount' },
  contacts: { partitionKey: '/id' },
} as const;
export type ContainerName = keyof typeof CONTAINERS;
