/**
 * zstd compression of a part, as independent frames (ZstdCompressStream), and the choice of its
 * level from the part's own first bytes (AdaptiveZstdCompressStream), for parts written at the
 * default level (no BACKUP_COMPRESSION_LEVEL). Level 3 pays for its match search
 * only where there are matches to find. On data without them it is slower and no smaller: on
 * `bytea` values of random bytes, which COPY text writes as hex, level 3 ran at 56 MB/s and wrote
 * 0.521 of the input, level 1 at 524 MB/s and 0.500 (32 MiB sample, one core). On ordinary rows
 * level 3 is about 10% smaller than level 1, which the size goal needs.
 *
 * So the first PROBE_BYTES are compressed once at both levels; if the default level does not beat
 * level 1 by MIN_GAIN, the whole part is written at level 1. The output is ordinary zstd frames
 * (content checksum on, as createCompressStream writes them); readers see no difference.
 */
import { Transform, type TransformCallback } from 'node:stream';
import binding = require('zstd-napi/binding');
import { ZstdContextPool } from './zstd-context-pool';

export const PROBE_BYTES = 256 * 1024;
/** The default level must write at most this share of level 1's bytes on the probe to be used. */
export const MIN_GAIN = 0.97;
export const FAST_LEVEL = 1;

let probeCtx: binding.CCtx | undefined;
/**
 * Contexts of finished streams (zstd-context-pool.ts). Without it a backup of 500 small tables
 * left a level-3 context per part waiting for a collection: 235 MiB peak where a 2-table
 * database of twice the bytes peaked at 170 MiB. Reset with its parameters: each stream sets
 * its own level.
 */
const pool = new ZstdContextPool<binding.CCtx>(
  () => new binding.CCtx(),
  (cctx) => cctx.reset(binding.ResetDirective.sessionAndParameters),
);

/** How many finished compression contexts wait for reuse (for tests). */
export function idleZstdCompressContexts(): number {
  return pool.size;
}

/** The level to compress a part at, from a sample of its first bytes. */
export function chooseZstdLevel(sample: Buffer, defaultLevel: number): number {
  if (defaultLevel <= FAST_LEVEL || sample.length === 0) return defaultLevel;
  const out = Buffer.allocUnsafe(binding.compressBound(sample.length));
  // One context per thread for every probe: a fresh one per part would set up its tables each time.
  probeCtx ??= new binding.CCtx();
  const cctx = probeCtx;
  const sizeAt = (level: number): number => {
    cctx.setParameter(binding.CParameter.compressionLevel, level);
    return cctx.compress2(out, sample);
  };
  const fast = sizeAt(FAST_LEVEL);
  return sizeAt(defaultLevel) <= fast * MIN_GAIN ? defaultLevel : FAST_LEVEL;
}

/** Runs a step's work and tells the stream how it went. */
function settle(done: TransformCallback, work: () => void): void {
  try {
    work();
  } catch (err) {
    done(err as Error);
    return;
  }
  done();
}

/**
 * Input bytes per zstd frame where the caller names no size: a part's rows and file artefacts.
 * Measured on the benchmark's binary COPY rows at level 3, one core, CPU time, medians of 5 by
 * turns (2026-12-03): shape a's tasks 130 MB/s as one stream, 152 MB/s in 2 MiB frames, its
 * audit rows 194 and 222, a table of shape f 166 and 199; the frames wrote 0.1-0.9% more bytes
 * than the stream (1 MiB frames 0.8-2.2% more). 4 MiB frames wrote no more than the stream at
 * about the same speed, but a backup of shape f then peaked at 233 MiB in its largest process,
 * against 190-204 MiB at 2 MiB: each thread holds a frame of input, its gathered copy and its
 * output. A profile of a backup of shape a had put 46% of its CPU in the stream's extDict match
 * finder (see ZstdCompressStream). docs/benchmarking.md, "Row parts as zstd frames".
 */
export const DEFAULT_FRAME_BYTES = 2 * 1024 * 1024;

/**
 * Output buffer of this thread's streams: compress2 runs synchronously, so one serves them all
 * until a frame fills more than half of it (see ZstdCompressStream.frame).
 */
let frameScratch: Buffer | null = null;
/**
 * Where a frame's input is gathered when it arrived in several chunks: it is only read by the
 * synchronous compress2 call, so one per thread serves every stream, and a backup does not
 * allocate (and have the kernel zero) a fresh frame-sized buffer per frame.
 */
let gatherScratch: Buffer | null = null;

const EMPTY = Buffer.alloc(0);

/**
 * zstd as independent frames of `frameBytes` of input, each compressed by one call (compress2)
 * from a whole buffer, with zstd's content checksum on (see createCompressStream). Why not one
 * stream: a stream copies its input into a ring buffer the size of its window, and once that
 * wraps, matches are searched across its two pieces (zstd's "extDict" variant of the match
 * finder: two thirds of a page-image backup's compression time in a profile, 46% of a row
 * backup's CPU). Each frame starts without history, which costs a fraction of a percent at a
 * frame several times the window (512 KiB at level 1, 2 MiB at 3). Readers get concatenated zstd
 * frames, which every zstd decoder reads as one stream, this project's earlier versions included.
 * A stream holds up to a frame of input.
 */
export class ZstdCompressStream extends Transform {
  private ctx: binding.CCtx | null = pool.take();
  /** Input not yet compressed, less than one frame's worth once `compress` returns. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private framesWritten = 0;

  constructor(
    level: number | null,
    private readonly frameBytes: number = DEFAULT_FRAME_BYTES,
  ) {
    super();
    if (!Number.isInteger(frameBytes) || frameBytes < 1)
      throw new RangeError(`frame size must be a positive integer, got ${frameBytes}`);
    if (level !== null) this.configure(level);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    settle(done, () => this.compress(chunk, false));
  }

  override _flush(done: TransformCallback): void {
    settle(done, () => {
      this.compress(EMPTY, true);
      this.release();
    });
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.release();
    done(err);
  }

  private get cctx(): binding.CCtx {
    if (!this.ctx) throw new Error('the zstd stream has already ended');
    return this.ctx;
  }

  private release(): void {
    const cctx = this.ctx;
    this.ctx = null;
    if (cctx) pool.give(cctx);
  }

  protected configure(level: number): void {
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
    this.cctx.setParameter(binding.CParameter.checksumFlag, 1);
  }

  /** Compresses every whole frame `src` completes; at the end, what is left as the last frame. */
  protected compress(src: Buffer, end: boolean): void {
    if (src.length > 0) {
      this.held.push(src);
      this.heldBytes += src.length;
    }
    while (this.heldBytes >= this.frameBytes) this.frame(this.takeHeld(this.frameBytes));
    // An empty input still makes one (empty) frame, as a stream would.
    if (end && (this.heldBytes > 0 || this.framesWritten === 0)) this.frame(this.takeHeld(this.heldBytes));
  }

  /**
   * The first `n` held bytes, as one buffer: a slice when one input chunk holds them, else
   * gathered into this thread's scratch buffer, valid until the next call.
   */
  private takeHeld(n: number): Buffer {
    const first = this.held[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.held.shift();
      else this.held[0] = first.subarray(n);
    } else {
      if (!gatherScratch || gatherScratch.length < n) gatherScratch = Buffer.allocUnsafeSlow(n);
      out = gatherScratch.subarray(0, n);
      let at = 0;
      while (at < n) {
        const piece = this.held[0];
        const used = Math.min(piece.length, n - at);
        piece.copy(out, at, 0, used);
        at += used;
        if (used === piece.length) this.held.shift();
        else this.held[0] = piece.subarray(used);
      }
    }
    this.heldBytes -= n;
    return out;
  }

  private frame(src: Buffer): void {
    const bound = binding.compressBound(src.length);
    if (!frameScratch || frameScratch.length < bound) frameScratch = Buffer.allocUnsafeSlow(bound);
    const scratch = frameScratch;
    const n = this.cctx.compress2(scratch, src);
    this.framesWritten++;
    // A frame that filled most of the buffer (incompressible input) is handed on in it, and the
    // next frame gets a new one: copying it would move as many bytes again. A smaller frame is
    // copied out at its size, so a well compressed frame never pins a buffer several times its
    // size. The scratch is let go before the push: a reader downstream may compress on this
    // thread as it receives the frame.
    if (n > scratch.length / 2) {
      frameScratch = null;
      this.push(scratch.subarray(0, n));
    } else {
      this.push(Buffer.from(scratch.subarray(0, n)));
    }
  }
}

/** zstd whose level is chosen from the part's first PROBE_BYTES (see the top of this file). */
export class AdaptiveZstdCompressStream extends ZstdCompressStream {
  /** The first bytes, held until the level is chosen; null once it is. */
  private probe: Buffer[] | null = [];
  private probeBytes = 0;
  private chosen: number | null = null;

  constructor(
    private readonly defaultLevel: number,
    frameBytes?: number,
  ) {
    super(null, frameBytes);
  }

  /** The level this part is written at; null until PROBE_BYTES have arrived or the input ended. */
  level(): number | null {
    return this.chosen;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, done: TransformCallback): void {
    const probe = this.probe;
    if (!probe) {
      super._transform(chunk, encoding, done);
      return;
    }
    settle(done, () => {
      probe.push(chunk);
      this.probeBytes += chunk.length;
      if (this.probeBytes >= PROBE_BYTES) this.start(true);
    });
  }

  override _flush(done: TransformCallback): void {
    if (this.probe) {
      try {
        this.start(false);
      } catch (err) {
        done(err as Error);
        return;
      }
    }
    super._flush(done);
  }

  /**
   * Chooses the level from the held bytes, then compresses them. A part that ended before a whole
   * probe keeps the default level: on so few bytes the level's speed hardly matters, and probing
   * every one of many small tables would cost more than it saves.
   */
  private start(probed: boolean): void {
    const held = Buffer.concat(this.probe as Buffer[]);
    this.probe = null;
    this.chosen = probed ? chooseZstdLevel(held.subarray(0, PROBE_BYTES), this.defaultLevel) : this.defaultLevel;
    this.configure(this.chosen);
    this.compress(held, false);
  }
}
