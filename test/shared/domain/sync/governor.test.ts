/**
 * The throttle governor: per-mailbox concurrency, one retry honouring Retry-After, deadlines, 401 refresh.
 */
import { MailSourceError } from '../../../../shared/domain/ports/mail-source';
import { MailboxThrottledError, ThrottleGovernor } from '../../../../shared/domain/sync';
import { FakeClock, throttled } from './fakes';

function governor(options: { maxConcurrency?: number } = {}) {
  const clock = new FakeClock();
  const slept: number[] = [];
  const g = new ThrottleGovernor({
    clock,
    ...options,
    sleep: async (ms) => {
      slept.push(ms);
      clock.advance(ms);
      await Promise.resolve();
    },
  });
  return { clock, slept, g };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ThrottleGovernor', () => {
  it('never runs more than 4 calls at once per mailbox, and mailboxes do not wait for each other', async () => {
    const { g } = governor({ maxConcurrency: 10 }); // clamped to Graph's limit of 4
    let inFlight = 0;
    let peak = 0;
    const otherStarted: number[] = [];
    const work = (key: string) =>
      g.run(key, async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        if (key === 'b') otherStarted.push(inFlight);
        await tick();
        await tick();
        inFlight--;
        return key;
      });
    const results = await Promise.all([...Array.from({ length: 12 }, () => work('a')), work('b')]);
    expect(results.filter((r) => r === 'a')).toHaveLength(12);
    expect(peak).toBe(5); // 4 for mailbox a + 1 for mailbox b
    expect(g.peakConcurrency('a')).toBe(4);
    expect(otherStarted).toHaveLength(1);
  });

  it('lets a high-priority call (the delta page the sync waits for) go before calls already queued', async () => {
    const { g } = governor({ maxConcurrency: 1 });
    const order: string[] = [];
    let release: () => void = () => undefined;
    const blocker = g.run('m', () => new Promise<void>((resolve) => (release = resolve)));
    const queued = ['a1', 'a2', 'a3'].map((name) => g.run('m', () => Promise.resolve(void order.push(name))));
    const delta = g.run('m', () => Promise.resolve(void order.push('delta')), { priority: 'high' });
    await tick();
    release();
    await Promise.all([blocker, ...queued, delta]);
    expect(order).toEqual(['delta', 'a1', 'a2', 'a3']);
    expect(g.peakConcurrency('m')).toBe(1);
  });

  it('honours a lower configured limit', async () => {
    const { g } = governor({ maxConcurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => g.run('m', tick)));
    expect(g.peakConcurrency('m')).toBe(2);
  });

  it('waits Retry-After once then retries; a second throttle gives up with the retry time', async () => {
    const { g, slept, clock } = governor();
    let calls = 0;
    await expect(
      g.run('m', async () => {
        calls++;
        await Promise.resolve();
        if (calls === 1) throw throttled(3);
        return 'ok';
      }),
    ).resolves.toBe('ok');
    expect(slept).toEqual([3000]);

    calls = 0;
    const start = clock.now().getTime();
    const error = await g
      .run('n', async () => {
        calls++;
        await Promise.resolve();
        throw throttled(4);
      })
      .catch((e: unknown) => e);
    expect(calls).toBe(2);
    expect(error).toBeInstanceOf(MailboxThrottledError);
    expect((error as MailboxThrottledError).retryAt.getTime()).toBe(start + 4000 + 4000);
  });

  it('does not wait past the deadline: throws at once with retryAt, and later calls fail fast without a request', async () => {
    const { g, slept, clock } = governor();
    const deadline = new Date(clock.now().getTime() + 60_000);
    let calls = 0;
    const fail = async () => {
      calls++;
      await Promise.resolve();
      throw new MailSourceError(429, 'TooManyRequests', 'slow down', { retryAfterSeconds: 120 });
    };
    const first = await g.run('m', fail, { deadline }).catch((e: unknown) => e);
    expect(first).toMatchObject({ retryAt: new Date(clock.now().getTime() + 120_000) });
    expect(slept).toEqual([]);

    const second = await g.run('m', fail, { deadline }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(MailboxThrottledError);
    expect(calls).toBe(1);
  });

  it('uses a default wait when Retry-After is missing, and lets other calls of the mailbox wait for the same moment', async () => {
    const { g, slept } = governor();
    let calls = 0;
    const p1 = g.run('m', async () => {
      calls++;
      await Promise.resolve();
      if (calls === 1) throw throttled(undefined);
      return 1;
    });
    await expect(p1).resolves.toBe(1);
    expect(slept).toEqual([10_000]);
  });

  it('on 401 calls onUnauthorized once and retries once', async () => {
    const { g } = governor();
    const refresh = jest.fn(async () => {
      await Promise.resolve();
    });
    let calls = 0;
    const unauthorized = () => new MailSourceError(401, 'InvalidAuthenticationToken', 'expired');
    await expect(
      g.run(
        'm',
        async () => {
          calls++;
          await Promise.resolve();
          if (calls === 1) throw unauthorized();
          return 'ok';
        },
        { onUnauthorized: refresh },
      ),
    ).resolves.toBe('ok');
    expect(refresh).toHaveBeenCalledTimes(1);

    calls = 0;
    await expect(
      g.run(
        'm',
        async () => {
          calls++;
          await Promise.resolve();
          throw unauthorized();
        },
        { onUnauthorized: refresh },
      ),
    ).rejects.toMatchObject({ status: 401 });
    expect(calls).toBe(2);
  });

  it('passes every other error through untouched, without retrying', async () => {
    const { g } = governor();
    let calls = 0;
    const error = new MailSourceError(500, 'InternalServerError', 'boom');
    await expect(
      g.run('m', async () => {
        calls++;
        await Promise.resolve();
        throw error;
      }),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });
});
