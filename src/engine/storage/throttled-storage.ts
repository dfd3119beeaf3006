/**
 * A view of a storage whose reads are capped at a byte rate, so that background work (the
 * rolling re-verification of every retained backup) cannot saturate the disk or the link to
 * an object store that backups and restores need at the same time. Writes pass through
 * unthrottled: the background readers never write.
 */
import { Transform } from 'node:stream';
import type { BackupStorage } from './storage';
import { ReadViewStorage } from './read-view-storage';

export interface RateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: RateClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Paces bytes to `bytesPerSecond` across every stream that shares it. Each chunk is let
 * through at once and the next one waits until the bytes so far fit the rate, so a short
 * burst is allowed (one chunk) but the average never exceeds the cap. Idle time is not
 * saved up: a reader that paused does not get a burst afterwards.
 */
export class ByteRateLimiter {
  private availableAt: number;

  constructor(
    readonly bytesPerSecond: number,
    private readonly clock: RateClock = realClock,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError('bytesPerSecond must be positive');
    this.availableAt = clock.now();
  }

  /** Accounts for `bytes` just read; resolves when the reader may read on. */
  async take(bytes: number): Promise<void> {
    const now = this.clock.now();
    this.availableAt = Math.max(this.availableAt, now) + (bytes * 1000) / this.bytesPerSecond;
    const wait = this.availableAt - now;
    // Below a millisecond a timer costs more than it saves.
    if (wait >= 1) await this.clock.sleep(wait);
  }
}

export class ThrottledStorage extends ReadViewStorage {
  constructor(
    inner: BackupStorage,
    private readonly limiter: ByteRateLimiter,
  ) {
    super(inner);
  }

  protected readStep(): Transform {
    const limiter = this.limiter;
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        // Back-pressure does the rest: while this waits, the source is not read further.
        limiter.take(chunk.length).then(
          () => done(null, chunk),
          (e: Error) => done(e),
        );
      },
    });
  }
}
