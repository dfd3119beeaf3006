import { TtlCache } from './ttl-cache';

/** A load whose answer the test releases. */
function controlledLoads() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const load = () => new Promise<number>((resolve, reject) => pending.push({ resolve, reject }));
  return { load, pending };
}

describe('TtlCache', () => {
  it('keeps a value for ttlMs and shares one load between concurrent callers', async () => {
    let now = 1000;
    let n = 0;
    const cache = new TtlCache(
      async () => ++n,
      500,
      () => now,
    );
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect([a, b, n]).toEqual([1, 1, 1]);
    now += 499;
    expect(await cache.get()).toBe(1);
    now += 1;
    expect(await cache.get()).toBe(2);
  });

  it('counts the age from the start of the load', async () => {
    let now = 0;
    const { load, pending } = controlledLoads();
    const cache = new TtlCache(load, 100, () => now);
    const first = cache.get();
    now = 60;
    pending[0].resolve(7);
    expect(await first).toBe(7);
    now = 100;
    const again = cache.get();
    expect(pending).toHaveLength(2);
    pending[1].resolve(8);
    expect(await again).toBe(8);
  });

  it('after invalidate, neither keeps nor joins a load that began before it', async () => {
    const { load, pending } = controlledLoads();
    const cache = new TtlCache(load, 10_000, () => 0);
    const stale = cache.get();
    cache.invalidate();
    const fresh = cache.get();
    expect(pending).toHaveLength(2);
    pending[0].resolve(1);
    pending[1].resolve(2);
    expect(await stale).toBe(1);
    expect(await fresh).toBe(2);
    expect(await cache.get()).toBe(2);
    expect(pending).toHaveLength(2);
  });

  it('does not keep a failed load', async () => {
    const { load, pending } = controlledLoads();
    const cache = new TtlCache(load, 10_000, () => 0);
    const failing = cache.get();
    pending[0].reject(new Error('down'));
    await expect(failing).rejects.toThrow('down');
    const next = cache.get();
    expect(pending).toHaveLength(2);
    pending[1].resolve(3);
    expect(await next).toBe(3);
  });

  it('loads on every call when ttlMs is 0', async () => {
    let n = 0;
    const cache = new TtlCache(
      async () => ++n,
      0,
      () => 0,
    );
    expect(await cache.get()).toBe(1);
    expect(await cache.get()).toBe(2);
  });
});
