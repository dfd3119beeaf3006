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

const OUT_SIZE = binding.dStreamOutSize();

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
  /** Reused until something is pushed from it, so tiny input chunks do not each cost a fresh buffer. */
  private out = Buffer.allocUnsafe(OUT_SIZE);
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
        const out = this.out;
        const dctx = this.dctx;
        if (!dctx) throw new Error('zstd stream written to after its end');
        let ret: number;
        let produced: number;
        let consumed: number;
        try {
          [ret, produced, consumed] = dctx.decompressStream(out, job.src);
        } catch (err) {
          throw new ArchiveError('corrupt-data', `zstd data is corrupt (${(err as Error).message})`, undefined, {
            cause: err,
          });
        }
        job.src = job.src.subarray(consumed);
        let wantsMore = true;
        if (produced > 0) {
          this.unansweredRead = false;
          this.out = Buffer.allocUnsafe(OUT_SIZE);
          wantsMore = this.push(out.subarray(0, produced));
        }
        if (job.src.length === 0 && (produced < out.length || ret === 0)) {
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
