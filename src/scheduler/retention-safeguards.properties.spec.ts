import fc from 'fast-check';
import { planCatalogRetention, type CatalogSchedule } from './retention-catalog';
import type { RetentionBackupStatus } from './retention-policy';
import {
  AD_HOC_GROUP,
  lastVerificationFailed,
  lastVerificationPassed,
  type GuardedPlan,
  type VerifiedBackup,
} from './retention-safeguards';

/**
 * Properties of the whole catalog's retention (exactly what RetentionService runs) over
 * generated catalogs: several schedules with any valid policy, ad-hoc backups, failures,
 * pins, verifications that passed or failed, timestamps that straddle DST changes in zones
 * that have them, and clocks that disagree (backups stamped after "now", now far ahead).
 * Small catalogs, so fast-check can shrink a failure to its essence.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Instants around DST changes: EU spring forward, US fall back, Lord Howe's half hour.
const ANCHORS = [Date.UTC(2026, 2, 29, 1, 0), Date.UTC(2026, 10, 1, 6, 0), Date.UTC(2026, 3, 5, 15, 0)];
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'];
const SCHEDULES = ['s1', 's2'];

const policyArb = fc.record({
  // Validation refuses keepLast 0, but rows written before that rule may still hold it.
  keepLast: fc.integer({ min: 0, max: 6 }),
  daily: fc.integer({ min: 0, max: 10 }),
  weekly: fc.integer({ min: 0, max: 6 }),
  monthly: fc.integer({ min: 0, max: 6 }),
  yearly: fc.integer({ min: 0, max: 2 }),
  maxAgeDays: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
  maxTotalBytes: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: null }),
});

const scheduleArb = (id: string): fc.Arbitrary<CatalogSchedule> =>
  fc.record({
    id: fc.constant(id),
    name: fc.constant(`schedule ${id}`),
    timezone: fc.constantFrom(...ZONES),
    retention: policyArb,
  });

const verificationArb = fc.constantFrom<'none' | 'passed' | 'failed' | 'failed-then-passed' | 'passed-then-failed'>(
  'none',
  'passed',
  'failed',
  'failed-then-passed',
  'passed-then-failed',
);

const backupArb = fc.record({
  anchor: fc.constantFrom(...ANCHORS),
  // Where in the case's span before the anchor (scaled below), so several land per day or per month.
  position: fc.double({ min: 0, max: 1, noNaN: true }),
  status: fc.constantFrom<RetentionBackupStatus>('completed', 'completed', 'completed', 'failed', 'running'),
  group: fc.constantFrom('s1', 's2', 'gone', 'manual'),
  pinned: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
  verification: verificationArb,
  sizeBytes: fc.integer({ min: 0, max: 5000 }),
});

interface Case {
  backups: VerifiedBackup[];
  schedules: CatalogSchedule[];
  now: Date;
  opts: { failedTtlHours: number; adHocKeepDays: number };
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    raw: fc.array(backupArb, { maxLength: 40 }),
    spanDays: fc.constantFrom(3, 14, 90),
    adHocKeepDays: fc.integer({ min: 1, max: 60 }),
    schedules: fc.tuple(...SCHEDULES.map(scheduleArb)),
    // Clock skew: "now" from two days before the newest backup to a year after it.
    skewMinutes: fc.integer({ min: -2 * 24 * 60, max: 365 * 24 * 60 }),
  })
  .map(({ raw, spanDays, adHocKeepDays, schedules, skewMinutes }) => {
    const backups = raw.map((r, i): VerifiedBackup => {
      const createdAt = new Date(r.anchor - Math.floor(r.position * spanDays * DAY));
      const v = (offsetH: number) => new Date(createdAt.getTime() + offsetH * HOUR);
      const completed = r.status === 'completed';
      const verifiedAt =
        completed && ['passed', 'failed-then-passed', 'passed-then-failed'].includes(r.verification)
          ? v(r.verification === 'passed-then-failed' ? 1 : 2)
          : null;
      const verifyFailedAt =
        completed && ['failed', 'failed-then-passed', 'passed-then-failed'].includes(r.verification)
          ? v(r.verification === 'failed-then-passed' ? 1 : 2)
          : null;
      const scheduled = r.group === 's1' || r.group === 's2' || r.group === 'gone';
      return {
        id: `b${String(i).padStart(3, '0')}`,
        status: r.status,
        trigger: scheduled ? 'scheduled' : 'manual',
        scheduleId: scheduled ? r.group : null,
        createdAt,
        finishedAt: r.status === 'running' ? null : new Date(createdAt.getTime() + 60_000),
        sizeBytes: r.sizeBytes,
        pinned: r.pinned,
        verifiedAt,
        verifyFailedAt,
      };
    });
    const newest = Math.max(ANCHORS[0], ...backups.map((b) => b.createdAt.getTime()));
    return {
      backups,
      schedules: [...schedules],
      now: new Date(newest + skewMinutes * 60_000),
      opts: { failedTtlHours: 48, adHocKeepDays },
    };
  });

const OPTS = { failedTtlHours: 48, adHocKeepDays: 7 };
const RUNS = { numRuns: 300 };

function groupOf(b: VerifiedBackup, schedules: CatalogSchedule[]): string {
  return b.trigger === 'scheduled' && b.scheduleId && schedules.some((s) => s.id === b.scheduleId)
    ? b.scheduleId
    : AD_HOC_GROUP;
}

function newestFirst(backups: VerifiedBackup[]): VerifiedBackup[] {
  return [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
}

/** Every safeguard, checked against the plan from first principles; the list of violations. */
function violations(c: Case, plan: GuardedPlan, confirmedGroups = new Set<string>()): string[] {
  const out: string[] = [];
  const deleted = new Set(plan.delete.map((d) => d.id));
  const ids = [...plan.keep, ...plan.delete].map((d) => d.id);
  if (ids.length !== c.backups.length || new Set(ids).size !== c.backups.length)
    out.push('not a partition of the catalog');
  for (const d of [...plan.keep, ...plan.delete]) if (!d.reasons.length) out.push(`${d.id} has no reason`);

  const completed = newestFirst(c.backups.filter((b) => b.status === 'completed'));
  const newest = completed[0];
  if (newest && deleted.has(newest.id)) out.push(`newest completed ${newest.id} deleted`);
  if (newest && lastVerificationFailed(newest) && deleted.size) out.push('deleted while the newest failed its check');
  const verified = completed.find(lastVerificationPassed);
  if (verified && deleted.has(verified.id)) out.push(`newest verified ${verified.id} deleted`);
  for (const b of c.backups) {
    if (b.pinned && deleted.has(b.id)) out.push(`pinned ${b.id} deleted`);
    if ((b.status === 'running' || b.status === 'pending') && deleted.has(b.id))
      out.push(`in-progress ${b.id} deleted`);
  }
  const totals = new Map<string, number>();
  const gone = new Map<string, number>();
  for (const b of completed) {
    const g = groupOf(b, c.schedules);
    totals.set(g, (totals.get(g) ?? 0) + 1);
    if (deleted.has(b.id)) gone.set(g, (gone.get(g) ?? 0) + 1);
  }
  for (const [g, n] of gone) {
    const total = totals.get(g)!;
    if (confirmedGroups.has(g)) continue;
    if (n * 2 > total) out.push(`group ${g}: ${n} of ${total} deleted without confirmation`);
    if (total >= 2 && total - n <= 1) out.push(`group ${g}: all but ${total - n} deleted without confirmation`);
  }
  return out;
}

describe('catalog retention with its safeguards (property)', () => {
  it('never violates a safeguard over generated catalogs, DST changes and clock skew', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const plan = planCatalogRetention(c.backups, c.schedules, c.opts, c.now);
        expect(violations(c, plan)).toEqual([]);
        // A held group's backups are all still kept, and each held set is what the preview names.
        const kept = new Set(plan.keep.map((d) => d.id));
        for (const h of plan.held) for (const id of h.delete) expect(kept.has(id)).toBe(true);
      }),
      RUNS,
    );
  });

  it("an admin's confirmation lets exactly the held set go, and nothing the other rules protect", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const first = planCatalogRetention(c.backups, c.schedules, c.opts, c.now);
        const confirmed = new Map(first.held.map((h) => [h.group, new Set(h.delete)]));
        const plan = planCatalogRetention(c.backups, c.schedules, { ...c.opts, confirmed }, c.now);
        expect(violations(c, plan, new Set(confirmed.keys()))).toEqual([]);
        const allowed = new Set([...first.delete.map((d) => d.id), ...first.held.flatMap((h) => h.delete)]);
        for (const d of plan.delete) expect(allowed.has(d.id)).toBe(true);
        expect(plan.held).toEqual([]);
        if (!first.blocked)
          for (const h of first.held) for (const id of h.delete) expect(plan.delete.map((d) => d.id)).toContain(id);
      }),
      RUNS,
    );
  });

  it('does not depend on the order the catalog lists backups in', () => {
    fc.assert(
      fc.property(caseArb, fc.integer(), (c, seed) => {
        const shuffled = [...c.backups].sort((a, b) => (hash(a.id, seed) - hash(b.id, seed)) | 0 || 0);
        const a = planCatalogRetention(c.backups, c.schedules, c.opts, c.now);
        const b = planCatalogRetention(shuffled, c.schedules, c.opts, c.now);
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it('a confirmation of a smaller set does not cover a plan that now deletes more', () => {
    const at = (d: number) => new Date(Date.UTC(2026, 2, 29, 1, 0) - d * DAY);
    const backups: VerifiedBackup[] = Array.from({ length: 6 }, (_, i) => ({
      id: `m${i}`,
      status: 'completed',
      trigger: 'manual',
      scheduleId: null,
      createdAt: at(i * 10),
      finishedAt: at(i * 10),
      sizeBytes: 1,
      pinned: false,
      verifiedAt: null,
      verifyFailedAt: null,
    }));
    const now = at(-1);
    const first = planCatalogRetention(backups, [], OPTS, now);
    expect(first.held).toEqual([
      expect.objectContaining({ group: AD_HOC_GROUP, delete: ['m1', 'm2', 'm3', 'm4', 'm5'] }),
    ]);
    const partial = new Map([[AD_HOC_GROUP, new Set(['m1', 'm2'])]]);
    const again = planCatalogRetention(backups, [], { ...OPTS, confirmed: partial }, now);
    expect(again.delete).toEqual([]);
    expect(again.held).toHaveLength(1);
  });
});

function hash(id: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x9e3779b1);
  return h;
}
