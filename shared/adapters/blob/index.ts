/** The Azure Blob Storage adapter (attachment bytes, large bodies). */
export {
  AzureBlobStore,
  contentDispositionFor,
  ensureBlobContainers,
  type AzureBlobStoreOptions,
  type AzurePutBlobOptions,
  type OpenedBlob,
} from './azure-blob-store';
