/**
 * The mail source port's error helpers: classification, remedies, Retry-After parsing.
 */
import {
  MailSourceError,
  classifyMailSourceError,
  isDeltaExpired,
  isMailboxError,
  isThrottled,
  parseRetryAfter,
  remedyFor,
} from '../../../../shared/domain/ports/mail-source';

const e = (status: number, code: string) => new MailSourceError(status, code, 'message');

describe('classifyMailSourceError', () => {
  it.each([
    [410, 'Gone', 'deltaExpired'],
    [400, 'syncStateNotFound', 'deltaExpired'],
    [400, 'SyncStateNotFound', 'deltaExpired'],
    [400, 'RESYNCREQUIRED', 'deltaExpired'],
    [429, 'ApplicationThrottled', 'throttled'],
    [503, 'ServiceUnavailable', 'throttled'],
    [401, 'InvalidAuthenticationToken', 'unauthorized'],
    [401, 'AADSTS7000222', 'authFailure'],
    [401, 'invalid_client', 'authFailure'],
    [404, 'ErrorFolderNotFound', 'folderMissing'],
    [404, 'ErrorItemNotFound', 'folderMissing'],
    [403, 'ErrorAccessDenied', 'mailbox'],
    [404, 'ErrorInvalidUser', 'mailbox'],
    [404, 'MailboxNotEnabledForRESTAPI', 'mailbox'],
    [403, 'SomethingNew', 'mailbox'],
    [500, 'InternalServerError', 'transient'],
    [504, 'GatewayTimeout', 'transient'],
    [0, 'NetworkError', 'transient'],
    [400, 'BadRequest', 'unknown'],
  ])('%i %s → %s', (status, code, expected) => {
    expect(classifyMailSourceError(e(status, code))).toBe(expected);
  });

  it('answers the single-purpose helpers consistently and never for foreign errors', () => {
    expect(isDeltaExpired(e(410, 'x'))).toBe(true);
    expect(isThrottled(e(429, 'x'))).toBe(true);
    expect(isMailboxError(e(403, 'ErrorAccessDenied'))).toBe(true);
    expect(isMailboxError(e(429, 'ErrorAccessDenied'))).toBe(false);
    expect(isDeltaExpired(new Error('syncStateNotFound'))).toBe(false);
    expect(classifyMailSourceError(new Error('x'))).toBe('unknown');
    expect(e(503, 'x').retryable).toBe(true);
    expect(e(403, 'ErrorAccessDenied').retryable).toBe(false);
  });
});

describe('remedyFor', () => {
  it('gives a specific remedy per code, case-insensitively, and a generic one otherwise', () => {
    expect(remedyFor('ErrorAccessDenied')).toMatch(/Access to OData is disabled/);
    expect(remedyFor('erroraccessdenied')).toBe(remedyFor('ErrorAccessDenied'));
    expect(remedyFor('MailboxNotEnabledForRESTAPI')).toMatch(/Exchange Online/);
    expect(remedyFor('AADSTS7000222')).toMatch(/expired/);
    expect(remedyFor('AADSTS123456')).toMatch(/Entra ID/);
    expect(remedyFor('Whatever')).toMatch(/Check the mailbox/);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-03-01T08:00:00Z');
  it('reads delay seconds and HTTP dates', () => {
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter(' 2.5 ', now)).toBe(3);
    expect(parseRetryAfter('Sat, 01 Mar 2025 08:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Sat, 01 Mar 2025 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
