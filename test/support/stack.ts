/**
 * The embedded stack started by `test/global-setup.ts`, as seen from a test file, plus helpers that give
 * each test file isolated resources (a database, queue or container name of its own).
 */
import { randomBytes } from 'node:crypto';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: is test/global-setup.ts configured in jest.config.js?`);
  return value;
}

export interface TestStack {
  cosmosEndpoint: string;
  cosmosKey: string;
  storageConnectionString: string;
  queueEndpoint: string;
  blobEndpoint: string;
  tlsCertPath: string;
  tlsKeyPath: string;
}

export function testStack(): TestStack {
  return {
    cosmosEndpoint: required('TEST_COSMOS_ENDPOINT'),
    cosmosKey: required('TEST_COSMOS_KEY'),
    storageConnectionString: required('TEST_STORAGE_CONNECTION_STRING'),
    queueEndpoint: required('TEST_QUEUE_ENDPOINT'),
    blobEndpoint: required('TEST_BLOB_ENDPOINT'),
    tlsCertPath: required('TEST_TLS_CERT'),
    tlsKeyPath: required('TEST_TLS_KEY'),
  };
}

/** A name unique to this test run, valid as a Cosmos database, queue or blob container name. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 30) || 't';
  return `${clean}-${randomBytes(5).toString('hex')}`;
}
