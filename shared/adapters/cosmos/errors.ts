/** Turns Cosmos SDK failures into the product's errors (`shared/errors.ts`). */
import { AppError, dependencyUnavailable, validationFailed } from '../../errors';

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ESOCKETTIMEDOUT',
]);

/** The HTTP status of a Cosmos error response, or undefined for anything else. */
export function cosmosStatus(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function isTransient(error: unknown): boolean {
  const status = cosmosStatus(error);
  if (status !== undefined) return status === 408 || status === 429 || status === 449 || status >= 500;
  if (error === null || typeof error !== 'object') return false;
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof code === 'string' && (TRANSIENT_NETWORK_CODES.has(code) || code.startsWith('UND_ERR'))) return true;
  if (name === 'TimeoutError' || name === 'AbortError') return true;
  return cause !== undefined && cause !== error && isTransient(cause);
}

/**
 * Maps an error thrown by the SDK. AppErrors pass through; throttling, 5xx, timeouts and connection errors
 * become DEPENDENCY_UNAVAILABLE (retryable); authentication refusals too (managed identity role assignments
 * take minutes to propagate); anything else is INTERNAL.
 */
export function mapCosmosError(error: unknown, operation: string): AppError {
  if (error instanceof AppError) return error;
  const status = cosmosStatus(error);
  if (isTransient(error) || status === 401 || status === 403) return dependencyUnavailable('Cosmos DB', error);
  return new AppError('INTERNAL', `Cosmos DB ${operation} failed${status === undefined ? '' : ` (${status})`}.`, {
    cause: error,
  });
}

export const badContinuationToken = (): AppError =>
  validationFailed([{ field: 'continuationToken', message: 'is not a valid continuation token for this query' }]);
