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

export const PROBE_BYTES = 256 * 1024;
/** The default level must write at most this share of level 1's bytes on the probe to be used. */
export const MIN_GAIN = 0.97;
export const FAST_LEVEL = 1;

const OUT_SIZE = binding.cStreamOutSize();
let probeCtx: binding.CCtx | undefined;

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
  protected readonly cctx = new binding.CCtx();
  private out = Buffer.allocUnsafe(OUT_SIZE);

  constructor(level: number | null) {
    super();
    if (level !== null) this.configure(level);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    settle(done, () => this.compress(chunk, binding.EndDirective.continue));
  }

  override _flush(done: TransformCallback): void {
    settle(done, () => this.compress(Buffer.alloc(0), binding.EndDirective.end));
  }

  protected configure(level: number): void {
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
    this.cctx.setParameter(binding.CParameter.checksumFlag, 1);
  }

  protected compress(src: Buffer, end: binding.EndDirective): void {
    const flushing = end !== binding.EndDirective.continue;
    for (;;) {
      const [remaining, produced, consumed] = this.cctx.compressStream2(this.out, src, end);
      if (produced > 0) {
        this.push(this.out.subarray(0, produced));
        this.out = Buffer.allocUnsafe(OUT_SIZE);
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (!flushing || remaining === 0)) return;
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
    settle(done, () => {
      if (this.probe) this.start(false);
      this.compress(Buffer.alloc(0), binding.EndDirective.end);
    });
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
