/**
 * RFC 9457 problem details (`application/problem+json`) for every error the API returns.
 *
 * Only `AppError`s say anything specific to the caller; anything else becomes a 500 `INTERNAL` with the
 * correlation id and nothing else (no message, no stack). Messages of `AppError`s are written for callers
 * and never contain secrets or tokens (see `shared/errors.ts`).
 */
import { z } from 'zod';
import { ERROR_CODES, isAppError, type AppError, type ErrorCode } from '../errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://m365-mail-sync.dev/problems/';

/** The codes a response may carry: every code except `CONFIG_INVALID` (callers see `INTERNAL`). */
export const PUBLIC_ERROR_CODES = (Object.keys(ERROR_CODES) as ErrorCode[]).filter(
  (code): code is Exclude<ErrorCode, 'CONFIG_INVALID'> => code !== 'CONFIG_INVALID',
) as [Exclude<ErrorCode, 'CONFIG_INVALID'>, ...Exclude<ErrorCode, 'CONFIG_INVALID'>[]];
export type PublicErrorCode = Exclude<ErrorCode, 'CONFIG_INVALID'>;

const TITLES: Partial<Record<PublicErrorCode, string>> = {
  VALIDATION_FAILED: 'Your request has invalid input.',
  UNAUTHENTICATED: 'Authentication is required.',
  FORBIDDEN: 'You are not allowed to do this.',
  NOT_FOUND: 'Not found.',
  CONFLICT: 'The request conflicts with the current state.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  RATE_LIMITED: 'Too many requests.',
  DEPENDENCY_UNAVAILABLE: 'A service this API depends on is unavailable.',
  CREDENTIAL_REJECTED: 'Entra ID refused the service principal.',
  INTERNAL: 'Something went wrong on our side.',
};

/** `VALIDATION_FAILED` → `https://m365-mail-sync.dev/problems/validation-failed`. */
export const problemType = (code: PublicErrorCode): string => PROBLEM_TYPE_BASE + code.toLowerCase().replace(/_/g, '-');

export const fieldErrorSchema = z
  .object({
    field: z.string().meta({ description: 'Dotted path of the field; `query.` / `path.` prefix outside the body.' }),
    message: z.string(),
  })
  .strict()
  .meta({ id: 'FieldError' });

/** The problem+json body. Documented once in the OpenAPI document (`#/components/schemas/Problem`). */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.enum(PUBLIC_ERROR_CODES),
    /** The invocation id: quote it when reporting a problem; it finds the server-side log entry. */
    correlationId: z.string(),
    /** VALIDATION_FAILED: one entry per offending field. */
    errors: z.array(fieldErrorSchema).optional(),
    /** Extra machine-readable detail (e.g. `reason: 'duplicate'`, `field`) — never secrets. */
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details with a stable `code`.' });
export type Problem = z.infer<typeof problemSchema>;

export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  problem: Problem;
}

/**
 * Maps an error to the problem returned to the caller. `AppError`s keep their code, status and message;
 * `CONFIG_INVALID` and everything else become `INTERNAL` with a generic message.
 */
export function toProblem(error: unknown, correlationId: string): ProblemResponse {
  const headers: Record<string, string> = {};
  if (isAppError(error) && error.code !== 'CONFIG_INVALID' && error.code !== 'INTERNAL') {
    const code = error.code;
    const problem: Problem = {
      type: problemType(code),
      title: titleFor(error),
      status: error.status,
      detail: error.message,
      code,
      correlationId,
    };
    if (error.errors && error.errors.length > 0) problem.errors = error.errors;
    const details = publicDetails(error);
    if (details) problem.details = details;
    const retryAfter = error.details?.['retryAfterSeconds'];
    if ((code === 'RATE_LIMITED' || code === 'DEPENDENCY_UNAVAILABLE') && typeof retryAfter === 'number') {
      headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfter)));
    }
    if (code === 'UNAUTHENTICATED') {
      // RFC 6750 §3: no error code when the request carried no credentials at all.
      headers['WWW-Authenticate'] =
        error.details?.['tokenPresent'] === true
          ? 'Bearer realm="m365-mail-sync", error="invalid_token"'
          : 'Bearer realm="m365-mail-sync"';
    }
    return { status: error.status, headers, problem };
  }
  return {
    status: 500,
    headers,
    problem: {
      type: problemType('INTERNAL'),
      title: 'Something went wrong on our side.',
      status: 500,
      detail: `An unexpected error occurred. Quote correlation id ${correlationId} when reporting it.`,
      code: 'INTERNAL',
      correlationId,
    },
  };
}

function titleFor(error: AppError): string {
  if (error.status === 415) return 'Unsupported media type.';
  return TITLES[error.code as PublicErrorCode] ?? error.code.toLowerCase().replace(/_/g, ' ');
}

/** `details` minus the keys only the server uses. Values are whatever the raiser declared safe. */
function publicDetails(error: AppError): Record<string, unknown> | undefined {
  if (!error.details) return undefined;
  const { tokenPresent: _tokenPresent, ...rest } = error.details;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** The HTTP status each public code maps to (for the OpenAPI document). */
export const statusOf = (code: PublicErrorCode): number => ERROR_CODES[code].status;
