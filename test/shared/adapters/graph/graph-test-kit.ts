/**
 * The Graph adapter's test kit: the M365 simulator in-process, a tenant with an app (Mail.Read,
 * User.Read.All, MailboxSettings.Read) and seeded mailboxes, a client-credentials token source that counts
 * its token requests, a recorder of every Graph request the adapter's HTTP handler sends (URL, Prefer,
 * whether a bearer token went out), and small control-API helpers.
 */
import type { SimCounters, StartedSimulator } from '../../../../dev/m365-simulator/contract';
import { GraphMailSource, type GraphTokenSource } from '../../../../shared/adapters/graph';
import { appToken, call, createTenant, startTestSimulator, type TestTenant } from '../../../dev/m365-simulator/helpers';

export interface SentRequest {
  url: string;
  method: string;
  prefer: string | null;
  hasBearer: boolean;
}

/** Records requests to `/v1.0/` URLs that go through the global fetch (what HTTPMessageHandler calls). */
export function recordGraphRequests(): { requests: SentRequest[]; restore: () => void } {
  const realFetch = globalThis.fetch;
  const requests: SentRequest[] = [];
  const spy = jest.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.includes('/v1.0/')) {
      const headers = new Headers(init?.headers);
      requests.push({
        url,
        method: init?.method ?? 'GET',
        prefer: headers.get('prefer'),
        hasBearer: /^Bearer \S+/.test(headers.get('authorization') ?? ''),
      });
    }
    return realFetch(input, init);
  });
  return { requests, restore: () => spy.mockRestore() };
}

export class CountingTokenSource implements GraphTokenSource {
  tokenRequests = 0;
  invalidations = 0;
  private cached: string | undefined;

  constructor(private readonly fetchToken: () => Promise<string>) {}

  async getAccessToken(): Promise<string> {
    if (this.cached) return this.cached;
    this.tokenRequests++;
    this.cached = await this.fetchToken();
    return this.cached;
  }

  invalidate(): Promise<void> {
    this.invalidations++;
    this.cached = undefined;
    return Promise.resolve();
  }

  /** Tests: hand out this token next (e.g. a garbage one, to get a 401). */
  setCached(token: string): void {
    this.cached = token;
  }
}

export interface GraphKit {
  sim: StartedSimulator;
  tenant: TestTenant;
  /** UPN of the main seeded mailbox. */
  mailbox: string;
  /** UPN of a second mailbox, outside the scoped app's mailbox scope. */
  otherMailbox: string;
  tokens: CountingTokenSource;
  source: GraphMailSource;
  graphEndpoint: string;
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  counters(): Promise<SimCounters>;
  resetCounters(): Promise<void>;
  /** Requests per route pattern since the last reset, summed over patterns containing `fragment`. */
  requestsTo(fragment: string): Promise<number>;
  newSource(tokens: GraphTokenSource): GraphMailSource;
  tokenFor(appId: string, secret: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startGraphKit(seedFolders: Record<string, number>): Promise<GraphKit> {
  const sim = await startTestSimulator();
  const tenant = await createTenant(sim, {
    name: `Graph${Date.now()}`,
    users: [{ alias: 'info' }, { alias: 'other' }],
  });
  const mailbox = tenant.users[0]!.userPrincipalName;
  const otherMailbox = tenant.users[1]!.userPrincipalName;
  async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await call<T>(sim, method, path, body);
    if (response.status >= 300)
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
  await control('POST', `/_sim/mailboxes/${mailbox}/seed`, {
    seed: 7,
    folders: seedFolders,
    attachmentRate: 0,
    since: '2024-01-01T00:00:00Z',
  });
  await control('POST', `/_sim/mailboxes/${otherMailbox}/seed`, { seed: 8, folders: { Inbox: 3 }, attachmentRate: 0 });
  const graphEndpoint = `${sim.url}/v1.0`;
  const tokens = new CountingTokenSource(() => appToken(sim, tenant.tenantId, tenant.appId, tenant.secret));
  const newSource = (t: GraphTokenSource) => new GraphMailSource({ graphApiEndpoint: graphEndpoint, tokens: t });
  const counters = () => control<SimCounters>('GET', '/_sim/counters');
  return {
    sim,
    tenant,
    mailbox,
    otherMailbox,
    tokens,
    source: newSource(tokens),
    graphEndpoint,
    control,
    counters,
    resetCounters: async () => {
      await control('POST', '/_sim/counters/reset');
    },
    requestsTo: async (fragment) =>
      Object.entries((await counters()).requestsByRoute)
        .filter(([route]) => route.includes(fragment))
        .reduce((n, [, count]) => n + count, 0),
    newSource,
    tokenFor: (appId, secret) => appToken(sim, tenant.tenantId, appId, secret),
    stop: () => sim.stop(),
  };
}

/** Drains a byte stream, returning its size and the highest RSS growth seen while reading it. */
export async function drain(
  stream: AsyncIterable<Uint8Array>,
): Promise<{ bytes: number; peakRssGrowth: number; head: Buffer }> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let bytes = 0;
  let chunks = 0;
  const head: Buffer[] = [];
  for await (const chunk of stream) {
    if (bytes < 4096) head.push(Buffer.from(chunk));
    bytes += chunk.byteLength;
    if (++chunks % 16 === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { bytes, peakRssGrowth: peak - baseline, head: Buffer.concat(head) };
}
