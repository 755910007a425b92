/** Timer schedules: NCRONTAB with seconds first, in UTC; time-span intervals; binding expressions. */
import { resolveSettings } from '../../../dev/functions-host/bindings';
import { parseTimeSpan } from '../../../dev/functions-host/host-json';
import { parseSchedule } from '../../../dev/functions-host/timers';

describe('timer schedules', () => {
  it('reads six NCRONTAB fields with seconds first, in UTC', () => {
    const everyFiveMinutes = parseSchedule('0 */5 * * * *');
    expect(everyFiveMinutes.next(new Date('2026-03-01T10:02:30Z'))?.toISOString()).toBe('2026-03-01T10:05:00.000Z');
    const nightly = parseSchedule('0 30 3 * * *');
    expect(nightly.next(new Date('2026-03-01T10:00:00Z'))?.toISOString()).toBe('2026-03-02T03:30:00.000Z');
    const everyTenSeconds = parseSchedule('*/10 * * * * *');
    expect(everyTenSeconds.next(new Date('2026-03-01T10:00:01Z'))?.toISOString()).toBe('2026-03-01T10:00:10.000Z');
  });

  it('requires day-of-month and day-of-week to both match, like NCRONTAB', () => {
    // The 13th that is a Friday, not every 13th and every Friday.
    const friday13 = parseSchedule('0 0 0 13 * 5');
    expect(friday13.next(new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-02-13T00:00:00.000Z');
  });

  it('accepts hh:mm:ss intervals and rejects five-field cron', () => {
    expect(parseSchedule('00:05:00').next(new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-01-01T00:05:00.000Z',
    );
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/six fields/);
    expect(parseTimeSpan('1.02:03:04.5')).toBe(((26 * 60 + 3) * 60 + 4.5) * 1000);
  });

  it('resolves %SETTING% from app settings and names a missing one', () => {
    expect(resolveSettings('%SYNC_SCHEDULE%', { SYNC_SCHEDULE: '0 */5 * * * *' })).toBe('0 */5 * * * *');
    expect(() => resolveSettings('%NOPE%', {})).toThrow(/app setting "NOPE" is not set/);
  });
});
