/**
 * Which stored copies the rolling verifier checks on one tick. Every retained backup has a
 * primary copy and, once copied, an offsite one; each copy must be re-read within the cycle
 * (VERIFY_CYCLE_DAYS). A tick takes a share of them (the slice) instead of all at once, so the
 * work is spread over the cycle:
 *
 * - order: copies never checked (newest backup first: a new backup is checked on the next
 *   tick), then copies whose last check failed (so a repaired copy is seen soon), then the
 *   rest by the age of their last check, oldest first;
 * - size: the fair share, ceil(copies / ticks per cycle), raised to cover every copy that
 *   would otherwise pass its deadline (last check, or creation, plus the cycle) before the
 *   next tick, but never beyond twice the fair share: after an outage or on a catalog that
 *   never had rolling checks, catching up is spread over a few ticks (the copies still late
 *   are reported as overdue) instead of one tick that reads everything.
 */

export type CopyName = 'primary' | 'offsite';

export interface CopyState {
  backupId: string;
  copy: CopyName;
  /** When the backup was taken (ISO); a never-checked copy is due a cycle after it. */
  createdAt: string;
  /** Last rolling check of this copy (pass or fail), ISO; null when never checked. */
  checkedAt: string | null;
  /** What the last check found wrong; null when it passed (or never ran). */
  error: string | null;
}

/** The fields of a catalog row the verifier reads (a subset of BackupEntity). */
export interface CopyRow {
  id: string;
  createdAt: string;
  offsiteStatus?: string | null;
  primaryCheckedAt?: string | null;
  primaryCheckError?: string | null;
  offsiteCheckedAt?: string | null;
  offsiteCheckError?: string | null;
}

const DAY_MS = 86_400_000;

/** The copies of completed backups: the primary one always, the offsite one once it is made (and offsite is on). */
export function copiesOf(rows: readonly CopyRow[], offsiteOn: boolean): CopyState[] {
  const out: CopyState[] = [];
  for (const r of rows) {
    out.push({
      backupId: r.id,
      copy: 'primary',
      createdAt: r.createdAt,
      checkedAt: r.primaryCheckedAt ?? null,
      error: r.primaryCheckError ?? null,
    });
    if (offsiteOn && r.offsiteStatus === 'copied')
      out.push({
        backupId: r.id,
        copy: 'offsite',
        createdAt: r.createdAt,
        checkedAt: r.offsiteCheckedAt ?? null,
        error: r.offsiteCheckError ?? null,
      });
  }
  return out;
}

/** When a copy must have been checked by: a cycle after its last check, or after the backup was taken. */
export function deadlineOf(c: CopyState, cycleDays: number): number {
  return Date.parse(c.checkedAt ?? c.createdAt) + cycleDays * DAY_MS;
}

/** Copies past their deadline at `now`. */
export function overdueCopies(copies: readonly CopyState[], now: Date, cycleDays: number): CopyState[] {
  return copies.filter((c) => deadlineOf(c, cycleDays) < now.getTime());
}

function rank(c: CopyState): number {
  if (c.checkedAt === null) return 0;
  return c.error !== null ? 1 : 2;
}

export function orderForChecking(copies: readonly CopyState[]): CopyState[] {
  return [...copies].sort((a, b) => {
    const r = rank(a) - rank(b);
    if (r !== 0) return r;
    if (a.checkedAt === null || b.checkedAt === null) {
      // Never checked: the newest backup first, its primary copy before its offsite one.
      if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
      return a.copy === b.copy ? 0 : a.copy === 'primary' ? -1 : 1;
    }
    if (a.checkedAt !== b.checkedAt) return a.checkedAt < b.checkedAt ? -1 : 1;
    return a.backupId === b.backupId ? (a.copy < b.copy ? 1 : -1) : a.backupId < b.backupId ? -1 : 1;
  });
}

export interface SliceInput {
  now: Date;
  /** The next tick of the verifier (null: none known, e.g. an expression that never fires again). */
  nextTickAt: Date | null;
  cycleDays: number;
  /** Ticks in one cycle (ticksPerCycle). */
  ticksPerCycle: number;
}

/** The copies to check on this tick, in the order to check them. */
export function selectSlice(copies: readonly CopyState[], input: SliceInput): CopyState[] {
  if (!copies.length) return [];
  const fair = Math.ceil(copies.length / Math.max(1, input.ticksPerCycle));
  // Checked after the next tick would be too late for these.
  const horizon = (input.nextTickAt ?? input.now).getTime();
  const urgent = copies.filter((c) => deadlineOf(c, input.cycleDays) <= horizon).length;
  const size = Math.max(fair, Math.min(urgent, 2 * fair));
  const ordered = orderForChecking(copies);
  // Late copies go first within the order's ranks, so a bounded catch-up takes the latest.
  const late = ordered.filter((c) => deadlineOf(c, input.cycleDays) <= horizon);
  const rest = ordered.filter((c) => deadlineOf(c, input.cycleDays) > horizon);
  return [...byDeadline(late, input.cycleDays), ...rest].slice(0, size);
}

function byDeadline(copies: CopyState[], cycleDays: number): CopyState[] {
  // Stable sort keeps orderForChecking's order among equal deadlines.
  return [...copies].sort((a, b) => deadlineOf(a, cycleDays) - deadlineOf(b, cycleDays));
}

/**
 * How many times `next` fires within one cycle after `from` (at least 1). `next` is the
 * schedule's next-run function; counting stops at `limit` (an expression firing every second
 * needs no exact count: the fair share is then one copy per tick anyway).
 */
export function ticksPerCycle(next: (after: Date) => Date, from: Date, cycleDays: number, limit = 10_000): number {
  const end = from.getTime() + cycleDays * DAY_MS;
  let n = 0;
  let at = from;
  while (n < limit) {
    at = next(at);
    if (at.getTime() > end) break;
    n++;
  }
  return Math.max(1, n);
}
