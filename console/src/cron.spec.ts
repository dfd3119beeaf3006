import { describeCron, nextRuns, parseCron } from './cron';

describe('console cron preview', () => {
  it('says common expressions in words', () => {
    expect(describeCron('0 2 * * *')).toBe('At 02:00, every day');
    expect(describeCron('30 4 * * 1')).toBe('At 04:30, on Monday');
    expect(describeCron('*/15 * * * *')).toBe('Every 15 minutes, every day');
    expect(describeCron('0 3 1 * *')).toBe('At 03:00, on day 1 of the month');
    expect(describeCron('@hourly')).toBe('At minute 0 of every hour, every day');
    expect(describeCron('0 0 6 * * sat,sun')).toBe('At 06:00, on Sunday and Saturday');
  });

  // Expected values are what the server's scheduler (src/scheduler/cron-schedule.ts nextRun) answers.
  it('lists the next runs in the schedule’s zone, across a DST change', () => {
    // Paris leaves summer time on 2026-10-25 at 03:00: 02:00 happens twice and runs at the first (00:00 UTC).
    const runs = nextRuns('0 2 * * *', 'Europe/Paris', 3, new Date('2026-10-24T12:00:00Z'));
    expect(runs.map((d) => d.toISOString())).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-26T01:00:00.000Z',
      '2026-10-27T01:00:00.000Z',
    ]);
    const before = nextRuns('0 2 * * *', 'Europe/Paris', 1, new Date('2026-10-23T12:00:00Z'));
    expect(before[0].toISOString()).toBe('2026-10-24T00:00:00.000Z');
  });

  it('runs wall times a spring-forward gap removes once, at the end of the gap', () => {
    // 2026-03-29 02:00-02:59 does not exist in Paris; the gap ends at 03:00 CEST (01:00 UTC).
    const runs = nextRuns('*/20 2 * * *', 'Europe/Paris', 4, new Date('2026-03-28T12:00:00Z'));
    expect(runs.map((d) => d.toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:00:00.000Z',
      '2026-03-30T00:20:00.000Z',
      '2026-03-30T00:40:00.000Z',
    ]);
  });

  it('matches either day field when both are restricted, and finds rare dates', () => {
    const runs = nextRuns('0 0 13 * 5', 'UTC', 3, new Date('2026-01-01T00:00:00Z'));
    expect(runs.map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-01-02', '2026-01-09', '2026-01-13']);
    expect(nextRuns('0 0 29 2 *', 'UTC', 1, new Date('2026-01-01T00:00:00Z'))[0].toISOString()).toBe(
      '2028-02-29T00:00:00.000Z',
    );
  });

  it('names what is wrong with a bad expression', () => {
    expect(() => parseCron('0 2 * *')).toThrow(/5 fields/);
    expect(() => parseCron('61 * * * *')).toThrow(/outside 0-59/);
    expect(() => parseCron('x * * * *')).toThrow(/not a number/);
  });
});
