/** The current time. Domain code never calls `Date.now()` directly, so tests can control time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
