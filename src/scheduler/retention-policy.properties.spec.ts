import fc from 'fast-check';
import { rounds } from '../../test/support/long-mode';
import { isoWeekLabel, planRetention, RetentionBackup, RetentionPolicy } from './retention-policy';

/**
 * Properties over years of simulated history. Histories come from a seeded generator rather
 * than fast-check arrays: tens of thousands of backups per case keep shrinking useless, and
 * the seed printed on failure reproduces the case exactly.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'];

interface Scenario {
  seed: number;
  cadence: 'hourly' | 'daily';
  years: number;
  failureRate: number;
  pinRate: number;
  gapRate: number;
  timezone: string;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer(),
  cadence: fc.constantFrom<'hourly' | 'daily'>('hourly', 'daily'),
  years: fc.integer({ min: 1, max: 3 }),
  failureRate: fc.double({ min: 0, max: 0.6, noNaN: true }),
  pinRate: fc.double({ min: 0, max: 0.01, noNaN: true }),
  gapRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  timezone: fc.constantFrom(...ZONES),
});

const countsArb = {
  keepLast: fc.integer({ min: 0, max: 12 }),
  daily: fc.integer({ min: 0, max: 40 }),
  weekly: fc.integer({ min: 0, max: 20 }),
  monthly: fc.integer({ min: 0, max: 30 }),
  yearly: fc.integer({ min: 0, max: 4 }),
};
const bucketsOnlyArb = fc.record({ ...countsArb, maxAgeDays: fc.constant(null), maxTotalBytes: fc.constant(null) });
const anyPolicyArb = fc.record({
  ...countsArb,
  maxAgeDays: fc.option(fc.integer({ min: 0, max: 900 }), { nil: null }),
  maxTotalBytes: fc.option(fc.integer({ min: 0, max: 60_000_000_000 }), { nil: null }),
});
const TTL = { failedTtlHours: 48 };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function simulate(s: Scenario): { backups: RetentionBackup[]; now: Date } {
  const random = mulberry32(s.seed);
  const step = s.cadence === 'hourly' ? HOUR : DAY;
  const start = Date.UTC(2024, 0, 1, 2, 0, 0);
  const end = start + s.years * 365 * DAY;
  const backups: RetentionBackup[] = [];
  let skipUntil = 0;
  for (let t = start, n = 0; t < end; t += step, n++) {
    // Whole days without any backup (outages), so "periods that have a backup" matters.
    if (t < skipUntil) continue;
    if (random() < s.gapRate / (s.cadence === 'hourly' ? 24 : 1)) {
      skipUntil = t + Math.ceil(random() * 5) * DAY;
      continue;
    }
    const createdAt = new Date(t + Math.floor(random() * 10 * 60_000));
    const failed = random() < s.failureRate;
    backups.push({
      id: `b${n}`,
      status: failed ? 'failed' : 'completed',
      trigger: 'scheduled',
      scheduleId: 'schedule',
      createdAt,
      finishedAt: new Date(createdAt.getTime() + 5 * 60_000),
      sizeBytes: 1 + Math.floor(random() * 1_000_000_000),
      pinned: random() < s.pinRate,
    });
  }
  const now = new Date(end + HOUR);
  backups.push({
    id: 'in-progress',
    status: 'running',
    trigger: 'scheduled',
    scheduleId: 'schedule',
    createdAt: new Date(end),
    finishedAt: null,
    sizeBytes: 0,
    pinned: false,
  });
  return { backups, now };
}

function completedNewestFirst(backups: RetentionBackup[]): RetentionBackup[] {
  return backups
    .filter((b) => b.status === 'completed')
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
}

/** Local calendar date computed independently of the implementation's formatter. */
const dayFormats = new Map<string, Intl.DateTimeFormat>();
function localDate(at: Date, timezone: string): { ymd: string; y: number; m: number; d: number } {
  let format = dayFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dayFormats.set(timezone, format);
  }
  const ymd = format.format(at);
  const [y, m, d] = ymd.split('-').map(Number);
  return { ymd, y, m, d };
}

// Each run simulates up to three years of hourly backups: CI samples fewer histories, the long
// mode (STRONGROOM_LONG_TESTS=1) the full count.
const RUNS = { numRuns: rounds(8, 20) };

describe('planRetention over simulated years', () => {
  it('partitions the input, and never deletes pinned, the newest completed, or in-progress backups', () => {
    fc.assert(
      fc.property(scenarioArb, anyPolicyArb, (scenario, counts) => {
        const { backups, now } = simulate(scenario);
        const policy: RetentionPolicy = { ...counts, timezone: scenario.timezone };
        const plan = planRetention(backups, policy, now, TTL);

        const ids = [...plan.keep, ...plan.delete].map((d) => d.id);
        expect(ids.length).toBe(backups.length);
        expect(new Set(ids)).toEqual(new Set(backups.map((b) => b.id)));

        const kept = new Set(plan.keep.map((d) => d.id));
        const newest = completedNewestFirst(backups)[0];
        if (newest) expect(kept.has(newest.id)).toBe(true);
        for (const b of backups) {
          if (b.pinned || b.status === 'running' || b.status === 'pending') expect(kept.has(b.id)).toBe(true);
          if (b.status === 'failed' && !b.pinned) {
            const expired = now.getTime() - b.finishedAt!.getTime() > TTL.failedTtlHours * HOUR;
            expect(kept.has(b.id)).toBe(!expired);
          }
        }
        for (const d of plan.keep) expect(d.reasons.length).toBeGreaterThan(0);

        const isProtected = (b: RetentionBackup) => b.pinned || b.id === newest?.id;
        const keptCompleted = backups.filter((b) => b.status === 'completed' && kept.has(b.id));
        if (policy.maxAgeDays !== null) {
          const cutoff = now.getTime() - policy.maxAgeDays * DAY;
          for (const b of keptCompleted)
            if (!isProtected(b)) expect(b.createdAt.getTime()).toBeGreaterThanOrEqual(cutoff);
        }
        if (policy.maxTotalBytes !== null) {
          const total = keptCompleted.reduce((sum, b) => sum + b.sizeBytes, 0);
          if (total > policy.maxTotalBytes) expect(keptCompleted.every(isProtected)).toBe(true);
          // Minimal: keeping the newest backup dropped for size would have gone over the limit.
          const droppedForSize = plan.delete.find((d) =>
            d.reasons.includes(`over size limit of ${policy.maxTotalBytes} bytes`),
          );
          if (droppedForSize) {
            const size = backups.find((b) => b.id === droppedForSize.id)!.sizeBytes;
            expect(total + size).toBeGreaterThan(policy.maxTotalBytes);
          }
        }
      }),
      { numRuns: rounds(16, 40) },
    );
  });

  it('keeps exactly one backup, the newest, for each of the N newest periods that have one', () => {
    fc.assert(
      fc.property(scenarioArb, bucketsOnlyArb, (scenario, counts) => {
        const { backups, now } = simulate(scenario);
        const tz = scenario.timezone;
        const plan = planRetention(backups, { ...counts, timezone: tz }, now, TTL);
        const completed = completedNewestFirst(backups);

        const periodKeys: Record<'daily' | 'weekly' | 'monthly' | 'yearly', (b: RetentionBackup) => string> = {
          daily: (b) => localDate(b.createdAt, tz).ymd,
          weekly: (b) => {
            const { y, m, d } = localDate(b.createdAt, tz);
            return isoWeekLabel(y, m, d);
          },
          monthly: (b) => localDate(b.createdAt, tz).ymd.slice(0, 7),
          yearly: (b) => localDate(b.createdAt, tz).ymd.slice(0, 4),
        };
        for (const [bucket, keyOf] of Object.entries(periodKeys)) {
          const wanted = counts[bucket as keyof typeof periodKeys];
          const expected = new Map<string, string>();
          for (const b of completed) {
            const key = keyOf(b);
            if (expected.has(key)) continue;
            if (expected.size === wanted) break;
            expected.set(key, b.id);
          }
          const actual = new Map<string, string>();
          for (const d of plan.keep) {
            for (const r of d.reasons) {
              if (!r.startsWith(`${bucket} `)) continue;
              expect(actual.has(r.slice(bucket.length + 1))).toBe(false);
              actual.set(r.slice(bucket.length + 1), d.id);
            }
          }
          expect(actual).toEqual(expected);
        }

        const lastN = plan.keep.filter((d) => d.reasons.includes(`last ${counts.keepLast}`)).map((d) => d.id);
        expect(new Set(lastN)).toEqual(new Set(completed.slice(0, counts.keepLast).map((b) => b.id)));
      }),
      RUNS,
    );
  });

  it('a run of failures never changes which completed backups are kept', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        anyPolicyArb,
        fc.integer(),
        fc.integer({ min: 1, max: 300 }),
        (scenario, counts, seed, extra) => {
          const { backups, now } = simulate({ ...scenario, failureRate: 0 });
          const policy: RetentionPolicy = { ...counts, timezone: scenario.timezone };
          const random = mulberry32(seed);
          const first = backups[0].createdAt.getTime();
          // Failures anywhere in the history, including a burst newer than every good backup.
          const failures: RetentionBackup[] = Array.from({ length: extra }, (_, i) => {
            const createdAt = new Date(
              i % 3 === 0 ? now.getTime() - random() * DAY : first + random() * (now.getTime() - first),
            );
            return {
              id: `failed-${i}`,
              status: 'failed',
              trigger: 'scheduled',
              scheduleId: 'schedule',
              createdAt,
              finishedAt: createdAt,
              sizeBytes: Math.floor(random() * 1e10),
              pinned: random() < 0.05,
            };
          });
          const keptCompleted = (list: RetentionBackup[]) => {
            const byId = new Map(list.map((b) => [b.id, b]));
            return planRetention(list, policy, now, TTL).keep.filter((d) => byId.get(d.id)!.status === 'completed');
          };
          expect(keptCompleted([...backups, ...failures])).toEqual(keptCompleted(backups));
        },
      ),
      RUNS,
    );
  });

  it('is idempotent: planning again on what it kept deletes nothing more', () => {
    fc.assert(
      fc.property(scenarioArb, anyPolicyArb, (scenario, counts) => {
        const { backups, now } = simulate(scenario);
        const policy: RetentionPolicy = { ...counts, timezone: scenario.timezone };
        const first = planRetention(backups, policy, now, TTL);
        const keptIds = new Set(first.keep.map((d) => d.id));
        const second = planRetention(
          backups.filter((b) => keptIds.has(b.id)),
          policy,
          now,
          TTL,
        );
        expect(second.delete).toEqual([]);
        expect(second.keep.map((d) => d.id)).toEqual(first.keep.map((d) => d.id));
      }),
      RUNS,
    );
  });
});
