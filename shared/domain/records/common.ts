import { z } from 'zod';

/**
 * Record names (`servicePrincipalName`, `accountName`) appear in URL paths and become Cosmos ids, so they
 * are restricted to a safe alphabet: no `/ \ ? #`, no leading dot, no control characters, no `..`.
 */
export const recordName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9@._+' -]*$/, "may contain only letters, digits, spaces and @ . _ + ' -")
  .refine((v) => !v.includes('..'), 'must not contain ".."');

/** Cosmos id for a record name: names are unique case-insensitively. */
export const idForName = (name: string): string => name.trim().toLowerCase();

export const emailAddress = z
  .string()
  .trim()
  .max(320)
  .pipe(z.email('must be a valid email address'))
  .transform((v) => v.toLowerCase());

export const isoDateTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });
export const isoDate = z.iso.date('must be a date (YYYY-MM-DD)');
export const guid = z.guid('must be a GUID');

/** Fields every stored document has. `etag` is Cosmos' `_etag`, surfaced for optimistic concurrency. */
export const storedFields = {
  id: z.string().min(1),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
  etag: z.string().optional(),
};
