/**
 * BlobStore on Azure Blob Storage (`@azure/storage-blob`; Azurite locally).
 *
 * - `putStream` streams with `uploadStream` (staged blocks, then one commit): memory stays at about
 *   `uploadBufferBytes × uploadConcurrency` whatever the size. Until the commit nothing is visible, so a failed
 *   upload leaves an existing blob of that name untouched, and writing the same name again overwrites it
 *   (idempotent: names derive from stable ids).
 * - Content type and `Content-Disposition` (`attachment; filename=…`, from the last segment of the name unless
 *   given) are set as blob HTTP headers, so a download (or a SAS link) gets the right file name.
 * - Containers are created once per process on first use (`createIfNotExists`); the setup step can create
 *   them ahead with `ensureBlobContainers`.
 * - Errors: a failure of the *source* stream (e.g. a Graph download) propagates unchanged; an unreachable store,
 *   5xx, 408 or 429 becomes a retryable AppError `DEPENDENCY_UNAVAILABLE`; other refusals a non-retryable
 *   `INTERNAL` AppError with the storage status and code.
 */
import { Readable } from 'node:stream';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { BlobStore, ByteStream, PutBlobOptions, StoredBlob } from '../../domain/ports/blob-store';
import { AppError, dependencyUnavailable } from '../../errors';

const SERVICE = 'Azure Blob Storage';

export interface AzureBlobStoreOptions {
  /** Block size of streamed uploads. Default 4 MiB. */
  uploadBufferBytes?: number;
  /** Blocks staged at once per upload. Default 2. */
  uploadConcurrency?: number;
}

/** Extra options this adapter understands (structurally a `PutBlobOptions`). */
export interface AzurePutBlobOptions extends PutBlobOptions {
  /** The file name offered on download. Default: the last segment of the blob name. */
  fileName?: string;
  /** A full `Content-Disposition` value, or `null` for none. Default: `attachment` with `fileName`. */
  contentDisposition?: string | null;
}

export interface OpenedBlob {
  data: ByteStream & Readable;
  size: number;
  contentType: string | undefined;
  contentDisposition: string | undefined;
}

/** `attachment; filename="report.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf` (RFC 6266 / 5987). */
export function contentDispositionFor(fileName: string): string {
  const clean = fileName.replace(/[\r\n]+/g, ' ').trim() || 'download';
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const extended = encodeURIComponent(clean).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return ascii === clean
    ? `attachment; filename="${ascii}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${extended}`;
}

/** Metadata Azure accepts: C#-identifier keys, ASCII values (others percent-encoded). */
function metadataFor(metadata: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!metadata) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,255}$/.test(key)) continue;
    out[key] = /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
  }
  return out;
}

function storageError(error: unknown, what: string): AppError {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (status === undefined || status >= 500 || status === 408 || status === 429) {
    return dependencyUnavailable(SERVICE, error);
  }
  return new AppError('INTERNAL', `${SERVICE} refused to ${what} (${status}${code ? ` ${code}` : ''}).`, {
    cause: error,
    details: { storageStatus: status, ...(code ? { storageCode: code } : {}) },
  });
}

const isNotFound = (error: unknown): boolean => (error as { statusCode?: unknown } | null)?.statusCode === 404;

const toBuffer = (chunk: Uint8Array | string): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk, 'utf8')
    : Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

export class AzureBlobStore implements BlobStore {
  private readonly ensured = new Map<string, Promise<void>>();
  private readonly bufferBytes: number;
  private readonly concurrency: number;

  constructor(
    private readonly service: BlobServiceClient,
    options: AzureBlobStoreOptions = {},
  ) {
    this.bufferBytes = Math.max(64 * 1024, Math.floor(options.uploadBufferBytes ?? 4 * 1024 * 1024));
    this.concurrency = Math.max(1, Math.floor(options.uploadConcurrency ?? 2));
  }

  async putStream(
    container: string,
    name: string,
    data: ByteStream,
    options: AzurePutBlobOptions = {},
  ): Promise<StoredBlob> {
    const client = await this.container(container);
    let size = 0;
    let sourceFailure: { error: unknown } | undefined;
    async function* counted(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of data) {
          const buffer = toBuffer(chunk);
          size += buffer.length;
          yield buffer;
        }
      } catch (error) {
        sourceFailure = { error };
        throw error;
      }
    }
    const stream = Readable.from(counted(), { objectMode: false });
    try {
      await client
        .getBlockBlobClient(name)
        .uploadStream(stream, this.bufferBytes, this.concurrency, this.uploadOptions(name, options));
    } catch (error) {
      if (sourceFailure) throw sourceFailure.error;
      throw storageError(error, `store blob "${name}"`);
    } finally {
      // Stops (and cancels) the source if the upload gave up early.
      stream.destroy();
    }
    if (sourceFailure) throw sourceFailure.error;
    return { name, size };
  }

  async putBuffer(
    container: string,
    name: string,
    data: Uint8Array | string,
    options: AzurePutBlobOptions = {},
  ): Promise<StoredBlob> {
    const client = await this.container(container);
    const body = toBuffer(data);
    try {
      await client.getBlockBlobClient(name).upload(body, body.length, this.uploadOptions(name, options));
    } catch (error) {
      throw storageError(error, `store blob "${name}"`);
    }
    return { name, size: body.length };
  }

  /** The blob as a stream (consume or destroy it), or `undefined` when it (or its container) does not exist. */
  async getStream(container: string, name: string): Promise<OpenedBlob | undefined> {
    try {
      const response = await this.service.getContainerClient(container).getBlobClient(name).download();
      const body = response.readableStreamBody;
      if (!body) throw new Error('The download has no body.');
      return {
        data: body as Readable,
        size: response.contentLength ?? 0,
        contentType: response.contentType,
        contentDisposition: response.contentDisposition,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(error, `read blob "${name}"`);
    }
  }

  /** Deletes a blob if it exists (clean-up of removed messages). Returns whether one was deleted. */
  async delete(container: string, name: string): Promise<boolean> {
    try {
      const response = await this.service.getContainerClient(container).getBlobClient(name).deleteIfExists();
      return response.succeeded;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw storageError(error, `delete blob "${name}"`);
    }
  }

  private uploadOptions(name: string, options: AzurePutBlobOptions) {
    const fileName = options.fileName ?? name.split('/').pop() ?? name;
    const disposition =
      options.contentDisposition === undefined ? contentDispositionFor(fileName) : options.contentDisposition;
    const metadata = metadataFor(options.metadata);
    return {
      blobHTTPHeaders: {
        blobContentType: options.contentType ?? 'application/octet-stream',
        ...(disposition === null ? {} : { blobContentDisposition: disposition }),
      },
      ...(metadata ? { metadata } : {}),
    };
  }

  /** The container, created on first use in this process. */
  private async container(name: string): Promise<ContainerClient> {
    const client = this.service.getContainerClient(name);
    let ready = this.ensured.get(name);
    if (!ready) {
      ready = client.createIfNotExists().then(
        () => undefined,
        (error: unknown) => {
          this.ensured.delete(name);
          throw storageError(error, `create container "${name}"`);
        },
      );
      this.ensured.set(name, ready);
    }
    await ready;
    return client;
  }
}

/** The setup step: creates the containers (e.g. `ATTACHMENTS_CONTAINER`) if they do not exist. Idempotent. */
export async function ensureBlobContainers(service: BlobServiceClient, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await service.getContainerClient(name).createIfNotExists();
    } catch (error) {
      throw storageError(error, `create container "${name}"`);
    }
  }
}
