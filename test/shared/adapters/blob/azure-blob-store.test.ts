/**
 * The Blob adapter against Azurite (the embedded stack), with the real `@azure/storage-blob` SDK.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobStore, contentDispositionFor, ensureBlobContainers } from '../../../../shared/adapters/blob';
import type { ByteStream } from '../../../../shared/domain/ports/blob-store';
import { MailSourceError } from '../../../../shared/domain/ports/mail-source';
import { isAppError } from '../../../../shared/errors';
import { testStack, uniqueName } from '../../../support/stack';

const MB = 1024 * 1024;

/** `total` deterministic pseudo-random bytes in 64 KiB chunks, never all in memory at once. */
function* chunks(total: number, seed: string): Generator<Uint8Array> {
  let produced = 0;
  let block = createHash('sha256').update(seed).digest();
  while (produced < total) {
    const size = Math.min(64 * 1024, total - produced);
    const chunk = Buffer.alloc(size);
    for (let offset = 0; offset < size; offset += block.length) {
      block = createHash('sha256').update(block).digest();
      block.copy(chunk, offset);
    }
    produced += size;
    yield chunk;
  }
}

const generated = (total: number, seed: string): Readable => Readable.from(chunks(total, seed));

async function digest(stream: ByteStream): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}

async function readText(stream: ByteStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

describe('AzureBlobStore (Azurite)', () => {
  const service = BlobServiceClient.fromConnectionString(testStack().storageConnectionString);
  const container = uniqueName('attachments');
  const store = new AzureBlobStore(service);

  afterAll(async () => {
    await service.getContainerClient(container).deleteIfExists();
  });

  it('round-trips a 5 MB stream byte for byte, creating the container on first use', async () => {
    const size = 5 * MB + 123;
    const expected = await digest(generated(size, 'five'));
    const stored = await store.putStream(container, 'acc/comm-1/att-1/report.pdf', generated(size, 'five'), {
      contentType: 'application/pdf',
      metadata: { kind: 'file' },
    });
    expect(stored).toEqual({ name: 'acc/comm-1/att-1/report.pdf', size });

    const opened = await store.getStream(container, 'acc/comm-1/att-1/report.pdf');
    expect(opened).toBeDefined();
    expect(opened!.size).toBe(size);
    expect(opened!.contentType).toBe('application/pdf');
    expect(opened!.contentDisposition).toBe('attachment; filename="report.pdf"');
    expect(await digest(opened!.data)).toEqual(expected);

    const properties = await service
      .getContainerClient(container)
      .getBlobClient('acc/comm-1/att-1/report.pdf')
      .getProperties();
    expect(properties.metadata).toEqual({ kind: 'file' });
  });

  it('overwrites the same name idempotently (one blob, the latest bytes)', async () => {
    const name = 'acc/comm-2/att-1/notes.txt';
    await store.putStream(container, name, generated(300_000, 'first'), { contentType: 'text/plain' });
    await store.putStream(container, name, generated(300_000, 'first'), { contentType: 'text/plain' });
    const second = await store.putStream(container, name, generated(1000, 'second'), { contentType: 'text/plain' });
    expect(second.size).toBe(1000);

    const opened = await store.getStream(container, name);
    expect(await digest(opened!.data)).toEqual(await digest(generated(1000, 'second')));
    const names: string[] = [];
    for await (const blob of service.getContainerClient(container).listBlobsFlat({ prefix: 'acc/comm-2/' })) {
      names.push(blob.name);
    }
    expect(names).toEqual([name]);
  });

  it('writes buffers and strings (UTF-8) with a Content-Disposition for non-ASCII names', async () => {
    const name = 'acc/comm-3/body.html';
    const stored = await store.putBuffer(container, name, '<p>Grüße – 你好</p>', {
      contentType: 'text/html; charset=utf-8',
      fileName: 'Résumé "final".html',
    });
    expect(stored.size).toBe(Buffer.byteLength('<p>Grüße – 你好</p>', 'utf8'));
    const opened = await store.getStream(container, name);
    expect(await readText(opened!.data)).toBe('<p>Grüße – 你好</p>');
    expect(opened!.contentType).toBe('text/html; charset=utf-8');
    expect(opened!.contentDisposition).toBe(
      `attachment; filename="R_sum_ _final_.html"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.html`,
    );
    expect(contentDispositionFor('a.txt')).toBe('attachment; filename="a.txt"');
  });

  it('answers undefined for a blob or container that does not exist', async () => {
    await expect(store.getStream(container, 'acc/nothing/here.bin')).resolves.toBeUndefined();
    await expect(store.getStream(uniqueName('missing'), 'x.bin')).resolves.toBeUndefined();
  });

  it('passes a failing source through unchanged and leaves the stored blob intact', async () => {
    const name = 'acc/comm-4/att-1/photo.jpg';
    await store.putStream(container, name, generated(200_000, 'good'), { contentType: 'image/jpeg' });
    const failure = new MailSourceError(0, 'NetworkError', 'Microsoft Graph could not be reached (ECONNRESET).');
    async function* breaksHalfway(): AsyncGenerator<Uint8Array> {
      yield* chunks(6 * MB, 'bad');
      await Promise.resolve();
      throw failure;
    }
    await expect(store.putStream(container, name, breaksHalfway(), { contentType: 'image/jpeg' })).rejects.toBe(
      failure,
    );
    const opened = await store.getStream(container, name);
    expect(await digest(opened!.data)).toEqual(await digest(generated(200_000, 'good')));
  });

  it('creates containers in the setup step (idempotent) and reports an unreachable store as retryable', async () => {
    const extra = uniqueName('setup');
    await ensureBlobContainers(service, [extra, extra]);
    expect(await service.getContainerClient(extra).exists()).toBe(true);
    await service.getContainerClient(extra).delete();

    const unreachable = new AzureBlobStore(
      new BlobServiceClient('http://127.0.0.1:9/devstoreaccount1', undefined, { retryOptions: { maxTries: 1 } }),
    );
    const error: unknown = await unreachable.putBuffer(container, 'x.txt', 'x').catch((e: unknown) => e);
    expect(isAppError(error, 'DEPENDENCY_UNAVAILABLE')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
  });
});
