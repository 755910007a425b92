/** Creates the database and every container in `CONTAINERS` (idempotent: safe on every start-up). */
import type { ContainerDefinition, CosmosClient, Database, IndexingPolicy } from '@azure/cosmos';
import { CONTAINERS, type ContainerName } from '../../domain/records';
import { mapCosmosError } from './errors';

const baseIndexing = (excludedPaths: string[]): IndexingPolicy => ({
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/*' }],
  excludedPaths: [{ path: '/"_etag"/?' }, ...excludedPaths.map((path) => ({ path }))],
});

/**
 * Indexing: everything is filterable, except large fields nobody filters on (bodies, attachment lists,
 * encrypted token caches, folder sync state), which only cost RUs on every write.
 */
const INDEXING: Record<ContainerName, IndexingPolicy> = {
  servicePrincipals: baseIndexing(['/tokenCache/*', '/credential/*', '/description/?', '/audit/*']),
  emailAccounts: baseIndexing(['/folderFilter/*', '/linkingRules/*', '/syncErrorMessage/?']),
  syncLogs: baseIndexing(['/errorMessage/?']),
  communications: baseIndexing([
    '/content/?',
    '/textContent/?',
    '/attachments/*',
    '/references/?',
    '/recipients/?',
    '/cc/?',
    '/bcc/?',
  ]),
  contacts: baseIndexing([]),
};

export function containerDefinition(name: ContainerName): ContainerDefinition {
  const spec: { partitionKey: string; defaultTtlSeconds?: number } = CONTAINERS[name];
  return {
    id: name,
    partitionKey: { paths: [spec.partitionKey] },
    indexingPolicy: INDEXING[name],
    ...(spec.defaultTtlSeconds === undefined ? {} : { defaultTtl: spec.defaultTtlSeconds }),
  };
}

export async function ensureDatabase(client: CosmosClient, databaseName: string): Promise<Database> {
  try {
    const { database } = await client.databases.createIfNotExists({ id: databaseName });
    for (const name of Object.keys(CONTAINERS) as ContainerName[]) {
      await database.containers.createIfNotExists(containerDefinition(name));
    }
    return database;
  } catch (error) {
    throw mapCosmosError(error, 'database setup');
  }
}
