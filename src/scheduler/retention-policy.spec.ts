import {
  combineRetention,
  isoWeekLabel,
  planAdHocRetention,
  planRetention,
  RetentionBackup,
  RetentionPlan,
  RetentionPolicy,
} from './retention-policy';

const NOW = new Date('2026-11-21T12:00:00Z');
const NONE: RetentionPolicy = {
  keepLast: 0,
  daily: 0,
  weekly: 0,
  monthly: 0,
  yearly: 0,
  maxAgeDays: null,
  maxTotalBytes: null,
  timezone: 'UTC',
};
const TTL = { failedTtlHours: 24 };

function backup(id: string, createdAt: string, extra: Partial<RetentionBackup> = {}): RetentionBackup {
  const created = new Date(createdAt);
  return {
    id,
    status: 'completed',
    trigger: 'scheduled',
    scheduleId: 's1',
    createdAt: created,
    finishedAt: new Date(created.getTime() + 60_000),
    sizeBytes: 100,
    pinned: false,
    ...extra,
  };
}

type Expected = { keep: Record<string, string[]>; delete: Record<string, string[]> };

function asRecord(plan: RetentionPlan): Expected {
  return {
    keep: Object.fromEntries(plan.keep.map((d) => [d.id, d.reasons])),
    delete: Object.fromEntries(plan.delete.map((d) => [d.id, d.reasons])),
  };
}

describe('planRetention rules', () => {
  const fiveDays = [
    backup('a1', '2026-11-21T02:00:00Z'),
    backup('a2', '2026-11-20T02:00:00Z'),
    backup('a3', '2026-11-19T02:00:00Z'),
    backup('a4', '2026-11-18T02:00:00Z'),
    backup('a5', '2026-11-17T02:00:00Z'),
  ];
  const twoPerDayWithGap = [
    backup('b1', '2026-11-21T01:00:00Z'),
    backup('b2', '2026-11-20T20:00:00Z'),
    backup('b3', '2026-11-20T08:00:00Z'),
    backup('b4', '2026-11-18T10:00:00Z'),
    backup('b5', '2026-11-17T10:00:00Z'),
  ];
  const aroundBerlinMidnight = [
    backup('c1', '2026-11-20T23:30:00Z'),
    backup('c2', '2026-11-20T22:30:00Z'),
    backup('c3', '2026-11-20T12:00:00Z'),
  ];
  const acrossIsoYearEnd = [
    backup('w1', '2027-01-02T02:00:00Z'),
    backup('w2', '2026-12-28T02:00:00Z'),
    backup('w3', '2026-12-27T02:00:00Z'),
    backup('w4', '2026-12-20T02:00:00Z'),
  ];
  const months = [
    backup('m1', '2026-11-03T02:00:00Z'),
    backup('m2', '2026-11-01T02:00:00Z'),
    backup('m3', '2026-10-31T23:00:00Z'),
    backup('m4', '2026-09-15T02:00:00Z'),
  ];
  const years = [
    backup('y1', '2026-03-01T02:00:00Z'),
    backup('y2', '2025-12-31T02:00:00Z'),
    backup('y3', '2025-01-01T02:00:00Z'),
    backup('y4', '2024-06-01T02:00:00Z'),
  ];
  const aging = [
    backup('g1', '2026-11-21T02:00:00Z'),
    backup('g2', '2026-11-15T02:00:00Z'),
    backup('g3', '2026-11-11T02:00:00Z'),
    backup('g4', '2026-11-01T02:00:00Z'),
    backup('g5', '2026-10-01T02:00:00Z', { pinned: true }),
  ];
  const sized = [
    backup('e1', '2026-11-21T02:00:00Z'),
    backup('e2', '2026-11-20T02:00:00Z'),
    backup('e3', '2026-11-19T02:00:00Z'),
    backup('e4', '2026-11-18T02:00:00Z'),
    backup('e5', '2026-10-01T02:00:00Z', { pinned: true }),
  ];
  const unfinished = [
    backup('f1', '2026-11-21T10:00:00Z', { status: 'failed', finishedAt: new Date('2026-11-21T10:05:00Z') }),
    backup('f2', '2026-11-21T02:00:00Z'),
    backup('f3', '2026-11-19T02:00:00Z', { status: 'failed' }),
    backup('f4', '2026-01-01T02:00:00Z', { status: 'running', finishedAt: null }),
    backup('f5', '2026-11-21T11:00:00Z', { status: 'pending', finishedAt: null }),
    backup('f6', '2025-01-01T02:00:00Z', { status: 'failed', pinned: true }),
    backup('f7', '2026-11-20T02:00:00Z'),
    backup('f8', '2026-11-20T03:00:00Z', { status: 'failed', finishedAt: null }),
    backup('f9', '2026-11-21T09:00:00Z', { status: 'cancelled', finishedAt: new Date('2026-11-21T09:01:00Z') }),
    backup('f10', '2026-11-19T05:00:00Z', { status: 'cancelled' }),
  ];

  it.each<[string, RetentionBackup[], Partial<RetentionPolicy>, Expected]>([
    [
      'keepLast keeps the N newest completed',
      fiveDays,
      { keepLast: 3 },
      {
        keep: { a1: ['newest', 'last 3'], a2: ['last 3'], a3: ['last 3'] },
        delete: { a4: ['matches no keep rule'], a5: ['matches no keep rule'] },
      },
    ],
    [
      'daily keeps the newest of each of the N newest days that have a backup',
      twoPerDayWithGap,
      { daily: 3 },
      {
        keep: { b1: ['newest', 'daily 2026-11-21'], b2: ['daily 2026-11-20'], b4: ['daily 2026-11-18'] },
        delete: { b3: ['matches no keep rule'], b5: ['matches no keep rule'] },
      },
    ],
    [
      'days begin at midnight in the policy time zone',
      aroundBerlinMidnight,
      { daily: 2, timezone: 'Europe/Berlin' },
      {
        keep: { c1: ['newest', 'daily 2026-11-21'], c2: ['daily 2026-11-20'] },
        delete: { c3: ['matches no keep rule'] },
      },
    ],
    [
      'the same backups are one UTC day',
      aroundBerlinMidnight,
      { daily: 2 },
      {
        keep: { c1: ['newest', 'daily 2026-11-20'] },
        delete: { c2: ['matches no keep rule'], c3: ['matches no keep rule'] },
      },
    ],
    [
      'weekly uses ISO weeks, which cross the year end',
      acrossIsoYearEnd,
      { weekly: 2 },
      {
        keep: { w1: ['newest', 'weekly 2026-W53'], w3: ['weekly 2026-W52'] },
        delete: { w2: ['matches no keep rule'], w4: ['matches no keep rule'] },
      },
    ],
    [
      'monthly keeps the newest of each month',
      months,
      { monthly: 2 },
      {
        keep: { m1: ['newest', 'monthly 2026-11'], m3: ['monthly 2026-10'] },
        delete: { m2: ['matches no keep rule'], m4: ['matches no keep rule'] },
      },
    ],
    [
      'yearly keeps the newest of each year',
      years,
      { yearly: 2 },
      {
        keep: { y1: ['newest', 'yearly 2026'], y2: ['yearly 2025'] },
        delete: { y3: ['matches no keep rule'], y4: ['matches no keep rule'] },
      },
    ],
    [
      'one backup collects every reason it is kept for',
      [backup('x1', '2026-11-21T02:00:00Z')],
      { keepLast: 1, daily: 1, weekly: 1, monthly: 1, yearly: 1 },
      {
        keep: { x1: ['newest', 'last 1', 'daily 2026-11-21', 'weekly 2026-W47', 'monthly 2026-11', 'yearly 2026'] },
        delete: {},
      },
    ],
    [
      'maxAgeDays removes old kept backups but not protected ones',
      aging,
      { keepLast: 5, maxAgeDays: 10 },
      {
        keep: { g1: ['newest', 'last 5'], g2: ['last 5'], g5: ['pinned', 'last 5'] },
        delete: { g3: ['older than 10 days'], g4: ['older than 10 days'] },
      },
    ],
    [
      'maxTotalBytes drops the oldest unprotected until the total fits',
      sized,
      { keepLast: 4, maxTotalBytes: 250 },
      {
        keep: { e1: ['newest', 'last 4'], e5: ['pinned'] },
        delete: {
          e2: ['over size limit of 250 bytes'],
          e3: ['over size limit of 250 bytes'],
          e4: ['over size limit of 250 bytes'],
        },
      },
    ],
    [
      'with every setting at zero the newest and pinned remain',
      [...fiveDays.slice(0, 2), backup('p1', '2026-01-01T00:00:00Z', { pinned: true })],
      {},
      {
        keep: { a1: ['newest'], p1: ['pinned'] },
        delete: { a2: ['matches no keep rule'] },
      },
    ],
    [
      'failed and cancelled backups never count; in-progress ones are never deleted',
      unfinished,
      { keepLast: 1 },
      {
        keep: {
          f5: ['pending, never deleted while in progress'],
          f1: ['failed, kept 24h for inspection'],
          f9: ['cancelled, kept 24h for inspection'],
          f2: ['newest', 'last 1'],
          f4: ['running, never deleted while in progress'],
          f6: ['pinned'],
        },
        delete: {
          f8: ['failed, older than 24h'],
          f7: ['matches no keep rule'],
          f3: ['failed, older than 24h'],
          f10: ['cancelled, older than 24h'],
        },
      },
    ],
    ['no backups, no decisions', [], { keepLast: 3 }, { keep: {}, delete: {} }],
  ])('%s', (_name, backups, policy, expected) => {
    expect(asRecord(planRetention(backups, { ...NONE, ...policy }, NOW, TTL))).toEqual(expected);
  });

  it('lists both sides newest first', () => {
    const plan = planRetention([...twoPerDayWithGap].reverse(), { ...NONE, daily: 3 }, NOW, TTL);
    expect(plan.keep.map((d) => d.id)).toEqual(['b1', 'b2', 'b4']);
    expect(plan.delete.map((d) => d.id)).toEqual(['b3', 'b5']);
  });

  it.each<[string, RetentionBackup[], Partial<RetentionPolicy>, string]>([
    ['negative count', [], { keepLast: -1 }, 'retention.keepLast must be a non-negative integer, got -1'],
    ['fractional count', [], { weekly: 1.5 }, 'retention.weekly must be a non-negative integer, got 1.5'],
    ['negative size limit', [], { maxTotalBytes: -1 }, 'retention.maxTotalBytes must be a non-negative number, got -1'],
    ['unknown zone', [], { timezone: 'Mars/Base' }, "retention.timezone: unknown IANA time zone 'Mars/Base'"],
    [
      'duplicate id',
      [backup('d1', '2026-11-20T00:00:00Z'), backup('d1', '2026-11-19T00:00:00Z')],
      {},
      'backup d1 appears twice',
    ],
    ['bad date', [backup('d2', 'not a date')], {}, 'backup d2: createdAt must be a valid Date'],
    [
      'bad size',
      [backup('d3', '2026-11-20T00:00:00Z', { sizeBytes: Number.NaN })],
      {},
      'backup d3: sizeBytes must be a non-negative number',
    ],
  ])('rejects %s', (_name, backups, policy, message) => {
    expect(() => planRetention(backups, { ...NONE, ...policy }, NOW, TTL)).toThrow(message);
  });
});

describe('isoWeekLabel', () => {
  it.each([
    [2026, 11, 21, '2026-W47'],
    [2026, 12, 31, '2026-W53'],
    [2027, 1, 3, '2026-W53'],
    [2027, 1, 4, '2027-W01'],
    [2024, 12, 30, '2025-W01'],
    [2021, 1, 3, '2020-W53'],
    [2023, 1, 1, '2022-W52'],
    [2023, 1, 2, '2023-W01'],
  ])('%i-%i-%i is %s', (y, m, d, expected) => {
    expect(isoWeekLabel(y, m, d)).toBe(expected);
  });
});

describe('planAdHocRetention', () => {
  const adHoc = [
    backup('h1', '2026-11-20T09:00:00Z', { trigger: 'manual', scheduleId: null }),
    backup('h2', '2026-11-01T09:00:00Z', { trigger: 'pre-restore', scheduleId: null }),
    backup('h3', '2026-09-01T09:00:00Z', { trigger: 'import', scheduleId: null }),
    backup('h4', '2025-01-01T09:00:00Z', { trigger: 'manual', scheduleId: null, pinned: true }),
    backup('h5', '2026-11-01T09:00:00Z', { trigger: 'manual', scheduleId: null, status: 'failed' }),
  ];

  it.each<[string, { keepDays?: number; failedTtlHours?: number }, Expected]>([
    [
      'keeps 30 days by default',
      {},
      {
        keep: { h1: ['newest'], h2: ['within 30 days'], h4: ['pinned'] },
        delete: { h5: ['failed, older than 168h'], h3: ['older than 30 days'] },
      },
    ],
    [
      'keepDays shortens it, never below the newest',
      { keepDays: 7, failedTtlHours: 1000 },
      {
        keep: { h1: ['newest'], h5: ['failed, kept 1000h for inspection'], h4: ['pinned'] },
        delete: { h2: ['older than 7 days'], h3: ['older than 7 days'] },
      },
    ],
  ])('%s', (_name, policy, expected) => {
    expect(asRecord(planAdHocRetention(adHoc, policy, NOW))).toEqual(expected);
  });
});

describe('combineRetention', () => {
  const s1 = [backup('s1a', '2026-11-20T02:00:00Z'), backup('s1b', '2026-11-19T02:00:00Z')];
  const s2 = [
    backup('s2a', '2026-11-21T03:00:00Z', { scheduleId: 's2' }),
    backup('s2b', '2026-11-18T03:00:00Z', { scheduleId: 's2', pinned: true }),
  ];
  const manual = [backup('m1', '2026-11-21T04:00:00Z', { trigger: 'manual', scheduleId: null })];
  const orphan = backup('o1', '2026-05-01T00:00:00Z', { scheduleId: 'deleted-schedule' });
  const all = [...s1, ...s2, ...manual, orphan];

  it('merges group plans and adds the global protections', () => {
    const plans = [
      planRetention(s1, NONE, NOW, TTL),
      planRetention(s2, NONE, NOW, TTL),
      planAdHocRetention(manual, {}, NOW),
    ];
    expect(asRecord(combineRetention(plans, all))).toEqual({
      keep: {
        m1: ['newest', 'newest overall'],
        s2a: ['newest'],
        s1a: ['newest'],
        s2b: ['pinned'],
        o1: ['not covered by any retention plan'],
      },
      delete: { s1b: ['matches no keep rule'] },
    });
  });

  it('keeps a backup that any plan keeps, and pinned or newest ones whatever a plan says', () => {
    const plans: RetentionPlan[] = [
      {
        keep: [],
        delete: [
          { id: 'm1', reasons: ['hand-made'] },
          { id: 's2b', reasons: ['hand-made'] },
          { id: 's1a', reasons: ['a'] },
        ],
      },
      {
        keep: [{ id: 's1a', reasons: ['b'] }],
        delete: [
          { id: 's1b', reasons: ['c'] },
          { id: 's2a', reasons: ['d'] },
          { id: 'o1', reasons: ['e'] },
        ],
      },
    ];
    expect(asRecord(combineRetention(plans, all))).toEqual({
      keep: { m1: ['newest overall'], s1a: ['b'], s2b: ['pinned'] },
      delete: { s2a: ['d'], s1b: ['c'], o1: ['e'] },
    });
  });

  it('refuses a plan that names a backup outside the catalog', () => {
    expect(() => combineRetention([{ keep: [], delete: [{ id: 'ghost', reasons: [] }] }], all)).toThrow(
      'retention plan mentions backup ghost, which is not in the catalog',
    );
  });
});
