import fc from 'fast-check';
import { rounds } from '../../test/support/long-mode';
import { catchUpDue, CronScheduleError, nextRun, previousFireTime, tickFireTime, validateCron } from './cron-schedule';

const BERLIN = 'Europe/Berlin';
const d = (iso: string): Date => new Date(iso);

describe('validateCron', () => {
  it.each<[string, string, string | null]>([
    ['0 2 * * *', 'UTC', null],
    ['0 0 2 * * *', 'Europe/Berlin', null],
    ['15 3 * * mon-fri', 'America/New_York', null],
    ['0 4 1 jan,jul *', 'UTC', null],
    ['@daily', 'UTC', null],
    ['  0 2 * * *  ', 'UTC', null],
    ['', 'UTC', 'cron: expression is empty'],
    [
      '0 2 * *',
      'UTC',
      'cron: expected 5 or 6 fields (minute hour day-of-month month day-of-week, optionally preceded by second), got 4',
    ],
    [
      '0 0 0 2 * * *',
      'UTC',
      'cron: expected 5 or 6 fields (minute hour day-of-month month day-of-week, optionally preceded by second), got 7',
    ],
    ['61 * * * *', 'UTC', "cron: minute field '61' is invalid: Field value (61) is out of range"],
    ['0 25 * * *', 'UTC', "cron: hour field '25' is invalid: Field value (25) is out of range"],
    ['0 0 0 * *', 'UTC', "cron: day-of-month field '0' is invalid: Field value (0) is out of range"],
    ['0 0 * 13 *', 'UTC', "cron: month field '13' is invalid: Field value (13) is out of range"],
    ['0 0 * * 8', 'UTC', "cron: day-of-week field '8' is invalid: Field value (8) is out of range"],
    ['*/0 * * * *', 'UTC', "cron: minute field '*/0' is invalid: Field (minute) has a step of zero"],
    ['60 0 * * * *', 'UTC', "cron: second field '60' is invalid: Field value (60) is out of range"],
    ['jan * * * *', 'UTC', "cron: minute field 'jan' is invalid: names are only allowed in month and day-of-week"],
    ['0 0 * * funday', 'UTC', "cron: day-of-week field 'funday' is invalid: Unknown alias: fun"],
    ['0 0 30 2 *', 'UTC', "cron: '0 0 30 2 *' never matches a date (for example 30 February)"],
    [
      '@sometimes',
      'UTC',
      "cron: unknown preset '@sometimes' (known: @yearly, @monthly, @weekly, @daily, @hourly, @weekdays, @weekends)",
    ],
    ['0 2 * * *', 'Mars/Base', "timezone: unknown IANA time zone 'Mars/Base'"],
    ['0 2 * * *', '', 'timezone: must be a non-empty IANA time zone name such as "UTC" or "Europe/Berlin"'],
  ])('%j in %j -> %j', (expr, tz, expected) => {
    expect(validateCron(expr, tz)).toBe(expected);
  });
});

describe('nextRun', () => {
  it.each<[string, string, string, string, string]>([
    ['daily, UTC', '0 2 * * *', 'UTC', '2026-11-21T10:00:00Z', '2026-11-22T02:00:00Z'],
    ['a fire time itself is not "after"', '0 2 * * *', 'UTC', '2026-11-22T02:00:00Z', '2026-11-23T02:00:00Z'],
    ['milliseconds before a fire', '0 2 * * *', 'UTC', '2026-11-22T01:59:59.999Z', '2026-11-22T02:00:00Z'],
    ['milliseconds after a fire', '0 2 * * *', 'UTC', '2026-11-22T02:00:00.001Z', '2026-11-23T02:00:00Z'],
    ['daily, Berlin winter (UTC+1)', '0 2 * * *', BERLIN, '2026-11-21T12:00:00Z', '2026-11-22T01:00:00Z'],
    ['daily, Berlin summer (UTC+2)', '0 2 * * *', BERLIN, '2026-07-01T12:00:00Z', '2026-07-02T00:00:00Z'],
    ['Sunday as 0', '0 3 * * 0', 'UTC', '2026-11-21T00:00:00Z', '2026-11-22T03:00:00Z'],
    ['Sunday as 7', '0 3 * * 7', 'UTC', '2026-11-21T00:00:00Z', '2026-11-22T03:00:00Z'],
    ['day-of-month OR day-of-week (Friday first)', '0 0 13 * 5', 'UTC', '2026-11-21T00:00:00Z', '2026-11-27T00:00:00Z'],
    ['day-of-month OR day-of-week (13th first)', '0 0 13 * 5', 'UTC', '2026-12-12T00:00:00Z', '2026-12-13T00:00:00Z'],
    ['seconds field', '*/10 * * * * *', 'UTC', '2026-11-21T00:00:05Z', '2026-11-21T00:00:10Z'],
    ['preset', '@monthly', 'UTC', '2026-11-21T00:00:00Z', '2026-12-01T00:00:00Z'],
    ['leap day', '0 0 29 2 *', 'UTC', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00Z'],
    // Spring forward in Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    ['spring forward: 02:30 runs at 03:00 CEST', '30 2 * * *', BERLIN, '2026-03-28T12:00:00Z', '2026-03-29T01:00:00Z'],
    [
      'spring forward: and then not again that day',
      '30 2 * * *',
      BERLIN,
      '2026-03-29T01:00:00Z',
      '2026-03-30T00:30:00Z',
    ],
    ['spring forward: 02:00 runs at 03:00 CEST', '0 2 * * *', BERLIN, '2026-03-28T12:00:00Z', '2026-03-29T01:00:00Z'],
    ['spring forward: 03:30 unaffected', '30 3 * * *', BERLIN, '2026-03-28T12:00:00Z', '2026-03-29T01:30:00Z'],
    // Fall back in Berlin, 2026-10-25: 03:00 CEST (01:00Z) returns to 02:00 CET.
    ['fall back: first 02:30 (CEST)', '30 2 * * *', BERLIN, '2026-10-24T12:00:00Z', '2026-10-25T00:30:00Z'],
    [
      'fall back: not the second 02:30 (from the fire)',
      '30 2 * * *',
      BERLIN,
      '2026-10-25T00:30:00Z',
      '2026-10-26T01:30:00Z',
    ],
    [
      'fall back: not the second 02:30 (from between)',
      '30 2 * * *',
      BERLIN,
      '2026-10-25T01:00:00Z',
      '2026-10-26T01:30:00Z',
    ],
    [
      'fall back: not the second 02:30 (from inside)',
      '30 2 * * *',
      BERLIN,
      '2026-10-25T01:10:00Z',
      '2026-10-26T01:30:00Z',
    ],
    [
      'fall back: hourly runs in both copies of 02:30',
      '30 * * * *',
      BERLIN,
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
    ],
    [
      'fall back: New York 01:30 once',
      '30 1 * * *',
      'America/New_York',
      '2026-11-01T05:31:00Z',
      '2026-11-02T06:30:00Z',
    ],
  ])('%s', (_name, expr, tz, after, expected) => {
    expect(nextRun(expr, tz, d(after)).toISOString()).toBe(d(expected).toISOString());
  });

  it.each<[string, string, string, string, string[]]>([
    [
      'hourly across spring forward: the missing 02:30 fires at 03:00',
      '30 * * * *',
      BERLIN,
      '2026-03-28T23:45:00Z',
      ['2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z', '2026-03-29T02:30:00Z'],
    ],
    [
      'hourly across fall back: one fire per real hour',
      '30 * * * *',
      BERLIN,
      '2026-10-24T23:45:00Z',
      ['2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-10-25T02:30:00Z', '2026-10-25T03:30:00Z'],
    ],
    [
      'every 15 minutes in hour 2 across fall back: the repeated hour runs once',
      '*/15 2 * * *',
      BERLIN,
      '2026-10-24T23:45:00Z',
      [
        '2026-10-25T00:00:00Z',
        '2026-10-25T00:15:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-25T00:45:00Z',
        '2026-10-26T01:00:00Z',
      ],
    ],
  ])('%s', (_name, expr, tz, start, expected) => {
    const fires: string[] = [];
    let at = d(start);
    for (let i = 0; i < expected.length; i++) {
      at = nextRun(expr, tz, at);
      fires.push(at.toISOString());
    }
    expect(fires).toEqual(expected.map((iso) => d(iso).toISOString()));
  });

  it.each([
    ['30 2 * * *', '2026-03-20T00:00:00Z', '2026-04-05T00:00:00Z'],
    ['0 2 * * *', '2026-03-20T00:00:00Z', '2026-04-05T00:00:00Z'],
    ['30 2 * * *', '2026-10-18T00:00:00Z', '2026-11-02T00:00:00Z'],
    ['59 2 * * *', '2026-10-18T00:00:00Z', '2026-11-02T00:00:00Z'],
  ])('%s in Berlin fires exactly once per local day from %s to %s', (expr, from, to) => {
    const localDay = new Intl.DateTimeFormat('en-CA', {
      timeZone: BERLIN,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    const days: string[] = [];
    for (let at = nextRun(expr, BERLIN, d(from)); at < d(to); at = nextRun(expr, BERLIN, at)) {
      days.push(localDay.format(at));
    }
    expect(new Set(days).size).toBe(days.length);
    const span = Math.round((d(to).getTime() - d(from).getTime()) / 86_400_000);
    expect(days.length).toBe(span);
  });

  it('names the problem when the expression or zone is bad', () => {
    expect(() => nextRun('61 * * * *', 'UTC', new Date())).toThrow(CronScheduleError);
    expect(() => nextRun('61 * * * *', 'UTC', new Date())).toThrow("cron: invalid expression '61 * * * *'");
    expect(() => nextRun('0 2 * * *', 'Mars/Base', new Date())).toThrow("timezone: unknown IANA time zone 'Mars/Base'");
    expect(() => nextRun('0 2 * * *', 'UTC', new Date('nope'))).toThrow('after must be a valid Date');
  });
});

describe('previousFireTime', () => {
  it.each<[string, string, string, string, string, string | null]>([
    [
      'latest daily fire in the window',
      '0 2 * * *',
      'UTC',
      '2026-11-21T10:00:00Z',
      '2026-11-18T00:00:00Z',
      '2026-11-21T02:00:00Z',
    ],
    [
      'upper bound is inclusive',
      '0 2 * * *',
      'UTC',
      '2026-11-21T02:00:00Z',
      '2026-11-18T00:00:00Z',
      '2026-11-21T02:00:00Z',
    ],
    ['lower bound is exclusive', '0 2 * * *', 'UTC', '2026-11-21T10:00:00Z', '2026-11-21T02:00:00Z', null],
    ['nothing in the window', '0 2 * * *', 'UTC', '2026-11-21T10:00:00Z', '2026-11-21T03:00:00Z', null],
    ['empty window', '0 2 * * *', 'UTC', '2026-11-21T10:00:00Z', '2026-11-21T10:00:00Z', null],
    [
      'yearly over three years',
      '0 0 1 1 *',
      'UTC',
      '2026-11-21T10:00:00Z',
      '2023-06-01T00:00:00Z',
      '2026-01-01T00:00:00Z',
    ],
    [
      'every second over a month',
      '* * * * * *',
      'UTC',
      '2026-11-21T10:00:00.700Z',
      '2026-10-21T00:00:00Z',
      '2026-11-21T10:00:00Z',
    ],
    [
      'Berlin fall back: the first 02:30, not its twin',
      '30 2 * * *',
      BERLIN,
      '2026-10-25T01:45:00Z',
      '2026-10-24T12:00:00Z',
      '2026-10-25T00:30:00Z',
    ],
    [
      'Berlin spring forward: 02:30 happened at 03:00',
      '30 2 * * *',
      BERLIN,
      '2026-03-29T01:20:00Z',
      '2026-03-28T12:00:00Z',
      '2026-03-29T01:00:00Z',
    ],
  ])('%s', (_name, expr, tz, before, notBefore, expected) => {
    const result = previousFireTime(expr, tz, d(before), d(notBefore));
    expect(result?.toISOString() ?? null).toBe(expected === null ? null : d(expected).toISOString());
  });

  it('agrees with stepping forward through nextRun', () => {
    const exprs = ['*/7 * * * *', '0 */5 * * *', '30 2 * * *', '0 0 * * 1', '15 9-17 * * 1-5'];
    const zones = ['UTC', BERLIN, 'America/New_York', 'Asia/Kolkata'];
    const base = d('2026-01-01T00:00:00Z').getTime();
    fc.assert(
      fc.property(
        fc.constantFrom(...exprs),
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 365 * 86_400 }),
        fc.integer({ min: 0, max: 86_400 }),
        (expr, tz, startSec, lengthSec) => {
          const notBefore = new Date(base + startSec * 1000);
          const before = new Date(notBefore.getTime() + lengthSec * 1000);
          let last: Date | null = null;
          for (let at = nextRun(expr, tz, notBefore); at <= before; at = nextRun(expr, tz, at)) last = at;
          expect(previousFireTime(expr, tz, before, notBefore)?.toISOString() ?? null).toBe(
            last?.toISOString() ?? null,
          );
        },
      ),
      // Fewer runs in CI, the full count with STRONGROOM_LONG_TESTS=1.
      { numRuns: rounds(30, 100) },
    );
  });
});

describe('tickFireTime', () => {
  const at = (iso: string) => new Date(iso).getTime();

  it.each([
    ['woke on time', '2026-03-02T10:15:00.000Z', '2026-03-02T10:15:00.000Z'],
    ['woke 400 ms early', '2026-03-02T10:14:59.600Z', '2026-03-02T10:15:00.000Z'],
    ['woke 20 s late', '2026-03-02T10:15:20.000Z', '2026-03-02T10:15:00.000Z'],
  ])('is the scheduled instant when the timer %s', (_, now, fire) => {
    expect(tickFireTime('*/15 * * * *', 'UTC', at(now)).toISOString()).toBe(fire);
  });

  it('falls back to the wake-up time rounded to the second when no fire time is near', () => {
    expect(tickFireTime('0 3 * * *', 'UTC', at('2026-03-02T10:15:20.400Z')).toISOString()).toBe(
      '2026-03-02T10:15:20.000Z',
    );
  });

  it('reads the expression in its time zone', () => {
    expect(tickFireTime('0 3 * * *', 'Europe/Berlin', at('2026-03-02T02:00:05.000Z')).toISOString()).toBe(
      '2026-03-02T02:00:00.000Z',
    );
  });
});

describe('catchUpDue', () => {
  const daily = { expr: '0 2 * * *', tz: 'UTC', graceMs: 6 * 3_600_000 };

  it.each<[string, string | null, string | null, string, string | null]>([
    [
      'missed fire within grace runs once',
      '2026-11-20T02:00:05Z',
      null,
      '2026-11-21T05:00:00Z',
      '2026-11-21T02:00:00Z',
    ],
    ['missed fire beyond grace waits for the next run', '2026-11-20T02:00:05Z', null, '2026-11-21T09:00:00Z', null],
    [
      'several missed fires collapse into the latest',
      '2026-11-15T02:00:05Z',
      null,
      '2026-11-21T03:00:00Z',
      '2026-11-21T02:00:00Z',
    ],
    ['nothing missed since the last run', '2026-11-21T02:00:05Z', null, '2026-11-21T05:00:00Z', null],
    ['grace boundary is inclusive', '2026-11-20T02:00:05Z', null, '2026-11-21T08:00:00Z', '2026-11-21T02:00:00Z'],
    ['never ran and no creation time: no catch-up', null, null, '2026-11-21T05:00:00Z', null],
    [
      'never ran, created before the fire',
      null,
      '2026-11-20T12:00:00Z',
      '2026-11-21T05:00:00Z',
      '2026-11-21T02:00:00Z',
    ],
    ['never ran, created after the fire', null, '2026-11-21T03:00:00Z', '2026-11-21T05:00:00Z', null],
  ])('%s', (_name, lastRunAt, createdAt, now, expected) => {
    const result = catchUpDue({
      ...daily,
      lastRunAt: lastRunAt ? d(lastRunAt) : null,
      createdAt: createdAt ? d(createdAt) : null,
      now: d(now),
    });
    expect(result?.toISOString() ?? null).toBe(expected === null ? null : d(expected).toISOString());
  });

  it('rejects a negative grace period', () => {
    expect(() => catchUpDue({ ...daily, graceMs: -1, lastRunAt: new Date(), now: new Date() })).toThrow(
      'graceMs must be a non-negative number of milliseconds, got -1',
    );
  });
});
