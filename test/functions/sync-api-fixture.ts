/**
 * For the in-memory API world (`api-fixture.ts`): sync services whose mail source lists a fixed set of folders
 * and whose blob store holds the bytes of every seeded stored attachment (and one large body), so the routes
 * that read Microsoft 365 or Blob storage can run in the authorization and bad-input tables. Integration with
 * the real Graph adapter and Azurite is covered by `test/e2e/sync/`.
 *
 *   installSyncApiFakes(world);   // after startApiWorld()
 *   uninstallSyncApiFakes();      // afterAll
 */
import { createSyncServices, setSyncServicesForTests } from '../../shared/adapters/sync-factory';
import type { MailFolderInfo, MailSource } from '../../shared/domain/ports/mail-source';
import { FakeBlobStore, FakeQueue } from '../shared/domain/sync/fakes';
import type { ApiWorld } from './api-fixture';

export const ATTACHMENTS_CONTAINER = 'attachments';
export const SEEDED_ATTACHMENT_BYTES = Buffer.from('%PDF-1.7 seeded attachment bytes');

export const FIXED_FOLDERS: MailFolderInfo[] = [
  { id: 'f-inbox', displayName: 'Inbox', path: 'Inbox', totalItemCount: 3, unreadItemCount: 1, childFolderCount: 1 },
  {
    id: 'f-orders',
    displayName: 'Orders',
    path: 'Inbox/Orders',
    parentFolderId: 'f-inbox',
    totalItemCount: 0,
    unreadItemCount: 0,
    childFolderCount: 0,
  },
  {
    id: 'f-sent',
    displayName: 'Sent Items',
    path: 'Sent Items',
    totalItemCount: 1,
    unreadItemCount: 0,
    childFolderCount: 0,
  },
];

const notUsed = (): never => {
  throw new Error('not used by the API routes');
};

export function installSyncApiFakes(world: ApiWorld): { blobs: FakeBlobStore; folderCalls: string[] } {
  const blobs = new FakeBlobStore();
  for (const index of [0, 1, 2]) {
    blobs.blobs.set(`${ATTACHMENTS_CONTAINER}/internal/blob/path-${index}`, {
      bytes: SEEDED_ATTACHMENT_BYTES,
      contentType: 'application/pdf',
    });
  }
  const folderCalls: string[] = [];
  const source: MailSource & { listFolders(mailbox: string): Promise<MailFolderInfo[]> } = {
    resolveFolders: notUsed,
    deltaPage: notUsed,
    listAttachments: notUsed,
    downloadAttachment: notUsed,
    getMimeOfItemAttachment: notUsed,
    listFolders: (mailbox) => {
      folderCalls.push(mailbox);
      return Promise.resolve(FIXED_FOLDERS);
    },
  };
  setSyncServicesForTests(
    createSyncServices({
      // Unused by the routes: they read records through apiDependencies() (the world's current repositories).
      repositories: world.repos,
      queue: new FakeQueue(),
      blobs,
      settings: { pageSize: 50, timeBudgetSeconds: 60, leaseSeconds: 120, attachmentsContainer: ATTACHMENTS_CONTAINER },
      mailSourceFor: () => source,
      clock: world.clock,
    }),
  );
  return { blobs, folderCalls };
}

export function uninstallSyncApiFakes(): void {
  setSyncServicesForTests(undefined);
}
