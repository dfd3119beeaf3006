import { copiesOf, CopyState, overdueCopies, orderForChecking, selectSlice, ticksPerCycle } from './verify-slice';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T05:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const daily = (after: Date) => new Date(Math.floor((after.getTime() - T0) / DAY) * DAY + T0 + DAY);

function copy(backupId: string, over: Partial<CopyState> = {}): CopyState {
  return { backupId, copy: 'primary', createdAt: iso(T0 - DAY), checkedAt: null, error: null, ...over };
}

describe('copiesOf', () => {
  const rows = [
    { id: 'a', createdAt: iso(T0), offsiteStatus: 'copied', primaryCheckedAt: iso(T0), offsiteCheckError: 'bad' },
    { id: 'b', createdAt: iso(T0), offsiteStatus: 'pending' },
    { id: 'c', createdAt: iso(T0), offsiteStatus: 'failed' },
  ];

  it('lists the primary copy of every backup and the offsite copy of those copied', () => {
    expect(copiesOf(rows, true).map((c) => `${c.backupId}:${c.copy}`)).toEqual([
      'a:primary',
      'a:offsite',
      'b:primary',
      'c:primary',
    ]);
    const offsite = copiesOf(rows, true)[1];
    expect(offsite).toMatchObject({ checkedAt: null, error: 'bad' });
  });

  it('lists no offsite copy while offsite copies are off', () => {
    expect(copiesOf(rows, false).every((c) => c.copy === 'primary')).toBe(true);
  });
});

describe('ticksPerCycle', () => {
  it('counts a daily tick 7 times in a 7-day cycle', () => {
    expect(ticksPerCycle(daily, new Date(T0), 7)).toBe(7);
  });

  it('is at least 1 even when the schedule fires less often than the cycle', () => {
    const yearly = (after: Date) => new Date(after.getTime() + 365 * DAY);
    expect(ticksPerCycle(yearly, new Date(T0), 7)).toBe(1);
  });

  it('stops counting at the limit', () => {
    const everySecond = (after: Date) => new Date(after.getTime() + 1000);
    expect(ticksPerCycle(everySecond, new Date(T0), 7, 500)).toBe(500);
  });
});

describe('orderForChecking', () => {
  it('puts never-checked copies first (newest backup first, primary before offsite), then failed, then oldest checks', () => {
    const ordered = orderForChecking([
      copy('ok-old', { checkedAt: iso(T0 - 5 * DAY) }),
      copy('ok-new', { checkedAt: iso(T0 - DAY) }),
      copy('failed', { checkedAt: iso(T0 - DAY), error: 'part x: SHA-256 differs' }),
      copy('new', { createdAt: iso(T0), copy: 'offsite' }),
      copy('new', { createdAt: iso(T0) }),
      copy('older', { createdAt: iso(T0 - 3 * DAY) }),
    ]);
    expect(ordered.map((c) => `${c.backupId}:${c.copy}`)).toEqual([
      'new:primary',
      'new:offsite',
      'older:primary',
      'failed:primary',
      'ok-old:primary',
      'ok-new:primary',
    ]);
  });
});

describe('selectSlice', () => {
  const input = (now: number) => ({
    now: new Date(now),
    nextTickAt: new Date(now + DAY),
    cycleDays: 7,
    ticksPerCycle: 7,
  });

  it('is empty for an empty catalog', () => {
    expect(selectSlice([], input(T0))).toEqual([]);
  });

  it('takes the fair share when nothing is late', () => {
    const copies = Array.from({ length: 14 }, (_, i) => copy(`b${i}`, { checkedAt: iso(T0 - (i % 6) * DAY) }));
    expect(selectSlice(copies, input(T0))).toHaveLength(2);
  });

  it('takes more than the fair share to keep copies from passing their deadline, but at most twice it', () => {
    // 14 copies, fair share 2; 3 would be late by the next tick.
    const late = [0, 1, 2].map((i) => copy(`late${i}`, { checkedAt: iso(T0 - 6.5 * DAY) }));
    const fresh = Array.from({ length: 11 }, (_, i) => copy(`fresh${i}`, { checkedAt: iso(T0 - DAY) }));
    const slice = selectSlice([...fresh, ...late], input(T0));
    expect(slice.map((c) => c.backupId).sort()).toEqual(['late0', 'late1', 'late2']);
    // Everything late (a catalog that never had rolling checks): twice the fair share.
    const never = Array.from({ length: 14 }, (_, i) => copy(`old${i}`, { createdAt: iso(T0 - 30 * DAY) }));
    expect(selectSlice(never, input(T0))).toHaveLength(4);
  });

  it('checks every copy of a changing catalog within the cycle, one daily slice at a time', () => {
    // A month of daily ticks: a new backup (two copies) every day, the oldest beyond 20 retained deleted.
    const checked = new Map<string, string | null>();
    let backups: { id: string; createdAt: string }[] = Array.from({ length: 20 }, (_, i) => ({
      id: `seed${i}`,
      createdAt: iso(T0 - (i + 1) * DAY),
    }));
    // Seeded as if a steady state had been reached: last checks spread over the past cycle.
    backups.forEach((b, i) => {
      checked.set(`${b.id}:primary`, iso(T0 - (i % 7) * DAY));
      checked.set(`${b.id}:offsite`, iso(T0 - ((i + 3) % 7) * DAY));
    });
    let worstLateMs = 0;
    let maxSlice = 0;
    for (let day = 0; day < 30; day++) {
      const now = T0 + day * DAY;
      backups = [{ id: `day${day}`, createdAt: iso(now - 3 * 3_600_000) }, ...backups].slice(0, 20);
      const copies = copiesOf(
        backups.map((b) => ({
          ...b,
          offsiteStatus: 'copied',
          primaryCheckedAt: checked.get(`${b.id}:primary`) ?? null,
          offsiteCheckedAt: checked.get(`${b.id}:offsite`) ?? null,
        })),
        true,
      );
      for (const c of overdueCopies(copies, new Date(now), 7))
        worstLateMs = Math.max(worstLateMs, now - Date.parse(c.checkedAt ?? c.createdAt) - 7 * DAY);
      const slice = selectSlice(copies, input(now));
      maxSlice = Math.max(maxSlice, slice.length);
      // A check takes a few minutes.
      for (const c of slice) checked.set(`${c.backupId}:${c.copy}`, iso(now + 5 * 60_000));
    }
    expect(worstLateMs).toBe(0);
    // 40 copies over 7 ticks: about 6 a day, never the whole catalog at once.
    expect(maxSlice).toBeLessThanOrEqual(12);
  });
});
