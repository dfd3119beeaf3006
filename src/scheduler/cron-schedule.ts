import { CronTime } from 'cron';

/**
 * Cron rules for backup schedules, as pure functions of (expression, time zone, instant).
 *
 * DST policy (what a user of a nightly backup expects):
 * - Spring forward: a wall time inside the gap (02:30 in Europe/Berlin on the last Sunday of
 *   March) fires once, at the first instant after the gap (03:00 CEST), never skipped.
 * - Fall back: a schedule with fixed hours fires once on the first occurrence of a repeated
 *   wall time; only schedules that run every hour fire in both copies of the repeated hour,
 *   because a real hour passed between them.
 */

type CronInstant = ReturnType<CronTime['getNextDateFrom']>;

const FIELD_NAMES = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const SECONDS_FIELD = 'second';
const NAMED_FIELDS = new Set<string>(['month', 'day-of-week']);
const PRESETS = ['@yearly', '@monthly', '@weekly', '@daily', '@hourly', '@weekdays', '@weekends'];
// A fall-back transition shortens the day by at most an hour (30 minutes on Lord Howe);
// looking three hours back is enough to see the offset from before it.
const FALL_BACK_LOOKBEHIND_HOURS = 3;

const knownZones = new Set<string>();

export class CronScheduleError extends Error {
  override readonly name = 'CronScheduleError';
}

export interface CatchUpInput {
  expr: string;
  tz: string;
  /** When the schedule last ran; null if it never ran. */
  lastRunAt: Date | null;
  /** Used instead of lastRunAt for a schedule that never ran, so a new schedule is not run at once. */
  createdAt?: Date | null;
  now: Date;
  graceMs: number;
}

/** Returns null when the time zone is a known IANA zone, otherwise a message naming it. */
export function validateTimeZone(timezone: string): string | null {
  if (knownZones.has(timezone)) return null;
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    return 'timezone: must be a non-empty IANA time zone name such as "UTC" or "Europe/Berlin"';
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    return `timezone: unknown IANA time zone '${timezone}'`;
  }
  try {
    // The cron package resolves zones through luxon, which must agree with Intl.
    new CronTime('0 0 * * *', timezone);
  } catch {
    return `timezone: unknown IANA time zone '${timezone}'`;
  }
  // Only valid names are remembered, and there are a few hundred of them: bounded.
  knownZones.add(timezone);
  return null;
}

/**
 * Returns null when `expr` is a usable schedule in `timezone`, otherwise one human message that
 * names the problem (the field, the value, or the zone).
 */
export function validateCron(expr: string, timezone: string): string | null {
  const zoneProblem = validateTimeZone(timezone);
  if (zoneProblem) return zoneProblem;
  if (typeof expr !== 'string' || expr.trim() === '') return 'cron: expression is empty';

  const source = expr.trim();
  if (source.startsWith('@')) {
    if (!PRESETS.includes(source.toLowerCase())) {
      return `cron: unknown preset '${source}' (known: ${PRESETS.join(', ')})`;
    }
  } else {
    const fieldProblem = validateFields(source);
    if (fieldProblem) return fieldProblem;
  }

  let time: CronTime;
  try {
    time = new CronTime(source, timezone);
  } catch (err) {
    return `cron: ${messageOf(err)}`;
  }
  try {
    nextFrom(time, timezone, new Date());
  } catch {
    return `cron: '${source}' never matches a date (for example 30 February)`;
  }
  return null;
}

/** The first scheduled instant strictly after `after`. Throws CronScheduleError for a bad schedule. */
export function nextRun(expr: string, tz: string, after: Date): Date {
  assertValidDate(after, 'after');
  return nextFrom(compile(expr, tz), tz, after);
}

// A cron timer may wake a little early or late; fire times fall on whole seconds.
const TICK_SLACK_MS = 500;
const TICK_LOOKBACK_MS = 60_000;

/**
 * The scheduled instant a cron tick that woke at `now` stands for: the last fire time up to
 * half a second ahead (a timer may wake early) and at most a minute back (or late), else `now`
 * rounded to the second. Every instance computes the same instant for the same tick, which is
 * what they claim in the database, so exactly one of them runs it.
 */
export function tickFireTime(expr: string, tz: string, now: number): Date {
  return (
    previousFireTime(expr, tz, new Date(now + TICK_SLACK_MS), new Date(now - TICK_LOOKBACK_MS)) ??
    new Date(Math.round(now / 1000) * 1000)
  );
}

/**
 * The last scheduled instant in (notBefore, before], or null if none. Binary search over
 * nextRun (which never decreases as its input grows), so the cost is logarithmic in the
 * downtime even for schedules that fire every second.
 */
export function previousFireTime(expr: string, tz: string, before: Date, notBefore: Date): Date | null {
  assertValidDate(before, 'before');
  assertValidDate(notBefore, 'notBefore');
  const time = compile(expr, tz);
  const limit = before.getTime();
  const firesBy = (t: number): boolean => {
    try {
      return nextFrom(time, tz, new Date(t)).getTime() <= limit;
    } catch {
      return false; // no fire within the cron package's search horizon
    }
  };

  let lo = notBefore.getTime();
  let hi = limit;
  if (lo >= hi || !firesBy(lo)) return null;
  // Fires fall on whole seconds, so once the window is a second wide the fire after `lo`
  // is the last one at or before `before`.
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (firesBy(mid)) lo = mid;
    else hi = mid;
  }
  return nextFrom(time, tz, new Date(lo));
}

/**
 * After downtime, the one fire time that should still run at start: the most recent scheduled
 * instant since the last run, if it is no older than `graceMs`. Several missed fires collapse
 * into this one run; a fire older than the grace period waits for the next regular run.
 */
export function catchUpDue(input: CatchUpInput): Date | null {
  const { expr, tz, lastRunAt, createdAt, now, graceMs } = input;
  if (!Number.isFinite(graceMs) || graceMs < 0) {
    throw new CronScheduleError(`graceMs must be a non-negative number of milliseconds, got ${graceMs}`);
  }
  const since = lastRunAt ?? createdAt ?? null;
  if (since === null) return null;
  const missed = previousFireTime(expr, tz, now, since);
  if (missed === null) return null;
  return now.getTime() - missed.getTime() <= graceMs ? missed : null;
}

function validateFields(source: string): string | null {
  const fields = source.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `cron: expected 5 or 6 fields (${FIELD_NAMES.join(' ')}, optionally preceded by second), got ${fields.length}`;
  }
  const names = fields.length === 6 ? [SECONDS_FIELD, ...FIELD_NAMES] : [...FIELD_NAMES];
  for (let i = 0; i < fields.length; i++) {
    const name = names[i];
    const value = fields[i];
    // The cron package replaces month and weekday names anywhere in the expression, so
    // 'jan' in the minute field would silently mean minute 1.
    if (!NAMED_FIELDS.has(name) && /[a-z]/i.test(value)) {
      return `cron: ${name} field '${value}' is invalid: names are only allowed in month and day-of-week`;
    }
    const probe = fields.map((field, j) => (j === i ? field : '*')).join(' ');
    try {
      new CronTime(probe, 'UTC');
    } catch (err) {
      return `cron: ${name} field '${value}' is invalid: ${messageOf(err)}`;
    }
  }
  return null;
}

function compile(expr: string, tz: string): CronTime {
  const zoneProblem = validateTimeZone(tz);
  if (zoneProblem) throw new CronScheduleError(zoneProblem);
  if (typeof expr !== 'string' || expr.trim() === '') throw new CronScheduleError('cron: expression is empty');
  try {
    return new CronTime(expr.trim(), tz);
  } catch (err) {
    throw new CronScheduleError(`cron: invalid expression '${expr}': ${messageOf(err)}`);
  }
}

function nextFrom(time: CronTime, tz: string, after: Date): Date {
  const everyHour = time.toJSON()[2] === '*';
  let candidate = time.getNextDateFrom(after, tz);
  for (let step = 0; step < 4 && !everyHour; step++) {
    const first = firstOccurrenceOfRepeatedWallTime(candidate);
    if (first === null) break;
    if (first.toMillis() > after.getTime()) return first.toJSDate();
    // Every second copy up to the twin of `after` had its first copy at or before `after`:
    // that wall time already fired (or was missed then, which is catch-up's business), and
    // running the backup again an hour later is the surprise users complain about.
    const shiftMs = candidate.toMillis() - first.toMillis();
    const twinOfAfter = Math.max(candidate.toMillis(), after.getTime() + shiftMs);
    candidate = time.getNextDateFrom(new Date(twinOfAfter), tz);
  }
  const result = candidate.toJSDate();
  if (!(result.getTime() > after.getTime())) {
    throw new CronScheduleError(
      `cron: '${time.source.toString()}' produced ${result.toISOString()}, not after ${after.toISOString()}`,
    );
  }
  return result;
}

/** If `instant` is the second copy of a wall time repeated by a fall-back transition, the first copy. */
function firstOccurrenceOfRepeatedWallTime(instant: CronInstant): CronInstant | null {
  const offsetBefore = instant.minus({ hours: FALL_BACK_LOOKBEHIND_HOURS }).offset;
  const shiftMinutes = offsetBefore - instant.offset;
  if (shiftMinutes <= 0) return null;
  const earlier = instant.minus({ minutes: shiftMinutes });
  // Same wall time iff the earlier instant still carries the pre-transition offset.
  return earlier.offset === offsetBefore ? earlier : null;
}

function assertValidDate(value: Date, name: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new CronScheduleError(`${name} must be a valid Date`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
