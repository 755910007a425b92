/**
 * API use cases that read from Microsoft 365 or from Blob storage rather than from Cosmos alone:
 * - the folders available in an account's mailbox (Graph, through the sync services' mail source and governor);
 * - a stored attachment's bytes (Blob), and a body too large for its Cosmos record (Blob).
 * Visibility is the same as for reading the account or the communication (NOT_FOUND otherwise).
 */
import { AppError, notFound } from '../errors';
import type { BlobStore, ByteStream } from '../domain/ports/blob-store';
import {
  classifyMailSourceError,
  isMailSourceError,
  remedyFor,
  type MailFolderInfo,
} from '../domain/ports/mail-source';
import type { Repositories } from '../domain/ports/repositories';
import type { AttachmentMeta, CommunicationRecord } from '../domain/records';
import type { Principal } from '../http/auth';
import type { SyncServices } from '../adapters/sync-factory';
import { isMailboxThrottled } from '../domain/sync/governor';
import { getCommunication, withBodyFlag } from './communications';
import { getVisibleAccount } from './email-accounts';

/** A folder as `GET /api/email-accounts/{name}/folders` lists it (`mailboxFolderView` in `schemas.ts`). */
export interface MailboxFolderView extends MailFolderInfo {
  /** Whether the account's folder filter syncs this folder (matched by path, ignoring case, or by folder id). */
  syncEnabled: boolean;
}

/** A Graph failure as the API reports it (never a 500 for something the admin can fix). */
export function mailSourceProblem(error: unknown): unknown {
  if (!isMailSourceError(error)) return error;
  const kind = classifyMailSourceError(error);
  const details = { graphCode: error.code, remedy: remedyFor(error.code) };
  switch (kind) {
    case 'throttled':
      return new AppError('RATE_LIMITED', 'Microsoft Graph is throttling this mailbox; try again shortly.', {
        details: { ...details, ...(error.retryAfterSeconds ? { retryAfterSeconds: error.retryAfterSeconds } : {}) },
        cause: error,
      });
    case 'authFailure':
    case 'unauthorized':
    case 'mailbox':
    case 'folderMissing':
      return new AppError(
        'CREDENTIAL_REJECTED',
        `Microsoft 365 refused to list this mailbox's folders (${error.code}).`,
        {
          details,
          cause: error,
        },
      );
    default:
      return new AppError('DEPENDENCY_UNAVAILABLE', `Microsoft Graph failed (${error.code}); try again later.`, {
        details,
        cause: error,
      });
  }
}

/** An API caller waits at most this long for a throttled mailbox (then 429). */
const FOLDER_LIST_WAIT_MS = 20_000;

const sameName = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** `GET /api/email-accounts/{name}/folders`. */
export async function listMailboxFolders(
  repositories: Repositories,
  services: Pick<SyncServices, 'mailSourceFor' | 'governor' | 'clock'>,
  principal: Principal,
  accountName: string,
): Promise<MailboxFolderView[]> {
  const account = await getVisibleAccount(repositories, principal, accountName);
  const servicePrincipal = await repositories.servicePrincipals.get(account.servicePrincipal);
  if (!servicePrincipal?.enabled) {
    throw new AppError(
      'CREDENTIAL_REJECTED',
      `The account's service principal "${account.servicePrincipal}" is ${servicePrincipal ? 'disabled' : 'missing'}.`,
      {
        details: {
          tokenErrorCode: servicePrincipal ? 'PRINCIPAL_DISABLED' : 'PRINCIPAL_NOT_FOUND',
          remedy: 'A System Manager must fix the service principal (Test connection shows what is wrong).',
        },
      },
    );
  }
  try {
    const source = await services.mailSourceFor(servicePrincipal);
    const mailboxKey = `${servicePrincipal.id}/${account.emailAddress.toLowerCase()}`;
    const invalidate = source.invalidateToken?.bind(source);
    const folders = await services.governor.run(mailboxKey, () => source.listFolders(account.emailAddress), {
      deadline: new Date(services.clock.now().getTime() + FOLDER_LIST_WAIT_MS),
      ...(invalidate ? { onUnauthorized: invalidate } : {}),
    });
    return folders.map((f) => ({
      ...f,
      syncEnabled: account.folderFilter.some(
        (entry) => entry.syncEnabled && (sameName(entry.folderName, f.path) || entry.state?.folderId === f.id),
      ),
    }));
  } catch (error) {
    if (isMailboxThrottled(error)) {
      throw new AppError('RATE_LIMITED', 'Microsoft Graph is throttling this mailbox; try again shortly.', {
        cause: error,
      });
    }
    throw mailSourceProblem(error);
  }
}

export interface StoredAttachment {
  data: ByteStream;
  size: number;
  contentType: string;
  fileName: string;
}

/** `GET /api/communications/{id}/attachments/{attachmentId}`: the stored bytes, or NOT_FOUND with a reason. */
export async function openAttachment(
  repositories: Repositories,
  blobs: BlobStore,
  container: string,
  principal: Principal,
  communicationId: string,
  attachmentId: string,
): Promise<StoredAttachment> {
  const communication = await getCommunication(repositories, principal, communicationId);
  const attachment: AttachmentMeta | undefined = communication.attachments.find((a) => a.id === attachmentId);
  if (!attachment) throw notFound('The attachment');
  if (attachment.status !== 'stored' || !attachment.blobName) {
    const reason = attachment.status === 'link' ? 'attachment-is-link' : 'attachment-not-stored';
    throw new AppError(
      'NOT_FOUND',
      attachment.status === 'link'
        ? 'The attachment is a link; its content was never stored. Open the link instead.'
        : `The attachment's content was not stored${attachment.skipReason ? `: ${attachment.skipReason}` : '.'}`,
      {
        details: {
          reason,
          ...(attachment.skipReason ? { skipReason: attachment.skipReason } : {}),
          ...(attachment.url ? { url: attachment.url } : {}),
        },
      },
    );
  }
  const blob = await blobs.getStream(container, attachment.blobName);
  if (!blob) {
    throw new AppError('NOT_FOUND', "The attachment's stored content is missing.", {
      details: { reason: 'attachment-content-missing' },
    });
  }
  return {
    data: blob.data,
    size: blob.size,
    contentType: attachment.contentType || blob.contentType || 'application/octet-stream',
    fileName: attachment.fileName,
  };
}

/**
 * `GET /api/communications/{id}`: the detail view (NOT_FOUND when the caller may not see it). With
 * `includeBody`, a body stored separately is read from Blob into `content` (the sync services are only built
 * then: `services` is called lazily).
 */
export async function readCommunication(
  repositories: Repositories,
  services: () => Pick<SyncServices, 'blobs' | 'settings'>,
  principal: Principal,
  id: string,
  includeBody: boolean,
): Promise<ReturnType<typeof withBodyFlag>> {
  const communication = await getCommunication(repositories, principal, id);
  const view = withBodyFlag(communication);
  if (includeBody && communication.contentBlob) {
    const { blobs, settings } = services();
    view.content = await fullBody(blobs, settings.attachmentsContainer, communication);
  }
  return view;
}

/** The full HTML body of a communication whose body went to Blob (`contentBlob`); the inline one otherwise. */
export async function fullBody(
  blobs: BlobStore,
  container: string,
  communication: Pick<CommunicationRecord, 'content' | 'contentBlob'>,
): Promise<string> {
  if (!communication.contentBlob) return communication.content;
  const blob = await blobs.getStream(container, communication.contentBlob);
  if (!blob) {
    throw new AppError('NOT_FOUND', "The communication's stored body is missing.", {
      details: { reason: 'body-content-missing' },
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of blob.data) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
