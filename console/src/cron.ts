/**
 * Cron in words and its next runs in a time zone, computed in the browser so the schedule
 * form previews an expression before it is saved. The server stays the judge: it validates
 * the expression on save (400 naming the field) and runs it. Same grammar as the server:
 * 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, names
 * (jan, mon), ranges, lists, steps, and the @-presets.
 */
const PRESETS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

interface Field {
  values: Set<number>;
  any: boolean;
  source: string;
}

export interface ParsedCron {
  second: Field;
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
}

function parseField(src: string, min: number, max: number, names: string[] = [], nameBase = min): Field {
  const values = new Set<number>();
  const num = (s: string): number => {
    const i = names.indexOf(s.toLowerCase());
    if (i >= 0) return i + nameBase;
    if (!/^\d+$/.test(s)) throw new Error(`"${s}" is not a number`);
    return Number(s);
  };
  for (const part of src.split(',')) {
    const [range, stepSrc] = part.split('/');
    const step = stepSrc === undefined ? 1 : Number(stepSrc);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in "${part}"`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [lo, hi] = [num(a), num(b)];
    } else {
      lo = num(range);
      hi = stepSrc === undefined ? lo : max;
    }
    if (lo < min || hi > max || lo > hi) throw new Error(`"${part}" is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, any: src === '*' || src === '?', source: src };
}

export function parseCron(expr: string): ParsedCron {
  const text = PRESETS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) throw new Error('a cron expression has 5 fields (or 6 with seconds)');
  const [sec, min, hour, dom, month, dow] = parts.length === 6 ? parts : ['0', ...parts];
  const dowField = parseField(dow, 0, 7, DAYS);
  if (dowField.values.delete(7)) dowField.values.add(0); // 7 is Sunday too
  return {
    second: parseField(sec, 0, 59),
    minute: parseField(min, 0, 59),
    hour: parseField(hour, 0, 23),
    dom: parseField(dom, 1, 31),
    month: parseField(month, 1, 12, MONTHS, 1),
    dow: dowField,
  };
}

const pad = (n: number) => String(n).padStart(2, '0');
const list = (items: string[]) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
const sorted = (f: Field) => [...f.values].sort((a, b) => a - b);

/** "At 02:00, every day", "Every 15 minutes, on Monday and Friday", … */
export function describeCron(expr: string): string {
  const c = parseCron(expr);
  let time: string;
  const minutes = sorted(c.minute);
  const hours = sorted(c.hour);
  const step = /^\*\/(\d+)$/.exec(c.minute.source);
  if (c.minute.any && c.hour.any) time = 'Every minute';
  else if (step && c.hour.any) time = `Every ${step[1]} minutes`;
  else if (c.hour.any) time = `At minute ${list(minutes.map(String))} of every hour`;
  else if (hours.length * minutes.length <= 6)
    time = `At ${list(hours.flatMap((h) => minutes.map((m) => `${pad(h)}:${pad(m)}`)))}`;
  else time = `At minute ${list(minutes.map(String))} past hour ${list(hours.map(String))}`;
  const secs = sorted(c.second);
  if (!(secs.length === 1 && secs[0] === 0)) time += `, second ${list(secs.map(String))}`;

  const days: string[] = [];
  if (!c.dom.any) days.push(`on day ${list(sorted(c.dom).map(String))} of the month`);
  if (!c.dow.any) days.push(`on ${list(sorted(c.dow).map((d) => DAY_NAMES[d]))}`);
  let when = days.length ? days.join(' or ') : 'every day';
  if (!c.month.any) when += `, in ${list(sorted(c.month).map((m) => MONTH_NAMES[m - 1]))}`;
  return `${time}, ${when}`;
}

/** The wall-clock fields of an instant in a time zone. */
function wall(t: number, fmt: Intl.DateTimeFormat) {
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year, mo: p.month, d: p.day, h: p.hour % 24, mi: p.minute, s: p.second };
}

/** Offset (ms) of the zone at instant t: wall time read as UTC minus t. */
function offsetAt(t: number, fmt: Intl.DateTimeFormat): number {
  const w = wall(t, fmt);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant of a wall time, the way the server's scheduler reads it: a wall time that occurs
 * twice (autumn) runs at its first occurrence; one a spring-forward gap skips runs once, at the
 * end of the gap (transitions fall on whole hours in practice).
 */
function instantOf(asUtc: number, h: number, mi: number, d: number, fmt: Intl.DateTimeFormat): number {
  const HOURS3 = 3 * 3600_000;
  const before = offsetAt(asUtc - HOURS3, fmt);
  const candidates = [asUtc - before, asUtc - offsetAt(asUtc + HOURS3, fmt)]
    .filter((t) => {
      const w = wall(t, fmt);
      return w.h === h && w.mi === mi && w.d === d;
    })
    .sort((x, y) => x - y);
  if (candidates.length) return candidates[0];
  return Math.floor((asUtc - before) / 3600_000) * 3600_000;
}

/**
 * The next `n` runs after `after`, in `timeZone`. Walks day by day through matching days and,
 * within a day, through the matching hours and minutes (wall clock), converting each to an
 * instant as the scheduler does (see instantOf).
 */
export function nextRuns(expr: string, timeZone: string, n = 5, after = new Date()): Date[] {
  const c = parseCron(expr);
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const out: Date[] = [];
  const start = wall(after.getTime(), fmt);
  const hours = sorted(c.hour);
  const minutes = sorted(c.minute);
  const seconds = sorted(c.second);
  // Standard cron: when both day fields are restricted, either may match.
  const dayMatches = (y: number, mo: number, d: number) => {
    const dow = new Date(Date.UTC(y, mo - 1, d)).getUTCDay();
    if (!c.month.values.has(mo)) return false;
    if (!c.dom.any && !c.dow.any) return c.dom.values.has(d) || c.dow.values.has(dow);
    return c.dom.values.has(d) && c.dow.values.has(dow);
  };
  for (let i = 0; i < 366 * 5 && out.length < n; i++) {
    const day = new Date(Date.UTC(start.y, start.mo - 1, start.d + i));
    const [y, mo, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (!dayMatches(y, mo, d)) continue;
    for (const h of hours)
      for (const mi of minutes)
        for (const s of seconds) {
          if (out.length >= n) return out;
          const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
          const t = instantOf(asUtc, h, mi, d, fmt);
          if (t <= after.getTime() || out.some((o) => o.getTime() === t)) continue;
          out.push(new Date(t));
        }
  }
  return out;
}
