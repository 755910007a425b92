/**
 * Starts the embedded stack once for the whole suite (Cosmos stand-in + Azurite) and publishes its
 * endpoints to the test workers through environment variables (read them with `test/support/stack.ts`).
 * Each test file isolates itself with its own database / queue / container names.
 */
import { startLocalStack, type LocalStack } from '../dev/local-stack/stack';

declare global {
  var __LOCAL_STACK__: LocalStack | undefined;
}

export default async function globalSetup(): Promise<void> {
  const stack = await startLocalStack();
  globalThis.__LOCAL_STACK__ = stack;
  process.env['TEST_COSMOS_ENDPOINT'] = stack.cosmos.endpoint;
  process.env['TEST_COSMOS_KEY'] = stack.cosmos.key;
  process.env['TEST_STORAGE_CONNECTION_STRING'] = stack.storage.connectionString;
  process.env['TEST_QUEUE_ENDPOINT'] = stack.storage.queueEndpoint;
  process.env['TEST_BLOB_ENDPOINT'] = stack.storage.blobEndpoint;
  process.env['TEST_TLS_CERT'] = stack.tls.certPath;
  process.env['TEST_TLS_KEY'] = stack.tls.keyPath;
}
