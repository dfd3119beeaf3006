/**
 * Finished zstd contexts, kept for the next stream on the same thread. A context's native
 * memory is returned only when the garbage collector finalizes its wrapper, and zstd-napi does
 * not tell V8 how big that memory is. So many short streams (one per table of a 500-table
 * database) either pile up contexts until a collection happens to run, or, where V8 does count
 * them, set off a full collection every few parts. A reset context is as good as a new one.
 */
export class ZstdContextPool<T> {
  private readonly idle: T[] = [];

  constructor(
    private readonly create: () => T,
    /** Makes a used context as new (ends any frame); throws if it cannot, and the context is dropped. */
    private readonly reset: (ctx: T) => void,
    private readonly maxIdle = 4,
  ) {}

  take(): T {
    return this.idle.pop() ?? this.create();
  }

  give(ctx: T): void {
    try {
      this.reset(ctx);
    } catch {
      return;
    }
    if (this.idle.length < this.maxIdle) this.idle.push(ctx);
  }

  /** How many contexts wait for reuse (for tests). */
  get size(): number {
    return this.idle.length;
  }
}
