import { AppError } from '../../../../shared/errors';
import { TokenRequestError, classifyTokenError, toTokenRequestError } from '../../../../shared/domain/identity';
import { msalServerError } from './fakes';

describe('classifyTokenError', () => {
  it.each([
    ['7000215', 'AADSTS7000215'],
    ['7000222', 'AADSTS7000222'],
    ['700016', 'AADSTS700016'],
    ['90002', 'AADSTS90002'],
  ])('AADSTS%s is a definitive credential error with a remedy', (errorNo, code) => {
    const failure = classifyTokenError(
      msalServerError(errorNo === '90002' ? 'invalid_request' : 'invalid_client', errorNo, 400),
    );
    expect(failure).toMatchObject({ code, kind: 'credential', definitive: true, retryable: false });
    expect(failure.remedy.length).toBeGreaterThan(20);
  });

  it('reads the AADSTS code from the message when errorNo is absent', () => {
    const error = Object.assign(new Error('AADSTS7000222: The provided client secret keys are expired.'), {
      errorCode: 'invalid_client',
    });
    expect(classifyTokenError(error)).toMatchObject({ code: 'AADSTS7000222', definitive: true });
  });

  it('treats a bare invalid_client as definitive', () => {
    expect(classifyTokenError(msalServerError('invalid_client', undefined, 401))).toMatchObject({
      code: 'invalid_client',
      definitive: true,
    });
  });

  it.each([
    ['a 503', msalServerError('temporarily_unavailable', '50001', 503)],
    ['a 500 even with invalid_client in the body', msalServerError('invalid_client', '7000215', 500)],
    ['a 429', msalServerError('', undefined, 429)],
    ['MSAL network_error', Object.assign(new Error('Network request failed'), { errorCode: 'network_error' })],
    [
      'connection refused (fetch TypeError with cause)',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
    ],
    ['a non-JSON 5xx page', Object.assign(new Error('Failed to parse response'), { errorCode: 'token_parsing_error' })],
    ['Key Vault down', new AppError('DEPENDENCY_UNAVAILABLE', 'Key Vault is not reachable right now.')],
  ])('never treats %s as definitive', (_label, error) => {
    const failure = classifyTokenError(error);
    expect(failure.definitive).toBe(false);
    expect(failure.retryable).toBe(true);
    expect(failure.kind).toBe('transient');
  });

  it('explains missing admin consent without disabling', () => {
    expect(classifyTokenError(msalServerError('invalid_grant', '65001', 400))).toMatchObject({
      code: 'AADSTS65001',
      kind: 'consent',
      definitive: false,
      retryable: false,
    });
  });

  it('gives unknown errors a retryable, non-definitive classification', () => {
    expect(classifyTokenError(new Error('boom'))).toMatchObject({
      kind: 'unknown',
      definitive: false,
      retryable: true,
    });
    expect(classifyTokenError('a string')).toMatchObject({ kind: 'unknown', definitive: false });
  });

  it('never quotes the original error text (it can carry request details)', () => {
    const failure = classifyTokenError(msalServerError('invalid_client', '7000215', 401));
    expect(JSON.stringify(failure)).not.toContain('something');
  });
});

describe('TokenRequestError', () => {
  it('maps definitive and configuration failures to CREDENTIAL_REJECTED, outages to retryable codes', () => {
    const rejected = toTokenRequestError(msalServerError('invalid_client', '7000215', 401), 'Contoso');
    expect(rejected).toBeInstanceOf(TokenRequestError);
    expect(rejected).toMatchObject({ code: 'CREDENTIAL_REJECTED', retryable: false, status: 424 });
    expect(rejected.details).toMatchObject({
      tokenErrorCode: 'AADSTS7000215',
      definitive: true,
      servicePrincipal: 'Contoso',
    });

    expect(toTokenRequestError(msalServerError('', undefined, 503), 'Contoso')).toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      retryable: true,
    });
    expect(toTokenRequestError(msalServerError('', undefined, 429), 'Contoso')).toMatchObject({ code: 'RATE_LIMITED' });
    expect(classifyTokenError(rejected)).toBe(rejected.failure);
  });
});
