import type { SimResponse, StartedSimulator } from '../../../dev/m365-simulator/contract';
import { Counters, Faults, mulberry32 } from '../../../dev/m365-simulator/limits';
import { appToken, call, createTenant, startTestSimulator, type TestTenant } from './helpers';

describe('Faults (seeded, reproducible)', () => {
  const target = (mailbox: string) => ({
    method: 'GET',
    path: `/v1.0/users/${mailbox}/mailFolders/inbox/messages/delta`,
    routeKey: 'GET /v1.0/users/{user}/mailFolders/{folderId}/messages/delta',
    graph: true,
    mailboxKeys: [mailbox],
  });

  function run(seed: number, order: string[]): string[] {
    const faults = new Faults(new Counters());
    faults.set(seed, [{ rate: 0.3, status: 429, retryAfterSeconds: 2 }]);
    return order.map((mailbox) => `${mailbox}:${faults.decide(target(mailbox))?.status ?? 200}`);
  }

  it('gives each mailbox the same decisions for the same seed, however requests of mailboxes interleave', () => {
    const a = run(7, ['a', 'a', 'b', 'a', 'b', 'b', 'a', 'a', 'b', 'a', 'a', 'b']);
    const b = run(7, ['b', 'b', 'b', 'b', 'b', 'a', 'a', 'a', 'a', 'a', 'a', 'a']);
    const perMailbox = (list: string[], m: string): string[] => list.filter((x) => x.startsWith(`${m}:`));
    expect(perMailbox(a, 'a')).toEqual(perMailbox(b, 'a').slice(0, perMailbox(a, 'a').length));
    expect(perMailbox(a, 'b')).toEqual(perMailbox(b, 'b').slice(0, perMailbox(a, 'b').length));
    const many = run(
      7,
      Array.from({ length: 400 }, () => 'a'),
    ).filter((x) => x.endsWith(':429')).length;
    expect(many).toBeGreaterThan(80);
    expect(many).toBeLessThan(160);
    expect(
      run(
        8,
        Array.from({ length: 40 }, () => 'a'),
      ),
    ).not.toEqual(
      run(
        7,
        Array.from({ length: 40 }, () => 'a'),
      ),
    );
  });

  it('applies rules without a route to Graph only and validates rules', () => {
    const faults = new Faults(new Counters());
    faults.set(1, [{ rate: 1, status: 503 }]);
    expect(faults.decide({ ...target('a'), graph: false })).toBeUndefined();
    expect(faults.decide(target('a'))).toMatchObject({ status: 503, retryAfterSeconds: 1, drop: false });
    expect(() => faults.set(1, [{ rate: 2 }])).toThrow(/rate/);
    expect(() => faults.set(1, [{ rate: 0.1, route: '(' }])).toThrow(/regular expression/);
  });

  it('mulberry32 is deterministic', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});

describe('M365 simulator: faults over HTTP, router and control API', () => {
  let sim: StartedSimulator;
  let contoso: TestTenant;
  let token: string;
  const dispatched: SimResponse[] = [];

  beforeAll(async () => {
    sim = await startTestSimulator({
      extraRoutes: (router) => {
        router.add(
          'GET',
          '/v1.0/testRoutes/{a}/delta',
          (req) => ({ status: 200, body: { route: 'delta', a: req.params['a'] } }),
          { auth: 'none' },
        );
        router.add(
          'GET',
          '/v1.0/testRoutes/{a}/{b}',
          (req) => ({ status: 200, body: { route: 'generic', ...req.params } }),
          { auth: 'none' },
        );
        router.add('GET', '/v1.0/testRoutes/{a}/$value', () => ({ status: 200, body: Buffer.from('raw bytes') }), {
          auth: 'none',
        });
        router.add(
          'POST',
          '/v1.0/testRoutes/{a}/empty',
          () => ({ status: 202, headers: { 'content-type': 'application/json' } }),
          { auth: 'none' },
        );
        router.add(
          'POST',
          '/v1.0/testBatch',
          async (req) => {
            const { requests } = req.json<{
              requests: { method: string; url: string; headers?: Record<string, string> }[];
            }>();
            const responses = await Promise.all(
              requests.map((r) =>
                router.dispatch({
                  method: r.method,
                  url: r.url,
                  headers: { ...(r.headers ?? {}), authorization: String(req.headers['authorization'] ?? '') },
                }),
              ),
            );
            dispatched.push(...responses);
            return { status: 200, body: { responses: responses.map((r) => ({ status: r.status, body: r.body })) } };
          },
          { auth: 'none' },
        );
      },
    });
    contoso = await createTenant(sim, { name: 'Contoso', users: [{ alias: 'alice' }, { alias: 'bob' }] });
    token = await appToken(sim, contoso.tenantId, contoso.appId, contoso.secret);
  });
  afterAll(async () => {
    await sim.stop();
  });

  async function statuses(count: number): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${sim.url}/v1.0/users/alice@${contoso.domain}/mailboxSettings`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await response.arrayBuffer();
      result.push(response.status);
    }
    return result;
  }

  it('replays the same fault sequence for the same seed', async () => {
    const rules = [
      { route: '^GET /v1\\.0/users/[^/]+/mailboxSettings$', rate: 0.5, status: 503, retryAfterSeconds: 3 },
    ];
    await call(sim, 'POST', '/_sim/counters/reset');
    expect((await call(sim, 'PUT', '/_sim/faults', { seed: 42, rules })).status).toBe(200);
    const first = await statuses(16);
    await call(sim, 'PUT', '/_sim/faults', { seed: 42, rules });
    const second = await statuses(16);
    await call(sim, 'PUT', '/_sim/faults', { seed: 43, rules });
    const third = await statuses(16);
    await call(sim, 'DELETE', '/_sim/faults');
    expect(second).toEqual(first);
    expect(third).not.toEqual(first);
    expect(first).toContain(503);
    expect(first).toContain(200);
    const counters = await call(sim, 'GET', '/_sim/counters');
    expect(counters.body.faultsInjected).toBe([...first, ...second, ...third].filter((s) => s === 503).length);
    const response = await fetch(`${sim.url}/v1.0/users/alice@${contoso.domain}/mailboxSettings`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
  });

  it('injects 429 with Retry-After in Graph’s error shape, and drops connections', async () => {
    await call(sim, 'PUT', '/_sim/faults', {
      seed: 1,
      rules: [{ mailbox: `ALICE@${contoso.domain}`, rate: 1, status: 429, retryAfterSeconds: 7 }],
    });
    const throttled = await call(sim, 'GET', `/v1.0/users/alice@${contoso.domain}/mailboxSettings`, undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect(throttled.body.error.code).toBe('TooManyRequests');
    const other = await call(sim, 'GET', `/v1.0/users/bob@${contoso.domain}/mailboxSettings`, undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(other.status).toBe(200);
    await call(sim, 'PUT', '/_sim/faults', { seed: 1, rules: [{ rate: 0, dropRate: 1 }] });
    await expect(
      fetch(`${sim.url}/v1.0/users/bob@${contoso.domain}/mailboxSettings`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    ).rejects.toThrow();
    await call(sim, 'DELETE', '/_sim/faults');
  });

  it('matches literal segments case-insensitively, prefers literals over parameters and keeps parameter case', async () => {
    expect((await call(sim, 'GET', '/v1.0/TESTROUTES/AbC/Delta')).body).toEqual({ route: 'delta', a: 'AbC' });
    expect((await call(sim, 'GET', '/v1.0/testRoutes/AbC/Other')).body).toEqual({
      route: 'generic',
      a: 'AbC',
      b: 'Other',
    });
    expect((await call(sim, 'GET', '/v1.0/testRoutes/a%2Fb%3D%3D/delta')).body).toEqual({ route: 'delta', a: 'a/b==' });
    const raw = await fetch(`${sim.url}/v1.0/testRoutes/x/$value`);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect(await raw.text()).toBe('raw bytes');
    const empty = await fetch(`${sim.url}/v1.0/testRoutes/x/empty`, { method: 'POST' });
    expect(empty.status).toBe(202);
    expect(empty.headers.get('content-type')).toBeNull();
    const unknown = await call(sim, 'GET', '/v1.0/nothingHere');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('BadRequest');
    const deleted = await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get('content-type')).toBeNull();
  });

  it('runs dispatched sub-requests through the full pipeline (auth, mailbox checks, counters)', async () => {
    await call(sim, 'POST', '/_sim/counters/reset');
    const batch = await call(
      sim,
      'POST',
      '/v1.0/testBatch',
      {
        requests: [
          { method: 'GET', url: `/users/alice@${contoso.domain}/mailboxSettings/userPurpose` },
          { method: 'GET', url: `users/nobody@${contoso.domain}/mailboxSettings` },
        ],
      },
      { authorization: `Bearer ${token}` },
    );
    expect(batch.body.responses[0]).toMatchObject({ status: 200, body: { value: 'user' } });
    expect(batch.body.responses[1]).toMatchObject({ status: 404, body: { error: { code: 'ErrorInvalidUser' } } });
    expect(dispatched[0]?.headers?.['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unauthenticated = await call(sim, 'POST', '/v1.0/testBatch', {
      requests: [{ method: 'GET', url: `/users/alice@${contoso.domain}/mailboxSettings` }],
    });
    expect(unauthenticated.body.responses[0].status).toBe(401);
    const counters = await call(sim, 'GET', '/_sim/counters');
    expect(counters.body.requestsByMailbox[`alice@${contoso.domain}`]).toBe(1);
    expect(counters.body.totalGraphRequests).toBe(3);
  });

  it('validates control input with clear 400s and 404s', async () => {
    const badTenant = await call(sim, 'POST', '/_sim/tenants', { displayName: '', extra: 1 });
    expect(badTenant.status).toBe(400);
    expect(badTenant.body.error.message).toMatch(/displayName/);
    expect(badTenant.body.error.message).toMatch(/extra/);
    expect((await call(sim, 'POST', '/_sim/tenants', { id: 'not-a-guid', displayName: 'x' })).status).toBe(400);
    expect((await call(sim, 'POST', '/_sim/tenants', 'not json')).status).toBe(400);
    const dupDomain = await call(sim, 'POST', '/_sim/tenants', { displayName: 'Copy', domain: contoso.domain });
    expect(dupDomain.status).toBe(409);
    const wrongDomain = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/users`, {
      userPrincipalName: 'eve@elsewhere.com',
    });
    expect(wrongDomain.status).toBe(400);
    expect(wrongDomain.body.error.message).toContain('not a verified domain');
    expect(
      (
        await call(sim, 'POST', '/_sim/tenants/00000000-0000-0000-0000-000000000001/apps', {
          displayName: 'x',
          roles: [],
        })
      ).status,
    ).toBe(404);
    const badCert = await call(sim, 'POST', `/_sim/tenants/${contoso.tenantId}/apps`, {
      displayName: 'x',
      roles: [],
      certificates: [{ certificatePem: 'nope' }],
    });
    expect(badCert.status).toBe(400);
    const badFault = await call(sim, 'PUT', '/_sim/faults', { seed: 1, rules: [{ rate: 1, status: 404 }] });
    expect(badFault.status).toBe(400);
    expect(badFault.body.error.message).toContain('rules.0.status');
    const badLimits = await call(sim, 'PUT', '/_sim/limits', { mailboxConcurrency: 0 });
    expect(badLimits.status).toBe(400);
  });

  it('resets everything', async () => {
    const before = await call(sim, 'GET', '/_sim/tenants');
    expect(before.body.value.length).toBeGreaterThan(0);
    expect((await call(sim, 'POST', '/_sim/reset')).status).toBe(204);
    expect((await call(sim, 'GET', '/_sim/tenants')).body.value).toEqual([]);
    expect((await call(sim, 'GET', '/_sim/counters')).body).toEqual({
      requestsByRoute: {},
      requestsByMailbox: {},
      peakConcurrencyByMailbox: {},
      tokenRequestsByApp: {},
      throttled: 0,
      faultsInjected: 0,
      totalGraphRequests: 0,
    });
    const stale = await call(sim, 'GET', `/v1.0/users/alice@${contoso.domain}/mailboxSettings`, undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(stale.status).toBe(401);
  });
});
