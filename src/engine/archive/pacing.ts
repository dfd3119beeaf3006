import { Transform } from 'node:stream';

/**
 * Lets background data work (a backup's rows on their way to storage) give way to foreground
 * work (API requests) without stopping. `wait()` answers null when the data may flow now, or a
 * promise that resolves when it may flow again; the implementation bounds every wait, so a
 * busy API slows a backup down but never stalls it.
 */
export interface Pacer {
  wait(): Promise<void> | null;
  /**
   * The pacer's state in memory threads share, when it has one: a worker thread that moves the
   * data itself (a PostgreSQL export read on a part worker) paces it with a SharedPacer over it.
   */
  readonly shared?: SharedArrayBuffer;
}

/** Cells of the shared state: foreground tasks in flight, and the longest wait in ms (0 = never wait). */
const ACTIVE = 0;
const MAX_WAIT = 1;

/**
 * The pacing policy over a count of foreground tasks kept in shared memory, so the thread that
 * counts them (the API's) and the threads that move data (the main thread, part workers) read
 * the same count without messages. While tasks are in flight, `wait()` holds the data back until
 * the last one ends or `maxWaitMs` pass; after a full wait the data runs for a fifth of that
 * without asking, so a constant stream of requests slows a backup to no less than about a sixth
 * of its speed instead of stopping it. Each instance keeps that grant for its own thread.
 */
export class SharedPacer implements Pacer {
  readonly shared: SharedArrayBuffer;
  private readonly cells: Int32Array;
  /** Until then (ms, performance.now()) data runs without asking: its share after a full wait. */
  private grantedUntil = 0;

  /** A new state with that longest wait, or a view of an existing one (another thread's). */
  constructor(from: number | SharedArrayBuffer) {
    this.shared = typeof from === 'number' ? new SharedArrayBuffer(8) : from;
    this.cells = new Int32Array(this.shared);
    if (typeof from === 'number') Atomics.store(this.cells, MAX_WAIT, Math.max(0, Math.trunc(from)));
  }

  /** Marks one foreground task started; call the returned function (any number of times) when it ends. */
  enter(): () => void {
    Atomics.add(this.cells, ACTIVE, 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      // The last one out wakes every waiter, on every thread.
      if (Atomics.sub(this.cells, ACTIVE, 1) === 1) Atomics.notify(this.cells, ACTIVE);
    };
  }

  wait(): Promise<void> | null {
    const maxWait = Atomics.load(this.cells, MAX_WAIT);
    if (Atomics.load(this.cells, ACTIVE) === 0 || maxWait <= 0) return null;
    if (performance.now() < this.grantedUntil) return null;
    return this.untilIdle(maxWait);
  }

  private async untilIdle(maxWait: number): Promise<void> {
    const deadline = performance.now() + maxWait;
    for (;;) {
      const active = Atomics.load(this.cells, ACTIVE);
      if (active === 0) return;
      const left = deadline - performance.now();
      if (left <= 0) {
        this.grantedUntil = performance.now() + maxWait / 5;
        return;
      }
      await sleepWhile(this.cells, active, left);
    }
  }
}

/**
 * Sleeps until the cell changes from `value` and is notified, or `ms` pass. Atomics.waitAsync
 * alone does not keep a thread's event loop alive; the timer beside it does.
 */
async function sleepWhile(cells: Int32Array, value: number, ms: number): Promise<void> {
  const keepAlive = setTimeout(() => undefined, ms);
  try {
    const r = Atomics.waitAsync(cells, ACTIVE, value, ms);
    if (r.async) await r.value;
  } finally {
    clearTimeout(keepAlive);
  }
}

/**
 * A pass-through step that asks the pacer before handing each chunk on. While it waits, stream
 * backpressure pauses the source: for a PostgreSQL export that is the COPY socket, so the
 * server's COPY backend blocks too and leaves the CPU to the catalog's queries.
 */
export function pacingStep(pacer: Pacer): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const wait = pacer.wait();
      if (!wait) return cb(null, chunk);
      wait.then(
        () => cb(null, chunk),
        (err: Error) => cb(err),
      );
    },
  });
}
