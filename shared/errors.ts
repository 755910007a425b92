/**
 * Every error the product raises carries a stable machine-readable `code`, the HTTP status it maps to, and
 * whether retrying the same operation later can succeed. Callers branch on `code`, never on message text.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  /** A uniqueness rule was broken (`details.reason: 'duplicate'`), or a write carried a stale ETag
   * (`details.reason: 'stale'`: someone else wrote first; re-read and try again), or a record is in use. */
  CONFLICT: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  /** A downstream service (Cosmos, Storage, Key Vault, Graph, Entra) is unreachable or answered 5xx. */
  DEPENDENCY_UNAVAILABLE: { status: 503, retryable: true },
  /** Entra ID refused a service principal's credential or configuration, or the principal is disabled
   * (`details`: `tokenErrorCode` e.g. `AADSTS7000215`, `remedy`, `definitive`). Retrying will not help until
   * an administrator fixes the principal. */
  CREDENTIAL_REJECTED: { status: 424, retryable: false },
  /** Invalid or missing settings at startup. */
  CONFIG_INVALID: { status: 500, retryable: false },
  INTERNAL: { status: 500, retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `folderFilter.0.folderName`. */
  field: string;
  message: string;
}

export interface AppErrorOptions {
  /** Overrides the code's default status (rarely needed). */
  status?: number;
  /** Overrides the code's default retryable flag. */
  retryable?: boolean;
  /** Per-field problems for VALIDATION_FAILED. */
  errors?: FieldError[];
  /** Extra machine-readable detail safe to show to callers (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly errors: FieldError[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.errors = options.errors;
    this.details = options.details;
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

/** Whether retrying later can succeed: any error carrying `retryable: true` (AppError and others alike). */
export const isRetryable = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;

export const validationFailed = (errors: FieldError[], message = 'The request has invalid fields.'): AppError =>
  new AppError('VALIDATION_FAILED', message, { errors });
export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} was not found.`);
export const inUse = (message: string, details: Record<string, unknown> = {}): AppError =>
  new AppError('CONFLICT', message, { details: { ...details, reason: 'in-use' } });
export type ConflictReason = 'duplicate' | 'stale' | 'in-use';
export const conflictReason = (error: unknown): ConflictReason | undefined =>
  isAppError(error, 'CONFLICT') ? (error.details?.['reason'] as ConflictReason | undefined) : undefined;
/** Optimistic concurrency: the ETag we wrote with is no longer current. Never a silent overwrite. */
export const staleWrite = (what: string): AppError =>
  new AppError('CONFLICT', `${what} was changed by someone else; re-read it and try again.`, {
    details: { reason: 'stale' },
  });
/** A uniqueness rule was broken. `field` names the unique field. */
export const duplicate = (what: string, field: string): AppError =>
  new AppError('CONFLICT', `${what} already exists.`, { details: { reason: 'duplicate', field } });
export const forbidden = (message = 'You are not allowed to do this.'): AppError => new AppError('FORBIDDEN', message);
export const dependencyUnavailable = (service: string, cause?: unknown): AppError =>
  new AppError('DEPENDENCY_UNAVAILABLE', `${service} is not reachable right now.`, { cause });

/** Turns zod issues (or anything shaped like them) into our per-field errors. */
export function fieldErrorsFromIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): FieldError[] {
  return issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}
