/**
 * The rules that stand between a retention plan and recoverability: pure functions, no I/O.
 *
 * A plan (retention-policy.ts) says what the policies would delete. These rules then take
 * deletions back, each with a reason the preview shows:
 * - the newest backup whose last verification passed is never deleted (a backup nobody has
 *   proved readable is no substitute for one that was);
 * - while the last verification of the newest completed backup failed, nothing is deleted:
 *   older copies may be the only sound ones;
 * - a group (one schedule's backups, or the ad-hoc ones) that would lose more than half of
 *   its completed backups, or all but one, keeps them until an admin confirms exactly that
 *   set (one setting typed wrong must not wipe a history).
 */
import type { RetentionBackup, RetentionDecision, RetentionPlan } from './retention-policy';

export interface VerifiedBackup extends RetentionBackup {
  /** When a verification last passed. */
  verifiedAt: Date | null;
  /** When a verification last failed. */
  verifyFailedAt: Date | null;
}

/** A group whose deletions wait for an admin. */
export interface HeldGroup {
  /** The schedule id, or AD_HOC_GROUP. */
  group: string;
  /** The completed backups the policy would delete, newest first. */
  delete: string[];
  /** Completed backups the group has now. */
  completed: number;
  reason: string;
}

export interface GuardedPlan extends RetentionPlan {
  /** Groups whose deletions wait for confirmation (their backups are in `keep` meanwhile). */
  held: HeldGroup[];
  /** Set when nothing at all is deleted now, and why. */
  blocked: string | null;
}

export interface SafeguardOptions {
  /** The group of a backup: its schedule's id, or AD_HOC_GROUP. */
  groupOf(b: RetentionBackup): string;
  /** Per group, the backup ids an admin confirmed for deletion. A held set must lie within it. */
  confirmed?: ReadonlyMap<string, ReadonlySet<string>>;
}

export const AD_HOC_GROUP = 'ad-hoc';

/** True when a verification ran and the last one failed. */
export function lastVerificationFailed(b: Pick<VerifiedBackup, 'verifiedAt' | 'verifyFailedAt'>): boolean {
  return !!b.verifyFailedAt && (!b.verifiedAt || b.verifyFailedAt.getTime() >= b.verifiedAt.getTime());
}

/** True when a verification passed and none failed after it. */
export function lastVerificationPassed(b: Pick<VerifiedBackup, 'verifiedAt' | 'verifyFailedAt'>): boolean {
  return !!b.verifiedAt && !lastVerificationFailed(b);
}

/**
 * Applies the safeguards to a plan over `backups` (the same backups the plan decided). Every
 * backup stays in exactly one list; one taken back from `delete` keeps its policy reasons
 * after the safeguard's own, so the preview says both why it would go and why it stays.
 */
export function guardRetention(plan: RetentionPlan, backups: VerifiedBackup[], opts: SafeguardOptions): GuardedPlan {
  const byId = new Map(backups.map((b) => [b.id, b]));
  const completed = backups.filter((b) => b.status === 'completed').sort(newestFirst);
  const keep = plan.keep.map(copy);
  let remaining = plan.delete.map(copy);
  const hold = (d: RetentionDecision, reason: string): void => {
    keep.push({ id: d.id, reasons: [reason, ...d.reasons.map((r) => `would delete: ${r}`)] });
  };

  const newest = completed[0];
  if (newest && lastVerificationFailed(newest)) {
    const blocked = `the last verification of the newest backup ${newest.id} failed: nothing is deleted until a verification of it passes, or a newer backup is taken`;
    remaining.forEach((d) => hold(d, `held: ${blocked}`));
    return finish(keep, [], byId, [], blocked);
  }

  const newestVerified = completed.find(lastVerificationPassed);
  if (newestVerified) {
    const i = remaining.findIndex((d) => d.id === newestVerified.id);
    if (i >= 0) {
      hold(remaining[i], 'newest verified backup');
      remaining.splice(i, 1);
    } else {
      const kept = keep.find((d) => d.id === newestVerified.id);
      if (kept && !kept.reasons.includes('newest verified backup')) kept.reasons.push('newest verified backup');
    }
  }

  const held: HeldGroup[] = [];
  const totals = new Map<string, number>();
  for (const b of completed) totals.set(opts.groupOf(b), (totals.get(opts.groupOf(b)) ?? 0) + 1);
  const deleting = new Map<string, string[]>();
  for (const d of remaining) {
    const b = byId.get(d.id);
    if (b?.status !== 'completed') continue; // failed ones go after their TTL: they hold no data
    const g = opts.groupOf(b);
    deleting.set(g, [...(deleting.get(g) ?? []), d.id]);
  }
  for (const [group, ids] of deleting) {
    const total = totals.get(group) ?? 0;
    const tooMany = ids.length * 2 > total || (total >= 2 && total - ids.length <= 1);
    if (!tooMany) continue;
    const confirmed = opts.confirmed?.get(group);
    if (confirmed && ids.every((id) => confirmed.has(id))) continue;
    const left = total - ids.length;
    const reason = `would delete ${ids.length} of ${total} completed backups, leaving ${left}: waits for an admin's confirmation`;
    held.push({ group, delete: ids, completed: total, reason });
    const set = new Set(ids);
    remaining = remaining.filter((d) => {
      if (!set.has(d.id)) return true;
      hold(d, `held: ${reason}`);
      return false;
    });
  }
  return finish(keep, remaining, byId, held, null);
}

function finish(
  keep: RetentionDecision[],
  del: RetentionDecision[],
  byId: Map<string, VerifiedBackup>,
  held: HeldGroup[],
  blocked: string | null,
): GuardedPlan {
  const order = (a: RetentionDecision, b: RetentionDecision) => newestFirst(byId.get(a.id)!, byId.get(b.id)!);
  return { keep: keep.sort(order), delete: del.sort(order), held, blocked };
}

function copy(d: RetentionDecision): RetentionDecision {
  return { id: d.id, reasons: [...d.reasons] };
}

function newestFirst(a: RetentionBackup, b: RetentionBackup): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
