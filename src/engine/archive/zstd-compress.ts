/**
 * Streaming zstd compression whose level is chosen from the part's own first bytes, for parts
 * written at the default level (no BACKUP_COMPRESSION_LEVEL). Level 3 pays for its match search
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

const OUT_SIZE = binding.cStreamOutSize();
/** Below this much room the output buffer is pushed and a new one started. */
const MIN_ROOM = 16 * 1024;
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

/** Streaming zstd at a fixed level, with the content checksum on (see createCompressStream). */
export class ZstdCompressStream extends Transform {
  private ctx: binding.CCtx | null = pool.take();
  private out = Buffer.allocUnsafe(OUT_SIZE);
  /** Bytes at the start of `out` waiting to be pushed. */
  private filled = 0;

  constructor(level: number | null) {
    super();
    if (level !== null) this.configure(level);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    settle(done, () => this.compress(chunk, binding.EndDirective.continue));
  }

  override _flush(done: TransformCallback): void {
    settle(done, () => {
      this.compress(Buffer.alloc(0), binding.EndDirective.end);
      this.release();
    });
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.release();
    done(err);
  }

  protected get cctx(): binding.CCtx {
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

  /**
   * Output is pushed a whole buffer at a time. zstd emits about one compressed block (a few
   * dozen KiB) per call, and pushing each as a slice pinned the whole OUT_SIZE buffer behind it
   * until a garbage collection: V8 collects for such external memory only after tens of MiB of
   * it, so a backup's threads each held 20-37 MiB of dead output buffers (measured on 500
   * tables, 2026-12-01).
   */
  protected compress(src: Buffer, end: binding.EndDirective): void {
    const flushing = end !== binding.EndDirective.continue;
    for (;;) {
      const [remaining, produced, consumed] = this.cctx.compressStream2(this.out.subarray(this.filled), src, end);
      this.filled += produced;
      const done = flushing && remaining === 0;
      if (OUT_SIZE - this.filled < MIN_ROOM || (done && this.filled > 0)) {
        this.push(this.out.subarray(0, this.filled));
        this.out = Buffer.allocUnsafe(OUT_SIZE);
        this.filled = 0;
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (!flushing || done)) return;
    }
  }
}

/**
 * Output buffer of this thread's framed streams: compress2 runs synchronously, so one serves
 * them all until a frame fills more than half of it (see FramedZstdCompressStream.frame).
 */
let frameScratch: Buffer | null = null;

/**
 * zstd as independent frames of `frameBytes` of input, each compressed by one call (compress2)
 * from a whole buffer. Why: a stream copies its input into a ring buffer the size of its window,
 * and once that wraps, matches are searched across its two pieces (zstd's "extDict" variant of
 * the match finder, two thirds of a page-image backup's compression time in a profile). Measured
 * on a SQLite page image at level 1, one core (2026-12-02): streaming 253-276 MiB/s, 1 MiB frames
 * 276-281 MiB/s, 4 MiB frames 294-314 MiB/s, for 0.1-0.3% more bytes, each frame starting without history (the window at
 * level 1 is 512 KiB). Readers get concatenated zstd frames, which every zstd decoder reads as one
 * stream, this project's included. Used where compression is most of the work and few streams run
 * at once (page images): it holds up to a frame of input per stream.
 */
export class FramedZstdCompressStream extends ZstdCompressStream {
  /** Input not yet compressed, at most one frame's worth once `compress` returns. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private framesWritten = 0;

  constructor(
    level: number,
    private readonly frameBytes: number,
  ) {
    super(level);
    if (!Number.isInteger(frameBytes) || frameBytes < 1)
      throw new RangeError(`frame size must be a positive integer, got ${frameBytes}`);
  }

  protected override compress(src: Buffer, end: binding.EndDirective): void {
    if (src.length > 0) {
      this.held.push(src);
      this.heldBytes += src.length;
    }
    while (this.heldBytes >= this.frameBytes) this.frame(this.takeHeld(this.frameBytes));
    // An empty input still makes one (empty) frame, as a stream would.
    if (end !== binding.EndDirective.continue && (this.heldBytes > 0 || this.framesWritten === 0))
      this.frame(this.takeHeld(this.heldBytes));
  }

  /** The first `n` held bytes, as one buffer: a slice when one input chunk holds them (no copy). */
  private takeHeld(n: number): Buffer {
    const first = this.held[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.held.shift();
      else this.held[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
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
    const n = this.cctx.compress2(frameScratch, src);
    this.framesWritten++;
    // A frame that filled most of the buffer (incompressible input) is handed on in it, and the
    // next frame gets a new one: copying it would move as many bytes again. A smaller frame is
    // copied out at its size, so a well compressed frame never pins a buffer several times its size.
    if (n > frameScratch.length / 2) {
      this.push(frameScratch.subarray(0, n));
      frameScratch = null;
    } else {
      this.push(Buffer.from(frameScratch.subarray(0, n)));
    }
  }
}

/** zstd whose level is chosen from the part's first PROBE_BYTES (see the top of this file). */
export class AdaptiveZstdCompressStream extends ZstdCompressStream {
  /** The first bytes, held until the level is chosen; null once it is. */
  private probe: Buffer[] | null = [];
  private probeBytes = 0;
  private chosen: number | null = null;

  constructor(private readonly defaultLevel: number) {
    super(null);
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
    this.compress(held, binding.EndDirective.continue);
  }
}
