/**
 * Streaming zstd decompression that honours backpressure. zstd-napi's own DecompressStream
 * pushes everything one input chunk expands to in a single call, so a small hostile chunk
 * (zstd reaches ratios of 10^4 and more) could balloon memory; this one stops pushing when the
 * reader is full and resumes from `_read`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import binding = require('zstd-napi/binding');
import { ArchiveError } from './errors';
import { ZstdContextPool } from './zstd-context-pool';

/**
 * Output is gathered in buffers of this size and pushed when one is full (or the stream ends).
 * Pushing zstd's output as it came, a fresh dStreamOutSize() buffer (128 KiB) per push and one
 * to two pushes per 64 KiB input frame, cost about half the speed: on shape f's binary rows
 * (2026-12-02) this stream ran at 224-297 MB/s that way and at 381-490 MB/s gathering, the bare
 * context reusing one buffer at about 500-600; a whole empty-database restore of shape f used
 * 12.0-12.3 s of our CPU before and 11.5 s after.
 */
const OUT_SIZE = 512 * 1024;
/** Below this much room the buffer is pushed and a new one started: zstd writes a block at a time. */
const MIN_ROOM = 32 * 1024;

/** Contexts of finished streams, kept for the next one (zstd-context-pool.ts). */
const pool = new ZstdContextPool<binding.DCtx>(
  () => {
    const dctx = new binding.DCtx();
    // Cap the window so a hostile frame header cannot make zstd allocate gigabytes (2^27 = 128 MiB).
    dctx.setParameter(binding.DParameter.windowLogMax, 27);
    return dctx;
  },
  // Ends whatever frame the context was in; parameters (the window cap) stay.
  (dctx) => dctx.reset(binding.ResetDirective.sessionOnly),
);

/** How many finished contexts wait for reuse (for tests). */
export function idleZstdContexts(): number {
  return pool.size;
}

export class ZstdDecompressStream extends Transform {
  private dctx: binding.DCtx | null = pool.take();
  private pending: { src: Buffer; done: TransformCallback } | null = null;
  /** Filled across input chunks until it is pushed, so tiny input chunks do not each cost a fresh buffer. */
  private out = Buffer.allocUnsafe(OUT_SIZE);
  /** Bytes at the start of `out` waiting to be pushed. */
  private filled = 0;
  private inFrame = false;
  private pumping = false;
  /** A _read not yet answered by a push: Readable will not call _read again until one comes. */
  private unansweredRead = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending = { src: chunk, done };
    this.pump();
  }

  override _read(size: number): void {
    if (!this.pending) {
      // Lets Transform hand us the next input chunk.
      super._read(size);
      return;
    }
    this.unansweredRead = true;
    if (!this.pumping) this.pump();
  }

  override _flush(done: TransformCallback): void {
    this.release();
    if (this.filled > 0) this.push(this.out.subarray(0, this.filled));
    if (this.inFrame) done(new ArchiveError('truncated', 'zstd stream ended in the middle of a frame'));
    else done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.release();
    done(err);
  }

  private release(): void {
    const dctx = this.dctx;
    this.dctx = null;
    if (dctx) pool.give(dctx);
  }

  private pump(): void {
    const job = this.pending;
    if (!job) return;
    this.pumping = true;
    try {
      for (;;) {
        const dctx = this.dctx;
        if (!dctx) throw new Error('zstd stream written to after its end');
        const room = OUT_SIZE - this.filled;
        let ret: number;
        let produced: number;
        let consumed: number;
        try {
          [ret, produced, consumed] = dctx.decompressStream(this.out.subarray(this.filled), job.src);
        } catch (err) {
          throw new ArchiveError('corrupt-data', `zstd data is corrupt (${(err as Error).message})`, undefined, {
            cause: err,
          });
        }
        job.src = job.src.subarray(consumed);
        this.filled += produced;
        let wantsMore = true;
        if (OUT_SIZE - this.filled < MIN_ROOM) {
          const full = this.out.subarray(0, this.filled);
          this.unansweredRead = false;
          this.out = Buffer.allocUnsafe(OUT_SIZE);
          this.filled = 0;
          wantsMore = this.push(full);
        }
        // All input taken and zstd had no more to give (it left room), or the frame ended.
        if (job.src.length === 0 && (produced < room || ret === 0)) {
          this.inFrame = ret !== 0;
          this.finish(job);
          return;
        }
        // A _read that arrived during push (re-entrantly) means: keep going.
        if (!wantsMore && !this.unansweredRead) break;
      }
    } catch (err) {
      this.pending = null;
      this.pumping = false;
      job.done(err as Error);
      return;
    }
    this.pumping = false;
  }

  private finish(job: { done: TransformCallback }): void {
    this.pending = null;
    this.pumping = false;
    const answerRead = this.unansweredRead;
    this.unansweredRead = false;
    job.done();
    // The reader asked and got nothing from this chunk: pass the request on, or Transform would
    // park the next write waiting for a _read the reader will not issue again.
    if (answerRead) super._read(OUT_SIZE);
  }
}
