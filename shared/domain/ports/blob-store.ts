/**
 * Blob storage (Azure Blob Storage in every deployment; Azurite locally). Used for attachment bytes and for
 * message bodies too large for a Cosmos item. No SDK types: streams are plain async iterables of bytes, which
 * a Node `Readable` (or a web `ReadableStream` via `Readable.fromWeb`) already is.
 */

/** A byte stream. A Node `Readable` satisfies this structurally. */
export type ByteStream = AsyncIterable<Uint8Array>;

export interface PutBlobOptions {
  contentType?: string;
  /** Small ASCII key/values (no secrets, no personal data beyond ids). */
  metadata?: Record<string, string>;
}

export interface StoredBlob {
  /** The blob's name inside its container. */
  name: string;
  /** Bytes written. */
  size: number;
}

export interface BlobStore {
  /**
   * Streams `data` into `container/name`, overwriting an existing blob of that name (writes are idempotent:
   * names are derived from stable ids). Never buffers the whole stream in memory. Creates the container if
   * needed. An unreachable store throws a retryable AppError (DEPENDENCY_UNAVAILABLE).
   */
  putStream(container: string, name: string, data: ByteStream, options?: PutBlobOptions): Promise<StoredBlob>;
  /** The same for data already in memory (e.g. a large HTML body). Strings are written as UTF-8. */
  putBuffer(container: string, name: string, data: Uint8Array | string, options?: PutBlobOptions): Promise<StoredBlob>;
  /** Opens a blob for reading; `undefined` when it does not exist (the API's attachment download). */
  getStream(
    container: string,
    name: string,
  ): Promise<{ data: ByteStream; size: number; contentType: string | undefined } | undefined>;
}
