/**
 * Which backups a cleanup keeps and which it deletes: pure functions, no I/O.
 *
 * Semantics follow restic `forget` and grandfather-father-son rotation: each bucket keeps the
 * newest completed backup of each of the N most recent periods that have one. Rules no
 * setting overrides: pinned backups and the newest completed backup are kept; failed, pending
 * and running backups never count toward a bucket (so a run of failures cannot push good
 * backups out); in-progress backups are never deleted; failed ones go after a TTL.
 */
import type { BackupTrigger } from '../engine/archive/manifest.types';

/** Cancelled backups are treated as failed ones: they never count, and go after the same TTL. */
export type RetentionBackupStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface RetentionBackup {
  id: string;
  status: RetentionBackupStatus;
  trigger: BackupTrigger;
  scheduleId: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  sizeBytes: number;
  pinned: boolean;
}

export interface RetentionPolicy {
  keepLast: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
  maxAgeDays: number | null;
  maxTotalBytes: number | null;
  /** IANA zone in which days, weeks, months and years begin. */
  timezone: string;
}

export interface RetentionOptions {
  /** Failed backups are kept this long (from when they finished) so someone can look at them. */
  failedTtlHours: number;
}

export interface AdHocRetentionPolicy {
  keepDays?: number;
  failedTtlHours?: number;
}

export interface RetentionDecision {
  id: string;
  reasons: string[];
}

/** Both lists are ordered newest first; every input backup is in exactly one of them. */
export interface RetentionPlan {
  keep: RetentionDecision[];
  delete: RetentionDecision[];
}

const DEFAULT_AD_HOC_KEEP_DAYS = 30;
const DEFAULT_FAILED_TTL_HOURS = 168;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export class RetentionPolicyError extends Error {
  override readonly name = 'RetentionPolicyError';
}

type Bucket = 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKETS: readonly Bucket[] = ['daily', 'weekly', 'monthly', 'yearly'];

/** Plans one group of backups (normally one schedule's) under its policy. */
export function planRetention(
  backups: RetentionBackup[],
  policy: RetentionPolicy,
  now: Date,
  opts: RetentionOptions,
): RetentionPlan {
  assertPolicy(policy);
  assertNonNegative(opts.failedTtlHours, 'failedTtlHours');
  assertDate(now, 'now');
  const ledger = new Ledger(backups);
  const completed = ledger.completedNewestFirst();
  const protectedIds = protectRules(ledger, completed);

  completed.slice(0, policy.keepLast).forEach((b) => ledger.keep(b.id, `last ${policy.keepLast}`));
  const periods = new PeriodLabeller(policy.timezone);
  for (const bucket of BUCKETS) {
    const wanted = policy[bucket];
    const seen = new Set<string>();
    for (const b of completed) {
      if (seen.size >= wanted) break;
      const label = periods.label(bucket, b.createdAt);
      if (seen.has(label)) continue; // an older backup of a period already represented
      seen.add(label);
      ledger.keep(b.id, `${bucket} ${label}`);
    }
  }

  const candidates = () => completed.filter((b) => ledger.isKept(b.id) && !protectedIds.has(b.id));
  if (policy.maxAgeDays !== null) {
    const cutoff = now.getTime() - policy.maxAgeDays * DAY_MS;
    for (const b of candidates()) {
      if (b.createdAt.getTime() < cutoff) ledger.drop(b.id, `older than ${policy.maxAgeDays} days`);
    }
  }
  if (policy.maxTotalBytes !== null) {
    // Only completed backups count: failed ones are transient and must not push good ones out.
    let total = completed.filter((b) => ledger.isKept(b.id)).reduce((sum, b) => sum + b.sizeBytes, 0);
    for (const b of candidates().reverse()) {
      if (total <= policy.maxTotalBytes) break;
      ledger.drop(b.id, `over size limit of ${policy.maxTotalBytes} bytes`);
      total -= b.sizeBytes;
    }
  }

  for (const b of completed) {
    if (!ledger.isDecided(b.id)) ledger.drop(b.id, 'matches no keep rule');
  }
  decideUnfinished(ledger, now, opts.failedTtlHours);
  return ledger.plan();
}

/** Manual, import and pre-restore backups: kept for `keepDays` (default 30), plus the protections. */
export function planAdHocRetention(backups: RetentionBackup[], policy: AdHocRetentionPolicy, now: Date): RetentionPlan {
  const keepDays = policy.keepDays ?? DEFAULT_AD_HOC_KEEP_DAYS;
  const failedTtlHours = policy.failedTtlHours ?? DEFAULT_FAILED_TTL_HOURS;
  assertNonNegative(keepDays, 'keepDays');
  assertNonNegative(failedTtlHours, 'failedTtlHours');
  assertDate(now, 'now');
  const ledger = new Ledger(backups);
  const completed = ledger.completedNewestFirst();
  const protectedIds = protectRules(ledger, completed);
  const cutoff = now.getTime() - keepDays * DAY_MS;
  for (const b of completed) {
    if (protectedIds.has(b.id)) continue;
    if (b.createdAt.getTime() >= cutoff) ledger.keep(b.id, `within ${keepDays} days`);
    else ledger.drop(b.id, `older than ${keepDays} days`);
  }
  decideUnfinished(ledger, now, failedTtlHours);
  return ledger.plan();
}

/**
 * Merges per-group plans into one over the whole catalog and re-applies the global rules:
 * the newest completed backup overall and every pinned backup are kept, a backup some plan
 * keeps is kept, and a backup no plan mentions is kept (deleting needs a positive decision).
 */
export function combineRetention(plans: RetentionPlan[], backups: RetentionBackup[]): RetentionPlan {
  const ledger = new Ledger(backups);
  const known = (id: string): void => {
    if (!ledger.has(id))
      throw new RetentionPolicyError(`retention plan mentions backup ${id}, which is not in the catalog`);
  };
  for (const plan of plans) {
    for (const d of plan.keep) {
      known(d.id);
      d.reasons.forEach((r) => ledger.keep(d.id, r));
    }
  }
  for (const plan of plans) {
    for (const d of plan.delete) {
      known(d.id);
      if (!ledger.isKept(d.id)) d.reasons.forEach((r) => ledger.drop(d.id, r));
    }
  }
  const newest = ledger.completedNewestFirst()[0];
  if (newest) ledger.keep(newest.id, 'newest overall');
  for (const b of ledger.all()) {
    if (b.pinned) ledger.keep(b.id, 'pinned');
    else if (!ledger.isDecided(b.id)) ledger.keep(b.id, 'not covered by any retention plan');
  }
  return ledger.plan();
}

function protectRules(ledger: Ledger, completedNewestFirst: RetentionBackup[]): Set<string> {
  const protectedIds = new Set<string>();
  const newest = completedNewestFirst[0];
  if (newest) {
    ledger.keep(newest.id, 'newest');
    protectedIds.add(newest.id);
  }
  for (const b of ledger.all()) {
    if (b.pinned) {
      ledger.keep(b.id, 'pinned');
      protectedIds.add(b.id);
    }
  }
  return protectedIds;
}

function decideUnfinished(ledger: Ledger, now: Date, failedTtlHours: number): void {
  for (const b of ledger.all()) {
    if (b.status === 'completed' || ledger.isDecided(b.id)) continue;
    if (b.status === 'pending' || b.status === 'running') {
      ledger.keep(b.id, `${b.status}, never deleted while in progress`);
      continue;
    }
    const endedAt = (b.finishedAt ?? b.createdAt).getTime();
    if (now.getTime() - endedAt > failedTtlHours * HOUR_MS)
      ledger.drop(b.id, `${b.status}, older than ${failedTtlHours}h`);
    else ledger.keep(b.id, `${b.status}, kept ${failedTtlHours}h for inspection`);
  }
}

/** One decision per backup with its reasons; the latest call wins, so call order sets precedence. */
class Ledger {
  private readonly byId = new Map<string, RetentionBackup>();
  private readonly order: RetentionBackup[];
  private readonly kept = new Map<string, string[]>();
  private readonly dropped = new Map<string, string[]>();

  constructor(backups: RetentionBackup[]) {
    for (const b of backups) {
      assertBackup(b);
      if (this.byId.has(b.id)) throw new RetentionPolicyError(`backup ${b.id} appears twice in the retention input`);
      this.byId.set(b.id, b);
    }
    this.order = [...backups].sort(newestFirst);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  all(): RetentionBackup[] {
    return this.order;
  }

  completedNewestFirst(): RetentionBackup[] {
    return this.order.filter((b) => b.status === 'completed');
  }

  isKept(id: string): boolean {
    return this.kept.has(id);
  }

  isDecided(id: string): boolean {
    return this.kept.has(id) || this.dropped.has(id);
  }

  keep(id: string, reason: string): void {
    this.dropped.delete(id);
    addReason(this.kept, id, reason);
  }

  drop(id: string, reason: string): void {
    this.kept.delete(id);
    addReason(this.dropped, id, reason);
  }

  plan(): RetentionPlan {
    const plan: RetentionPlan = { keep: [], delete: [] };
    for (const b of this.order) {
      const keepReasons = this.kept.get(b.id);
      const dropReasons = this.dropped.get(b.id);
      if (keepReasons) plan.keep.push({ id: b.id, reasons: keepReasons });
      else if (dropReasons) plan.delete.push({ id: b.id, reasons: dropReasons });
      // Unreachable by construction; failing loudly beats silently keeping or deleting.
      else throw new RetentionPolicyError(`backup ${b.id} received no retention decision`);
    }
    return plan;
  }
}

function addReason(map: Map<string, string[]>, id: string, reason: string): void {
  const reasons = map.get(id);
  if (!reasons) map.set(id, [reason]);
  else if (!reasons.includes(reason)) reasons.push(reason);
}

function newestFirst(a: RetentionBackup, b: RetentionBackup): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0; // stable across runs for equal timestamps
}

/** Calendar periods of an instant in one time zone: 2026-11-20, 2026-W47, 2026-11, 2026. */
class PeriodLabeller {
  private readonly format: Intl.DateTimeFormat;
  private readonly cache = new Map<number, { year: number; month: number; day: number }>();

  constructor(timezone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
    });
  }

  label(bucket: Bucket, at: Date): string {
    const { year, month, day } = this.localDate(at);
    switch (bucket) {
      case 'daily':
        return `${year}-${pad2(month)}-${pad2(day)}`;
      case 'weekly':
        return isoWeekLabel(year, month, day);
      case 'monthly':
        return `${year}-${pad2(month)}`;
      case 'yearly':
        return `${year}`;
    }
  }

  private localDate(at: Date): { year: number; month: number; day: number } {
    const key = at.getTime();
    let parts = this.cache.get(key);
    if (!parts) {
      const fields: Record<string, number> = {};
      for (const p of this.format.formatToParts(at)) fields[p.type] = Number(p.value);
      parts = { year: fields.year, month: fields.month, day: fields.day };
      this.cache.set(key, parts);
    }
    return parts;
  }
}

/** ISO 8601 week: weeks start on Monday and belong to the year that holds their Thursday. */
export function isoWeekLabel(year: number, month: number, day: number): string {
  const date = Date.UTC(year, month - 1, day);
  const isoWeekday = ((new Date(date).getUTCDay() + 6) % 7) + 1;
  const thursday = new Date(date + (4 - isoWeekday) * DAY_MS);
  const weekYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * DAY_MS));
  return `${weekYear}-W${pad2(week)}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function assertPolicy(policy: RetentionPolicy): void {
  for (const field of ['keepLast', ...BUCKETS] as const) {
    const value = policy[field];
    if (!Number.isInteger(value) || value < 0) {
      throw new RetentionPolicyError(`retention.${field} must be a non-negative integer, got ${String(value)}`);
    }
  }
  if (policy.maxAgeDays !== null) assertNonNegative(policy.maxAgeDays, 'retention.maxAgeDays');
  if (policy.maxTotalBytes !== null) assertNonNegative(policy.maxTotalBytes, 'retention.maxTotalBytes');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: policy.timezone });
  } catch {
    throw new RetentionPolicyError(`retention.timezone: unknown IANA time zone '${String(policy.timezone)}'`);
  }
}

function assertNonNegative(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RetentionPolicyError(`${name} must be a non-negative number, got ${String(value)}`);
  }
}

function assertDate(value: Date, name: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new RetentionPolicyError(`${name} must be a valid Date`);
}

function assertBackup(b: RetentionBackup): void {
  if (!(b.createdAt instanceof Date) || Number.isNaN(b.createdAt.getTime())) {
    throw new RetentionPolicyError(`backup ${b.id}: createdAt must be a valid Date`);
  }
  if (!Number.isFinite(b.sizeBytes) || b.sizeBytes < 0) {
    throw new RetentionPolicyError(
      `backup ${b.id}: sizeBytes must be a non-negative number, got ${String(b.sizeBytes)}`,
    );
  }
}
