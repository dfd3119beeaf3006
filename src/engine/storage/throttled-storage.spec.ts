import { Readable } from 'node:stream';
import { ByteRateLimiter, RateClock, ThrottledStorage } from './throttled-storage';
import type { BackupStorage } from './storage';

/** A clock that only moves when someone sleeps, recording each sleep. */
function fakeClock(): RateClock & { sleeps: number[]; t: number } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('ByteRateLimiter', () => {
  it('paces bytes to the rate: 3 MB at 1 MB/s waits about 3 s in all', async () => {
    const clock = fakeClock();
    const limiter = new ByteRateLimiter(1_000_000, clock);
    for (let i = 0; i < 3; i++) await limiter.take(1_000_000);
    expect(clock.t).toBeCloseTo(3000, 5);
  });

  it('does not save idle time up for a later burst', async () => {
    const clock = fakeClock();
    const limiter = new ByteRateLimiter(1000, clock);
    clock.t = 60_000; // a minute idle
    await limiter.take(1000);
    expect(clock.sleeps).toEqual([1000]);
  });

  it('lets small reads through without a timer', async () => {
    const clock = fakeClock();
    const limiter = new ByteRateLimiter(1_000_000_000, clock);
    await limiter.take(100);
    expect(clock.sleeps).toEqual([]);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new ByteRateLimiter(0)).toThrow(RangeError);
  });
});

describe('ThrottledStorage', () => {
  it('reads the same bytes as the inner storage, accounted by the limiter', async () => {
    const clock = fakeClock();
    const data = Buffer.alloc(10_000, 7);
    const inner = { get: async () => Readable.from([data.subarray(0, 5000), data.subarray(5000)]) };
    const storage = new ThrottledStorage(inner as unknown as BackupStorage, new ByteRateLimiter(1000, clock));
    const chunks: Buffer[] = [];
    for await (const c of await storage.get('k')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(clock.t).toBeCloseTo(10_000, 5);
  });

  it('passes the inner stream error on to the reader', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    const inner = { get: async () => failing };
    const storage = new ThrottledStorage(inner as unknown as BackupStorage, new ByteRateLimiter(1000, fakeClock()));
    const read = async () => {
      for await (const _ of await storage.get('k')) void _;
    };
    await expect(read()).rejects.toThrow('disk gone');
  });
});
