/**
 * Streaming zstd decompression that honours backpressure. zstd-napi's own DecompressStream
 * pushes everything one input chunk expands to in a single call, so a small hostile chunk
 * (zstd reaches ratios of 10^4 and more) could balloon memory; this one stops pushing when the
 * reader is full and resumes from `_read`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import binding = require('zstd-napi/binding');
import { ArchiveError } from './errors';

const OUT_SIZE = binding.dStreamOutSize();

export class ZstdDecompressStream extends Transform {
  private readonly dctx = new binding.DCtx();
  private pending: { src: Buffer; done: TransformCallback } | null = null;
  private inFrame = false;
  private pumping = false;
  private readRequested = false;

  constructor() {
    super();
    // Cap the window so a hostile frame header cannot make zstd allocate gigabytes (2^27 = 128 MiB).
    this.dctx.setParameter(binding.DParameter.windowLogMax, 27);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending = { src: chunk, done };
    this.pump();
  }

  override _read(size: number): void {
    if (this.pumping) {
      this.readRequested = true;
      return;
    }
    if (this.pending) this.pump();
    else super._read(size);
  }

  override _flush(done: TransformCallback): void {
    if (this.inFrame) done(new ArchiveError('truncated', 'zstd stream ended in the middle of a frame'));
    else done();
  }

  private pump(): void {
    const job = this.pending;
    if (!job) return;
    this.pumping = true;
    try {
      for (;;) {
        const out = Buffer.allocUnsafe(OUT_SIZE);
        let ret: number;
        let produced: number;
        let consumed: number;
        try {
          [ret, produced, consumed] = this.dctx.decompressStream(out, job.src);
        } catch (err) {
          throw new ArchiveError('corrupt-data', `zstd data is corrupt (${(err as Error).message})`, undefined, { cause: err });
        }
        job.src = job.src.subarray(consumed);
        this.readRequested = false;
        const wantsMore = produced > 0 ? this.push(out.subarray(0, produced)) : true;
        if (job.src.length === 0 && (produced < out.length || ret === 0)) {
          this.inFrame = ret !== 0;
          this.pending = null;
          this.pumping = false;
          job.done();
          return;
        }
        if (!wantsMore && !this.readRequested) break;
      }
    } catch (err) {
      this.pending = null;
      this.pumping = false;
      job.done(err as Error);
      return;
    }
    this.pumping = false;
  }
}
