import type { AppConfig } from '../config/app-config';
import { JobSweeper } from './job-sweeper';

const config = { LEASE_TTL_SECONDS: 60, JOB_STALE_AFTER_TTLS: 2 } as AppConfig;

describe('JobSweeper.sweepIfDue (readers that sweep before they report)', () => {
  function sweeper(result: () => Promise<number>) {
    const s = new JobSweeper(config);
    const calls: string[] = [];
    s.register(async (staleBefore) => {
      calls.push(staleBefore);
      return result();
    });
    return { s, calls };
  }

  it('sweeps, then reuses that sweep for the interval, then sweeps again', async () => {
    const { s, calls } = sweeper(async () => 1);
    await expect(s.sweepIfDue(1000, 100_000)).resolves.toBe(1);
    await expect(s.sweepIfDue(1000, 100_999)).resolves.toBe(0);
    expect(calls).toHaveLength(1);
    await expect(s.sweepIfDue(1000, 101_000)).resolves.toBe(1);
    expect(calls).toHaveLength(2);
    // Stale means older than JOB_STALE_AFTER_TTLS lease TTLs before the sweep's own start.
    expect(calls[1]).toBe(new Date(101_000 - 2 * 60 * 1000).toISOString());
  });

  it('a failed sweep does not count: the next reader sweeps again', async () => {
    let fail = true;
    const { s, calls } = sweeper(async () => {
      if (fail) throw new Error('catalog unavailable');
      return 0;
    });
    await expect(s.sweepIfDue(1000, 100_000)).rejects.toThrow('catalog unavailable');
    fail = false;
    await expect(s.sweepIfDue(1000, 100_001)).resolves.toBe(0);
    expect(calls).toHaveLength(2);
  });

  it('joins a sweep under way instead of starting a second one', async () => {
    let release!: (n: number) => void;
    const { s, calls } = sweeper(() => new Promise<number>((r) => (release = r)));
    const first = s.sweep(100_000);
    const joined = s.sweepIfDue(1000, 500_000);
    await Promise.resolve();
    release(2);
    await expect(first).resolves.toBe(2);
    await expect(joined).resolves.toBe(2);
    expect(calls).toHaveLength(1);
  });

  it('sweep() itself is never skipped (lease conflicts, scheduler ticks)', async () => {
    const { s, calls } = sweeper(async () => 0);
    await s.sweep(100_000);
    await s.sweep(100_001);
    expect(calls).toHaveLength(2);
  });
});
