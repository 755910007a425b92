/**
 * The Graph adapter's pure parts: endpoint and link rules, Prefer merging, error mapping and the delta item
 * mapping (extended properties → threading headers and the message size). The HTTP behaviour is covered against the simulator.
 */
import {
  EXTENDED_PROPERTIES_EXPAND,
  LINK_NOT_ALLOWED,
  assertGraphLink,
  mergePrefer,
  odataString,
  parseGraphEndpoint,
  toGraphMessage,
} from '../../../../shared/adapters/graph';
import { errorFromResponse, tokenError } from '../../../../shared/adapters/graph/errors';
import { TokenRequestError, classifyTokenError } from '../../../../shared/domain/identity/token-errors';
import { isAuthFailure, isDeltaExpired, isThrottled } from '../../../../shared/domain/ports/mail-source';
import { AppError, dependencyUnavailable } from '../../../../shared/errors';

const graph = parseGraphEndpoint('https://graph.microsoft.com/v1.0');

describe('Graph endpoint and links', () => {
  it('parses the endpoint into origin, version and custom host (no port)', () => {
    expect(graph).toEqual({
      origin: 'https://graph.microsoft.com',
      version: 'v1.0',
      base: 'https://graph.microsoft.com/v1.0',
      hostname: 'graph.microsoft.com',
    });
    expect(parseGraphEndpoint('https://127.0.0.1:8443/beta')).toMatchObject({
      origin: 'https://127.0.0.1:8443',
      hostname: '127.0.0.1',
      version: 'beta',
    });
    for (const bad of ['http://graph.microsoft.com/v1.0', 'https://graph.microsoft.com', 'not a url']) {
      expect(() => parseGraphEndpoint(bad)).toThrow();
    }
  });

  it('accepts only links on the same origin under the version path', () => {
    expect(() =>
      assertGraphLink(graph, 'https://graph.microsoft.com/v1.0/users/a/mailFolders/x/messages/delta?$skiptoken=1'),
    ).not.toThrow();
    expect(() => assertGraphLink(graph, 'https://GRAPH.microsoft.com:443/v1.0/users/a')).not.toThrow();
    for (const link of [
      'https://graph.microsoft.com.evil.example/v1.0/users/a',
      'https://evil.example/v1.0/users/a?next=https://graph.microsoft.com/v1.0/',
      'https://graph.microsoft.com:8443/v1.0/users/a',
      'http://graph.microsoft.com/v1.0/users/a',
      'https://graph.microsoft.com/beta/users/a',
      'https://token@graph.microsoft.com/v1.0/users/a',
      '//graph.microsoft.com/v1.0/users/a',
    ]) {
      let thrown: unknown;
      try {
        assertGraphLink(graph, link);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: LINK_NOT_ALLOWED, status: 400 });
    }
  });
});

describe('Prefer header', () => {
  it('always asks for immutable ids, adds the page size, keeps other preferences', () => {
    expect(mergePrefer(null, undefined)).toBe('IdType="ImmutableId"');
    expect(mergePrefer(null, 100)).toBe('IdType="ImmutableId", odata.maxpagesize=100');
    expect(mergePrefer('outlook.body-content-type="text", odata.maxpagesize=5, IdType="RestId"', 50)).toBe(
      'IdType="ImmutableId", odata.maxpagesize=50, outlook.body-content-type="text"',
    );
  });
});

describe('OData literals', () => {
  it('doubles single quotes', () => {
    expect(odataString("O'Brien's")).toBe("'O''Brien''s'");
  });
});

describe('delta items', () => {
  it('turns the threading extended properties into internetMessageHeaders and drops annotations', () => {
    const message = toGraphMessage({
      '@odata.type': '#microsoft.graph.message',
      '@odata.etag': 'W/"abc"',
      id: 'AAMk=',
      subject: 'Re: hi',
      singleValueExtendedProperties: [
        { id: 'String 0x1042', value: '<a@x>' },
        // Graph may echo the tag in its own spelling; references can be folded over lines.
        { id: 'String 0x01039', value: '<root@x>\r\n <a@x>' },
        { id: 'String 0x0E1D', value: 'ignored' },
      ],
    });
    expect(message).toEqual({
      id: 'AAMk=',
      subject: 'Re: hi',
      internetMessageHeaders: [
        { name: 'In-Reply-To', value: '<a@x>' },
        { name: 'References', value: '<root@x> <a@x>' },
      ],
    });
    expect(toGraphMessage({ id: 'x', subject: 's' })).toEqual({ id: 'x', subject: 's' });
  });

  it('reads PidTagMessageSize (Integer 0x0E08, a decimal string) into messageSizeBytes', () => {
    const sized = (property: { id: string; value: unknown }) =>
      toGraphMessage({ id: 'm', singleValueExtendedProperties: [property] }).messageSizeBytes;
    // Graph echoes the id in its own spelling; every value is a string.
    expect(sized({ id: 'Integer 0xe08', value: '48213' })).toBe(48213);
    expect(sized({ id: 'Integer 0x0E08', value: '0' })).toBe(0);
    expect(sized({ id: 'integer 0x00e08', value: ' 7 ' })).toBe(7);
    expect(sized({ id: 'Long 0xe08', value: '3000000000' })).toBe(3_000_000_000); // PidTagMessageSizeExtended
    expect(sized({ id: 'Integer 0xe08', value: 1024 })).toBe(1024);
    for (const unreadable of ['', 'abc', '-5', '1.5', '1e6', '99999999999999999', null, -1, 2.5, {}]) {
      expect(sized({ id: 'Integer 0xe08', value: unreadable })).toBeUndefined();
    }
    // Another type or another tag is not the size, and an Integer property is never a threading header.
    expect(sized({ id: 'String 0xe08', value: '512' })).toBeUndefined();
    expect(sized({ id: 'Integer 0xe07', value: '512' })).toBeUndefined();
    expect(sized({ id: 'Integer {00062008-0000-0000-C000-000000000046} Id 0x0e08', value: '512' })).toBeUndefined();
    const crossed = toGraphMessage({
      id: 'm',
      singleValueExtendedProperties: [
        { id: 'Integer 0x1042', value: '<a@x>' },
        { id: 'String 0x1039', value: '<root@x>' },
        { id: 'Integer 0xe08', value: 'x' },
        { id: 'Integer 0xe08', value: '640' },
      ],
    });
    expect(crossed).toEqual({
      id: 'm',
      messageSizeBytes: 640,
      internetMessageHeaders: [{ name: 'References', value: '<root@x>' }],
    });
  });

  it('asks delta for the threading headers and the size in one $expand', () => {
    expect(EXTENDED_PROPERTIES_EXPAND).toBe(
      "singleValueExtendedProperties($filter=id eq 'String 0x1042' or id eq 'String 0x1039' or id eq 'Integer 0x0E08')",
    );
  });
});

describe('error mapping', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('reads Graph error bodies, statuses and Retry-After (seconds or HTTP date)', async () => {
    const throttled = await errorFromResponse(
      new Response(JSON.stringify({ error: { code: 'TooManyRequests', message: 'Slow down' } }), {
        status: 429,
        headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT', 'request-id': 'r-1' },
      }),
      now,
    );
    expect(throttled).toMatchObject({ status: 429, code: 'TooManyRequests', retryAfterSeconds: 30 });
    expect(throttled.message).toBe('Slow down (request-id r-1)');
    expect(isThrottled(throttled)).toBe(true);

    const gone = await errorFromResponse(new Response('', { status: 410 }), now);
    expect(gone).toMatchObject({ status: 410, code: 'Gone' });
    expect(isDeltaExpired(gone)).toBe(true);

    const syncState = await errorFromResponse(
      new Response(JSON.stringify({ error: { code: 'SyncStateNotFound', message: 'x' } }), { status: 400 }),
      now,
    );
    expect(isDeltaExpired(syncState)).toBe(true);

    const html = await errorFromResponse(new Response('<html>bad gateway</html>', { status: 502 }), now);
    expect(html).toMatchObject({ status: 502, code: 'BadGateway' });

    const redirect = await errorFromResponse(
      new Response(null, { status: 302, headers: { location: 'https://evil.example' } }),
      now,
    );
    expect(redirect).toMatchObject({ status: 302, code: 'UnexpectedRedirect' });
  });

  it('maps token failures: rejected credential → 401 + AADSTS code, outages → retryable', () => {
    const rejected = tokenError(
      new TokenRequestError(
        classifyTokenError({ errorCode: 'invalid_client', errorMessage: 'AADSTS7000215: bad' }),
        'sp',
      ),
    );
    expect(rejected).toMatchObject({ status: 401, code: 'AADSTS7000215' });
    expect(isAuthFailure(rejected)).toBe(true);
    expect(rejected.retryable).toBe(false);

    const outage = tokenError(dependencyUnavailable('Entra ID'));
    expect(outage).toMatchObject({ status: 0, code: 'NetworkError' });
    expect(outage.retryable).toBe(true);

    const throttled = tokenError(new AppError('RATE_LIMITED', 'Entra ID is throttling token requests.'));
    expect(throttled.status).toBe(429);
    expect(isThrottled(throttled)).toBe(true);

    const refused = tokenError(new Error('AADSTS700016: Application not found in the directory'));
    expect(refused).toMatchObject({ status: 401, code: 'AADSTS700016' });
  });
});
