import { isAppError } from '../../../../shared/errors';
import {
  CLOUD_PROFILES,
  assertEndpointsSafe,
  cloudDefaults,
  isKnownGraphUrl,
  resolveEndpoints,
} from '../../../../shared/domain/identity';

const TENANT = '11111111-2222-3333-4444-555555555555';
const DEV = ['127.0.0.1:8443'];

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (isAppError(error, 'VALIDATION_FAILED')) return (error.errors ?? []).map((e) => e.field);
    throw error;
  }
  throw new Error('expected VALIDATION_FAILED');
}

describe('clouds', () => {
  it.each([
    [
      'global',
      'https://login.microsoftonline.com/',
      'https://graph.microsoft.com/v1.0',
      'https://graph.microsoft.com/.default',
    ],
    [
      'usgov',
      'https://login.microsoftonline.us/',
      'https://graph.microsoft.us/v1.0',
      'https://graph.microsoft.us/.default',
    ],
    [
      'usgovdod',
      'https://login.microsoftonline.us/',
      'https://dod-graph.microsoft.us/v1.0',
      'https://dod-graph.microsoft.us/.default',
    ],
    [
      'china',
      'https://login.chinacloudapi.cn/',
      'https://microsoftgraph.chinacloudapi.cn/v1.0',
      'https://microsoftgraph.chinacloudapi.cn/.default',
    ],
  ] as const)('%s fills authority, Graph endpoint and scope', (cloud, authority, graph, scope) => {
    expect(cloudDefaults(cloud, TENANT)).toEqual({
      authorityUrl: authority + TENANT,
      graphApiEndpoint: graph,
      scopes: scope,
    });
    expect(resolveEndpoints({ tenantId: TENANT, cloud }, [])).toEqual({
      cloud,
      authorityUrl: authority + TENANT,
      graphApiEndpoint: graph,
      scopes: scope,
    });
  });

  it('every cloud lists distinct Graph hosts', () => {
    const hosts = Object.values(CLOUD_PROFILES).flatMap((p) => p.graphHosts);
    expect(new Set(hosts).size).toBe(hosts.length);
  });
});

describe('resolveEndpoints', () => {
  it('defaults to the global cloud', () => {
    expect(resolveEndpoints({ tenantId: TENANT }, []).cloud).toBe('global');
  });

  it('infers the cloud from the URLs the admin entered', () => {
    expect(
      resolveEndpoints({ tenantId: TENANT, authorityUrl: `https://login.chinacloudapi.cn/${TENANT}` }, []),
    ).toMatchObject({
      cloud: 'china',
      graphApiEndpoint: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
    });
    expect(
      resolveEndpoints(
        {
          tenantId: TENANT,
          authorityUrl: `https://login.microsoftonline.us/${TENANT}`,
          graphApiEndpoint: 'https://dod-graph.microsoft.us/v1.0',
        },
        [],
      ).cloud,
    ).toBe('usgovdod');
  });

  it('normalises trailing slashes and accepts beta and tenant domains', () => {
    expect(
      resolveEndpoints(
        {
          tenantId: TENANT,
          authorityUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/',
          graphApiEndpoint: 'https://graph.microsoft.com/beta/',
        },
        [],
      ),
    ).toMatchObject({
      authorityUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
      graphApiEndpoint: 'https://graph.microsoft.com/beta',
    });
  });

  it.each([
    ['a non-Microsoft host', `https://login.evil.example/${TENANT}`],
    ['http', `http://login.microsoftonline.com/${TENANT}`],
    ['a look-alike host', `https://login.microsoftonline.com.evil.example/${TENANT}`],
    ['user info that hides the real host', `https://login.microsoftonline.com@evil.example/${TENANT}`],
    ['an explicit odd port', `https://login.microsoftonline.com:8443/${TENANT}`],
    ['another cloud', `https://login.chinacloudapi.cn/${TENANT}`],
    ['a multi-tenant authority', 'https://login.microsoftonline.com/common'],
    ['another tenant id', 'https://login.microsoftonline.com/99999999-2222-3333-4444-555555555555'],
    ['extra path', `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`],
    ['a query string', `https://login.microsoftonline.com/${TENANT}?x=1`],
    ['not a URL', 'login.microsoftonline.com'],
  ])('rejects an authority URL with %s', (_label, authorityUrl) => {
    expect(fieldsOf(() => resolveEndpoints({ tenantId: TENANT, cloud: 'global', authorityUrl }, DEV))).toEqual([
      'authorityUrl',
    ]);
  });

  it.each([
    ['a non-Microsoft host', 'https://graph.evil.example/v1.0'],
    ['http', 'http://graph.microsoft.com/v1.0'],
    ['no version', 'https://graph.microsoft.com'],
    ['another version', 'https://graph.microsoft.com/v2.0'],
    ["another cloud's Graph", 'https://graph.microsoft.us/v1.0'],
  ])('rejects a Graph endpoint with %s', (_label, graphApiEndpoint) => {
    expect(fieldsOf(() => resolveEndpoints({ tenantId: TENANT, cloud: 'global', graphApiEndpoint }, DEV))).toEqual([
      'graphApiEndpoint',
    ]);
  });

  it.each([
    'https://graph.microsoft.com/Mail.Read',
    'https://graph.microsoft.com/.default https://graph.microsoft.com/.default',
    'https://evil.example/.default',
    'https://graph.microsoft.us/.default',
  ])('rejects scopes %s', (scopes) => {
    expect(fieldsOf(() => resolveEndpoints({ tenantId: TENANT, cloud: 'global', scopes }, DEV))).toEqual(['scopes']);
  });

  it('lists every bad field at once', () => {
    expect(
      fieldsOf(() =>
        resolveEndpoints(
          {
            tenantId: TENANT,
            authorityUrl: 'https://a.example/x',
            graphApiEndpoint: 'https://b.example/v1.0',
            scopes: 'x',
          },
          [],
        ),
      ),
    ).toEqual(['authorityUrl', 'graphApiEndpoint', 'scopes']);
  });

  it('accepts the simulator only when its exact host:port is in ALLOWED_DEV_HOSTS', () => {
    const input = {
      tenantId: TENANT,
      authorityUrl: `https://127.0.0.1:8443/${TENANT}`,
      graphApiEndpoint: 'https://127.0.0.1:8443/v1.0',
    };
    expect(resolveEndpoints(input, DEV)).toEqual({
      cloud: 'global',
      authorityUrl: `https://127.0.0.1:8443/${TENANT}`,
      graphApiEndpoint: 'https://127.0.0.1:8443/v1.0',
      scopes: 'https://graph.microsoft.com/.default',
    });
    expect(fieldsOf(() => resolveEndpoints(input, []))).toEqual(['authorityUrl', 'graphApiEndpoint']);
    expect(fieldsOf(() => resolveEndpoints(input, ['127.0.0.1:9443']))).toEqual(['authorityUrl', 'graphApiEndpoint']);
    expect(
      fieldsOf(() => resolveEndpoints({ ...input, authorityUrl: `http://127.0.0.1:8443/${TENANT}` }, DEV)),
    ).toEqual(['authorityUrl']);
  });

  it('assertEndpointsSafe rejects a stored record whose host is no longer allowed', () => {
    const stored = {
      tenantId: TENANT,
      cloud: 'global' as const,
      authorityUrl: `https://127.0.0.1:8443/${TENANT}`,
      graphApiEndpoint: 'https://127.0.0.1:8443/v1.0',
      scopes: 'https://graph.microsoft.com/.default',
    };
    expect(() => assertEndpointsSafe(stored, DEV)).not.toThrow();
    expect(fieldsOf(() => assertEndpointsSafe(stored, []))).toEqual(['authorityUrl', 'graphApiEndpoint']);
  });

  it('isKnownGraphUrl accepts Microsoft Graph hosts of every cloud and allowed dev hosts only', () => {
    expect(isKnownGraphUrl('https://graph.microsoft.com/v1.0/users?$top=1', [])).toBe(true);
    expect(isKnownGraphUrl('https://microsoftgraph.chinacloudapi.cn/v1.0/users', [])).toBe(true);
    expect(isKnownGraphUrl('https://127.0.0.1:8443/v1.0/users', DEV)).toBe(true);
    expect(isKnownGraphUrl('https://127.0.0.1:8443/v1.0/users', [])).toBe(false);
    expect(isKnownGraphUrl('http://graph.microsoft.com/v1.0/users', [])).toBe(false);
    expect(isKnownGraphUrl('https://graph.microsoft.com.evil.example/v1.0', [])).toBe(false);
  });
});
