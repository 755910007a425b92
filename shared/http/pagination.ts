/**
 * Paging for every list route: `limit` (1–200, default 50) and the opaque `continuationToken` returned by
 * the previous page. Lists answer `{ items: [...], continuationToken: string | null }`.
 *
 * Tokens are the repositories' own opaque tokens, passed through untouched: the repository rejects a
 * tampered or foreign token with VALIDATION_FAILED (field `continuationToken`).
 */
import { z } from 'zod';
import { AppError, isAppError } from '../errors';
import type { Page, PageRequest } from '../domain/ports/repositories';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

/** Query fields to spread into a list route's query schema: `z.object({ ...pageQueryFields, folder: ... })`. */
export const pageQueryFields = {
  limit: z.coerce
    .number({ message: 'must be a whole number from 1 to 200' })
    .int('must be a whole number from 1 to 200')
    .min(1, 'must be a whole number from 1 to 200')
    .max(MAX_PAGE_LIMIT, 'must be a whole number from 1 to 200')
    .default(DEFAULT_PAGE_LIMIT)
    .meta({ description: 'Items per page, 1–200 (default 50).' }),
  continuationToken: z
    .string()
    .min(1, 'must not be empty')
    .max(16_384, 'is too long')
    .optional()
    .meta({ description: 'The `continuationToken` of the previous page (opaque).' }),
};

/** The query schema of a list route with no other parameters. */
export const pageQuery = z.object(pageQueryFields).strict();

/** The `PageRequest` for a repository from a parsed page query. */
export const pageRequest = (query: { limit: number; continuationToken?: string | undefined }): PageRequest => ({
  limit: query.limit,
  continuationToken: query.continuationToken ?? null,
});

/** `{ items: T[], continuationToken: string | null }`. */
export function listEnvelope<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    continuationToken: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `continuationToken` to get the next page; null on the last page.' }),
  });
}

/** Maps a repository page through a view function. */
export function mapPage<T, U>(page: Page<T>, view: (item: T) => U): { items: U[]; continuationToken: string | null } {
  return { items: page.items.map(view), continuationToken: page.continuationToken };
}

/**
 * Runs a repository page query, reporting a bad continuation token as the query parameter it came from
 * (`query.continuationToken`), like every other query-parameter error.
 */
export async function fetchPage<T>(load: () => Promise<Page<T>>): Promise<Page<T>> {
  try {
    return await load();
  } catch (error) {
    if (isAppError(error, 'VALIDATION_FAILED') && error.errors?.some((e) => e.field === 'continuationToken')) {
      throw new AppError('VALIDATION_FAILED', 'The continuation token is not valid for this query.', {
        errors: [{ field: 'query.continuationToken', message: 'is not a valid continuation token for this query' }],
      });
    }
    throw error;
  }
}
