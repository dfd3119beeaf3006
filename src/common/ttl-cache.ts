/**
 * One value loaded on demand and kept for `ttlMs`; callers that arrive while it loads share
 * that load. `invalidate()` drops it, and a load already under way when it was called is not
 * kept (nor joined by later callers): a change is never hidden behind a read that began
 * before it. A failed load is not kept. `ttlMs` 0: every call loads.
 */
export class TtlCache<T> {
  private value: { v: T; at: number } | null = null;
  private loading: Promise<T> | null = null;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.ttlMs <= 0) return this.load();
    if (this.value && this.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.v);
    if (this.loading) return this.loading;
    const generation = this.generation;
    // Its age counts from before the read, so the value is never older than ttlMs.
    const at = this.now();
    const loading = this.load().then(
      (v) => {
        if (generation === this.generation) {
          this.value = { v, at };
          this.loading = null;
        }
        return v;
      },
      (e: unknown) => {
        if (generation === this.generation) this.loading = null;
        throw e;
      },
    );
    this.loading = loading;
    return loading;
  }

  invalidate(): void {
    this.generation++;
    this.value = null;
    this.loading = null;
  }
}
