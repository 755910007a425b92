/** The Cosmos DB adapters: client factory, database setup and one repository per record type. */
import type { Database } from '@azure/cosmos';
import type { Clock } from '../../domain/ports/clock';
import type { Repositories } from '../../domain/ports/repositories';
import { CosmosCommunicationRepository, type CommunicationRepositoryOptions } from './communication-repository';
import { CosmosContactRepository } from './contact-repository';
import { CosmosEmailAccountRepository, type EmailAccountRepositoryOptions } from './email-account-repository';
import { CosmosServicePrincipalRepository } from './service-principal-repository';
import { CosmosSyncLogRepository } from './sync-log-repository';

export { createCosmosClient, type CosmosClientSettings, type CosmosConnection } from './client';
export { ensureDatabase, containerDefinition } from './setup';
export { mapCosmosError } from './errors';
export {
  CosmosCommunicationRepository,
  CosmosContactRepository,
  CosmosEmailAccountRepository,
  CosmosServicePrincipalRepository,
  CosmosSyncLogRepository,
};
export type { CommunicationRepositoryOptions, EmailAccountRepositoryOptions };

export interface CosmosRepositoryOptions {
  clock: Clock;
  emailAccounts?: EmailAccountRepositoryOptions;
  communications?: CommunicationRepositoryOptions;
}

/** Every repository on one database (its containers must exist: `ensureDatabase`). */
export function createCosmosRepositories(database: Database, options: CosmosRepositoryOptions): Repositories {
  const { clock } = options;
  return {
    servicePrincipals: new CosmosServicePrincipalRepository(database.container('servicePrincipals'), clock),
    emailAccounts: new CosmosEmailAccountRepository(database.container('emailAccounts'), clock, options.emailAccounts),
    syncLogs: new CosmosSyncLogRepository(database.container('syncLogs'), clock),
    communications: new CosmosCommunicationRepository(
      database.container('communications'),
      clock,
      options.communications,
    ),
    contacts: new CosmosContactRepository(database.container('contacts'), clock),
  };
}
