/**
 * Everything that can go wrong on a Graph call, turned into one `MailSourceError` (the sync engine's port type):
 * Graph error responses (`error.code`, status, `Retry-After`), network failures (status 0, `NetworkError`),
 * token acquisition failures (status 401 with the AADSTS code, or status 0 when Entra ID is unreachable), and
 * links the adapter refuses to call. Messages never contain tokens, secrets or request bodies.
 */
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isAppError } from '../../errors';
import { classifyTokenError } from '../../domain/identity/token-errors';
import { MailSourceError, isMailSourceError, parseRetryAfter } from '../../domain/ports/mail-source';

/** Graph answered without a usable body (not JSON, no links): status 502, retryable. */
export const INVALID_RESPONSE = 'InvalidGraphResponse';
/** A nextLink / deltaLink (or endpoint) that is not on the configured Graph host: never called. */
export const LINK_NOT_ALLOWED = 'GraphLinkNotAllowed';
/** The principal's Graph endpoint is not a Microsoft Graph host nor an allowed dev host. */
export const ENDPOINT_NOT_ALLOWED = 'GraphEndpointNotAllowed';
export const NETWORK_ERROR = 'NetworkError';

/** How much of an error body we read (Graph errors are small; anything bigger is not a Graph error). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 500;

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'InvalidAuthenticationToken',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'PreconditionFailed',
  413: 'RequestEntityTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

const clip = (text: string): string =>
  text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;

/** Reads at most `limit` bytes of a body as UTF-8, then cancels the rest (the connection stays reusable). */
export async function readBodyPrefix(response: Response, limit = MAX_ERROR_BODY_BYTES): Promise<string> {
  const body = response.body;
  if (!body) return '';
  const reader = (body as WebReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let complete = false;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    complete = true; // the body broke off: nothing left to cancel
  } finally {
    if (!complete) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

interface GraphErrorBody {
  /** `{ code, message, innerError }` from Graph; a string from OAuth-style endpoints. */
  error?: unknown;
}

/** A non-2xx Graph response → MailSourceError. Consumes (or cancels) the body. */
export async function errorFromResponse(response: Response, now: Date): Promise<MailSourceError> {
  const status = response.status;
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now);
  const text = await readBodyPrefix(response);
  let code: string | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(text) as GraphErrorBody;
    const error = parsed.error;
    if (error !== null && typeof error === 'object') {
      const e = error as { code?: unknown; message?: unknown };
      if (typeof e.code === 'string' && e.code.trim() !== '') code = e.code.trim();
      if (typeof e.message === 'string' && e.message.trim() !== '') message = e.message.trim();
    } else if (typeof error === 'string' && error !== '') {
      code = error; // OAuth-style `{ error: 'invalid_token' }`
    }
  } catch {
    // Not JSON (a gateway page, an empty body): the status decides.
  }
  if (status >= 300 && status < 400) {
    code ??= 'UnexpectedRedirect';
    message ??= 'Microsoft Graph answered with a redirect; the adapter does not follow redirects.';
  }
  const finalCode = code ?? STATUS_CODES[status] ?? `HTTP_${status}`;
  const requestId = response.headers.get('request-id');
  const text2 = message ?? `Microsoft Graph answered ${status}.`;
  return new MailSourceError(status, finalCode, clip(requestId ? `${text2} (request-id ${requestId})` : text2), {
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/** Node fetch's error causes (`ECONNRESET`, `UND_ERR_SOCKET`...) or an abort, named for the message. */
function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = (error as { cause?: { code?: unknown; name?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (cause && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) return 'timed out';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return 'connection failed';
}

export function networkError(error: unknown, what = 'Microsoft Graph'): MailSourceError {
  return new MailSourceError(0, NETWORK_ERROR, `${what} could not be reached (${networkReason(error)}).`, {
    cause: error,
  });
}

/**
 * A failure of the token source. `TokenRequestError` / AppError from the identity area: CREDENTIAL_REJECTED →
 * 401 with the token error code (e.g. `AADSTS7000222`, `invalid_client`); RATE_LIMITED → 429;
 * DEPENDENCY_UNAVAILABLE → status 0 `NetworkError`. Anything else is classified like an MSAL error.
 */
export function tokenError(error: unknown): MailSourceError {
  if (isMailSourceError(error)) return error;
  if (isAppError(error)) {
    const details = error.details ?? {};
    const tokenCode = typeof details['tokenErrorCode'] === 'string' ? details['tokenErrorCode'] : undefined;
    if (error.code === 'RATE_LIMITED') {
      return new MailSourceError(429, 'TokenRequestThrottled', clip(error.message), { cause: error });
    }
    if (error.code === 'DEPENDENCY_UNAVAILABLE') {
      return new MailSourceError(0, NETWORK_ERROR, clip(error.message), { cause: error });
    }
    if (error.code === 'CREDENTIAL_REJECTED') {
      return new MailSourceError(401, tokenCode ?? 'invalid_client', clip(error.message), { cause: error });
    }
  }
  const failure = classifyTokenError(error);
  if (failure.retryable) {
    return new MailSourceError(0, NETWORK_ERROR, `No token for Microsoft Graph: ${failure.message}`, {
      cause: error,
    });
  }
  return new MailSourceError(401, failure.code, clip(`${failure.message} ${failure.remedy}`), { cause: error });
}

export function linkNotAllowed(link: string, reason: string): MailSourceError {
  let where = 'an unparseable URL';
  try {
    const url = new URL(link);
    where = `${url.protocol}//${url.host}`;
  } catch {
    // keep the generic description: never echo a malformed link that might hold a token
  }
  return new MailSourceError(
    400,
    LINK_NOT_ALLOWED,
    `Refused to call a Graph link on ${where}: ${reason}. No request was sent.`,
  );
}

/** A body Graph sent with 2xx that we cannot read. */
export function invalidResponse(what: string, cause?: unknown): MailSourceError {
  return new MailSourceError(502, INVALID_RESPONSE, `Microsoft Graph sent an unreadable ${what}.`, {
    ...(cause === undefined ? {} : { cause }),
  });
}
