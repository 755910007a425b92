/**
 * What a failed token request means. The daily validation disables a principal only on a *definitive*
 * credential error (the secret is wrong or expired, the app or tenant does not exist); network failures,
 * 5xx and 429 never count, so an outage cannot get a good credential disabled.
 *
 * Works on any thrown value: MSAL's `ServerError` (`errorCode`, `errorNo`, `status`, `errorMessage`), its
 * network errors (`network_error`), Node socket errors (`ECONNREFUSED`...), and our own `AppError`s.
 * The messages produced here are safe to store and show: they never quote the error's own text (which can
 * carry request details), only the codes.
 */
import { AppError, isAppError } from '../../errors';

export type TokenFailureKind =
  /** The credential itself was refused (wrong, expired, app or tenant gone). */
  | 'credential'
  /** Admin consent or permissions are missing. */
  | 'consent'
  /** Something in the principal's setup is wrong (scope, cloud, federated credential, policy). */
  | 'configuration'
  /** Network failure, timeout, 5xx, 429: try again later. */
  | 'transient'
  | 'unknown';

export interface TokenFailure {
  /** `AADSTS7000215`, `invalid_client`, `network_error`, `HTTP_503`, ... */
  code: string;
  kind: TokenFailureKind;
  /** True only for the credential errors that justify disabling the principal. */
  definitive: boolean;
  retryable: boolean;
  message: string;
  remedy: string;
  status?: number | undefined;
}

/** Entra ID codes after which the credential will never work again without an admin. */
export const DEFINITIVE_AADSTS_CODES = ['AADSTS7000215', 'AADSTS7000222', 'AADSTS700016', 'AADSTS90002'] as const;

interface Explanation {
  kind: TokenFailureKind;
  message: string;
  remedy: string;
}

const APP_REGISTRATION = 'Entra admin center > App registrations > (the app)';

/** Known Entra ID codes, with what they mean and what the admin should do. */
export const AADSTS_EXPLANATIONS: Readonly<Record<string, Explanation>> = {
  AADSTS7000215: {
    kind: 'credential',
    message: 'Entra ID rejected the client secret (invalid secret).',
    remedy: `Copy the secret's Value (not its Secret ID) from ${APP_REGISTRATION} > Certificates & secrets, or create a new secret there, and enter it on this service principal.`,
  },
  AADSTS7000222: {
    kind: 'credential',
    message: 'The client secret has expired.',
    remedy: `Create a new client secret in ${APP_REGISTRATION} > Certificates & secrets, enter it on this service principal, then re-enable it.`,
  },
  AADSTS700016: {
    kind: 'credential',
    message: 'The application (client) ID was not found in this tenant.',
    remedy:
      'Check the client ID and tenant ID. If the app is registered in another tenant, an administrator of this tenant must grant admin consent so the app exists here (Enterprise applications).',
  },
  AADSTS90002: {
    kind: 'credential',
    message: 'The tenant was not found.',
    remedy:
      'Check the tenant ID (Entra admin center > Overview) and that the cloud matches the tenant (global, US Government or China).',
  },
  AADSTS700027: {
    kind: 'credential',
    message: 'Entra ID rejected the certificate assertion (certificate not registered on the app, or expired).',
    remedy: `Upload the certificate's public part (.cer/.pem) to ${APP_REGISTRATION} > Certificates & secrets, and check that it has not expired.`,
  },
  AADSTS65001: {
    kind: 'consent',
    message: 'Admin consent has not been granted for the application.',
    remedy: `In ${APP_REGISTRATION} > API permissions, add the Microsoft Graph application permissions (Mail.Read or Mail.ReadWrite, User.Read.All) and click "Grant admin consent".`,
  },
  AADSTS70011: {
    kind: 'configuration',
    message: 'The requested scope is invalid.',
    remedy:
      "Set the scopes to the Graph resource of the principal's cloud followed by /.default (for example https://graph.microsoft.com/.default).",
  },
  AADSTS1002012: {
    kind: 'configuration',
    message: 'The requested scope is invalid.',
    remedy:
      "Set the scopes to the Graph resource of the principal's cloud followed by /.default (for example https://graph.microsoft.com/.default).",
  },
  AADSTS500011: {
    kind: 'configuration',
    message: 'The resource (Microsoft Graph of the configured cloud) was not found in the tenant.',
    remedy: "Make the cloud, Graph endpoint and scopes match the tenant's cloud.",
  },
  AADSTS7000112: {
    kind: 'configuration',
    message: 'The application is disabled in the tenant.',
    remedy: 'Enable the enterprise application in Entra admin center > Enterprise applications > Properties.',
  },
  AADSTS70021: {
    kind: 'configuration',
    message: "No federated credential on the app matches the managed identity's token.",
    remedy: `Add a federated credential in ${APP_REGISTRATION} > Certificates & secrets > Federated credentials for the managed identity (issuer and subject of its token, audience api://AzureADTokenExchange).`,
  },
  AADSTS700024: {
    kind: 'transient',
    message: 'The client assertion was outside its valid time range.',
    remedy: 'Usually clock skew; it clears on retry. If it persists, check the host clock.',
  },
  AADSTS53003: {
    kind: 'configuration',
    message: 'A Conditional Access policy blocked the token request.',
    remedy: 'Exclude this workload identity from the Conditional Access policy, or allow the calling location.',
  },
};

const TRANSIENT_ERROR_CODES = new Set([
  'network_error',
  'token_parsing_error',
  // MSAL could not fetch the authority's metadata (only for non-Microsoft dev authorities; Microsoft's are built in).
  'endpoints_resolution_error',
  'openid_config_error',
  'request_timeout',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
]);

const TRANSIENT: Explanation = {
  kind: 'transient',
  message: 'Entra ID could not be reached or was unavailable.',
  remedy:
    'Nothing to change: the request is retried later. If it persists, check outbound network access to the Entra ID host.',
};

interface ErrorFacts {
  errorCode?: string;
  aadsts?: string;
  status?: number;
  errno?: string;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function factsOf(error: unknown, depth = 0): ErrorFacts {
  const obj = asRecord(error);
  if (!obj || depth > 4) return {};
  const facts: ErrorFacts = {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  facts.errorCode = str(obj['errorCode']) ?? str(obj['error']);
  const status = obj['status'] ?? obj['httpStatus'] ?? obj['statusCode'];
  if (typeof status === 'number') facts.status = status;
  const errorNo = str(obj['errorNo']);
  const text = [str(obj['errorMessage']), str(obj['message']), str(obj['error_description'])].join(' ');
  if (errorNo && /^\d{4,8}$/.test(errorNo)) facts.aadsts = `AADSTS${errorNo}`;
  else {
    const match = /AADSTS(\d{4,8})/.exec(text);
    if (match) facts.aadsts = `AADSTS${match[1]}`;
  }
  const code = str(obj['code']);
  if (code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) facts.errno = code;
  // Wrapped errors: MSAL's NetworkError (`error`), fetch's TypeError (`cause`), our AppError (`cause`).
  for (const inner of [obj['cause'], obj['error']]) {
    if (asRecord(inner)) {
      const f = factsOf(inner, depth + 1);
      facts.errorCode ??= f.errorCode;
      facts.aadsts ??= f.aadsts;
      facts.status ??= f.status;
      facts.errno ??= f.errno;
    }
  }
  return facts;
}

/** Classifies any error from a token request. Never throws. */
export function classifyTokenError(error: unknown): TokenFailure {
  if (error instanceof TokenRequestError) return error.failure;
  if (isAppError(error)) {
    if (error.code === 'DEPENDENCY_UNAVAILABLE' || error.code === 'RATE_LIMITED') {
      return { code: error.code, definitive: false, retryable: true, ...TRANSIENT, message: error.message };
    }
    if (error.code === 'CREDENTIAL_REJECTED') {
      const d = error.details ?? {};
      return {
        code: typeof d['tokenErrorCode'] === 'string' ? d['tokenErrorCode'] : error.code,
        kind: 'configuration',
        definitive: d['definitive'] === true,
        retryable: false,
        message: error.message,
        remedy: typeof d['remedy'] === 'string' ? d['remedy'] : 'Check the service principal.',
      };
    }
  }
  const facts = factsOf(error);
  const status = facts.status;

  // Outages and throttling never count against the credential, whatever the body says.
  if (status !== undefined && (status === 429 || status >= 500)) {
    return {
      code: status === 429 ? 'HTTP_429' : `HTTP_${status}`,
      definitive: false,
      retryable: true,
      ...TRANSIENT,
      message: status === 429 ? 'Entra ID is throttling token requests.' : `Entra ID answered ${status}.`,
      status,
    };
  }
  const networkCode = facts.errno ?? facts.errorCode;
  if (networkCode !== undefined && TRANSIENT_ERROR_CODES.has(networkCode)) {
    return { code: networkCode, definitive: false, retryable: true, ...TRANSIENT, status };
  }

  const explained = facts.aadsts ? AADSTS_EXPLANATIONS[facts.aadsts] : undefined;
  const definitiveCode =
    facts.aadsts !== undefined && (DEFINITIVE_AADSTS_CODES as readonly string[]).includes(facts.aadsts);
  if (definitiveCode || facts.errorCode === 'invalid_client') {
    return {
      code: facts.aadsts ?? 'invalid_client',
      kind: 'credential',
      definitive: true,
      retryable: false,
      message: explained?.message ?? 'Entra ID rejected the credential (invalid_client).',
      remedy:
        explained?.remedy ??
        `Check the client ID and the credential in ${APP_REGISTRATION} > Certificates & secrets, and enter a valid one here.`,
      status,
    };
  }
  if (explained) {
    return {
      code: facts.aadsts ?? 'unknown',
      ...explained,
      definitive: false,
      retryable: explained.kind === 'transient',
      status,
    };
  }
  if (facts.errorCode === 'invalid_scope')
    return configuration('invalid_scope', AADSTS_EXPLANATIONS['AADSTS70011'], status);
  if (facts.errorCode === 'unauthorized_client') {
    return configuration(
      'unauthorized_client',
      {
        kind: 'configuration',
        message: 'The application is not allowed to use client credentials.',
        remedy: `Check ${APP_REGISTRATION} > Authentication and that the app is enabled in this tenant.`,
      },
      status,
    );
  }
  return {
    code: facts.aadsts ?? facts.errorCode ?? 'unknown',
    kind: 'unknown',
    definitive: false,
    retryable: true,
    message: 'The token request failed for an unexpected reason.',
    remedy: 'Try again later; if it persists, run "Test connection" and check the logs.',
    status,
  };
}

function configuration(code: string, explanation: Explanation | undefined, status: number | undefined): TokenFailure {
  return {
    code,
    kind: 'configuration',
    definitive: false,
    retryable: false,
    message: explanation?.message ?? 'The token request was refused.',
    remedy: explanation?.remedy ?? 'Check the service principal settings.',
    status,
  };
}

/**
 * What token providers throw: an AppError whose code says how callers should react
 * (`DEPENDENCY_UNAVAILABLE`/`RATE_LIMITED` → retry later, `CREDENTIAL_REJECTED` → an admin must act), with
 * the classified failure attached. `details` carries `tokenErrorCode`, `remedy` and `definitive`.
 */
export class TokenRequestError extends AppError {
  readonly failure: TokenFailure;

  constructor(failure: TokenFailure, servicePrincipalName: string) {
    const code = failure.retryable
      ? failure.code === 'HTTP_429'
        ? 'RATE_LIMITED'
        : 'DEPENDENCY_UNAVAILABLE'
      : 'CREDENTIAL_REJECTED';
    super(code, `Service principal "${servicePrincipalName}": ${failure.message}`, {
      details: {
        servicePrincipal: servicePrincipalName,
        tokenErrorCode: failure.code,
        remedy: failure.remedy,
        definitive: failure.definitive,
      },
    });
    this.name = 'TokenRequestError';
    this.failure = failure;
  }
}

/** Wraps any token error (classifying it) unless it already is a TokenRequestError. */
export function toTokenRequestError(error: unknown, servicePrincipalName: string): TokenRequestError {
  return error instanceof TokenRequestError
    ? error
    : new TokenRequestError(classifyTokenError(error), servicePrincipalName);
}
