/**
 * Retention over a whole catalog, as one pure function so that the property tests run exactly
 * what the service runs: each schedule's backups under its own policy, the others (manual,
 * imported, pre-restore, and those of a deleted schedule) under the ad-hoc window, the global
 * protections, then the safeguards (retention-safeguards.ts).
 */
import {
  combineRetention,
  planAdHocRetention,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
} from './retention-policy';
import { AD_HOC_GROUP, guardRetention, type GuardedPlan, type VerifiedBackup } from './retention-safeguards';

export interface CatalogSchedule {
  id: string;
  name: string;
  timezone: string;
  retention: Omit<RetentionPolicy, 'timezone'>;
}

export interface CatalogRetentionOptions {
  failedTtlHours: number;
  adHocKeepDays: number;
  /** Per group (schedule id or AD_HOC_GROUP), the backup ids an admin confirmed for deletion. */
  confirmed?: ReadonlyMap<string, ReadonlySet<string>>;
}

export function planCatalogRetention(
  backups: VerifiedBackup[],
  schedules: CatalogSchedule[],
  opts: CatalogRetentionOptions,
  now: Date,
): GuardedPlan {
  const byId = new Map(schedules.map((s) => [s.id, s]));
  // A scheduled backup whose schedule was deleted falls back to the ad-hoc window rather than living forever.
  const groupOf = (b: { trigger: string; scheduleId: string | null }): string =>
    b.trigger === 'scheduled' && b.scheduleId && byId.has(b.scheduleId) ? b.scheduleId : AD_HOC_GROUP;
  const groups = new Map<string, VerifiedBackup[]>();
  for (const b of backups) groups.set(groupOf(b), [...(groups.get(groupOf(b)) ?? []), b]);
  const plans: RetentionPlan[] = [
    planAdHocRetention(
      groups.get(AD_HOC_GROUP) ?? [],
      { keepDays: opts.adHocKeepDays, failedTtlHours: opts.failedTtlHours },
      now,
    ),
  ];
  for (const [id, group] of groups) {
    const s = byId.get(id);
    if (!s) continue;
    const plan = planRetention(group, { ...s.retention, timezone: s.timezone }, now, {
      failedTtlHours: opts.failedTtlHours,
    });
    plans.push(prefixReasons(plan, `schedule "${s.name}"`));
  }
  return guardRetention(combineRetention(plans, backups), backups, { groupOf, confirmed: opts.confirmed });
}

function prefixReasons(plan: RetentionPlan, label: string): RetentionPlan {
  const tag = (d: { id: string; reasons: string[] }) => ({ id: d.id, reasons: d.reasons.map((r) => `${label}: ${r}`) });
  return { keep: plan.keep.map(tag), delete: plan.delete.map(tag) };
}
