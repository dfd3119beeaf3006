/**
 * The compression step of the part pipeline. zstd level 3 is the default: on the benchmark's
 * rows level 1 compressed 12% worse than `pg_dump -Fc` (gzip 6), level 3 better than it, and
 * level 3 still leaves the backup well inside its wall-time goal (docs/benchmarks.md). A SQLite
 * page image, whose compression is nearly all of its backup's time, asks for level 1 instead
 * (PAGE_IMAGE_ZSTD_LEVEL in page-image-archive.ts).
 */
import type { Transform } from 'node:stream';
import { PassThrough } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { Compression } from './manifest.types';
import { AdaptiveZstdCompressStream, ZstdCompressStream } from './zstd-compress';
import { ZstdDecompressStream } from './zstd-decompress';

export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'none'];
const DEFAULT_LEVEL: Record<Compression, number> = { zstd: 3, gzip: 1, none: 0 };
const LEVEL_RANGE: Record<Compression, [number, number]> = { zstd: [1, 19], gzip: [1, 9], none: [0, 0] };

export function isCompression(value: unknown): value is Compression {
  return typeof value === 'string' && (COMPRESSIONS as readonly string[]).includes(value);
}

export interface CompressOptions {
  /**
   * zstd (gzip and none ignore it): input bytes per independent frame, each compressed in one
   * call (ZstdCompressStream, zstd-compress.ts). Absent: DEFAULT_FRAME_BYTES (2 MiB). A SQLite
   * page image's segments ask for 1 MiB (page-image-archive.ts).
   */
  frameBytes?: number;
}

/**
 * A compression step. zstd with no level given (no BACKUP_COMPRESSION_LEVEL) picks the level per
 * part from its first bytes (zstd-compress.ts): level 3, or level 1 where level 3 would not be
 * smaller.
 */
export function createCompressStream(c: Compression, level?: number, opts: CompressOptions = {}): Transform {
  const effective = level ?? DEFAULT_LEVEL[c];
  const [min, max] = LEVEL_RANGE[c];
  if (!Number.isInteger(effective) || effective < min || effective > max) {
    throw new RangeError(`compression level for ${c} must be an integer from ${min} to ${max}, got ${effective}`);
  }
  switch (c) {
    case 'zstd':
      // Every zstd stream writes zstd's own content checksum (XXH64 of the plaintext, checked by
      // every decompression): an end-to-end check of compression on every read for a few bytes
      // and ~1% of the CPU, where restores no longer hash the plaintext with SHA-256
      // (part-io.ts). Any zstd reader reads such frames, this project's earlier versions included.
      return level === undefined
        ? new AdaptiveZstdCompressStream(effective, opts.frameBytes)
        : new ZstdCompressStream(effective, opts.frameBytes);
    case 'gzip':
      return createGzip({ level: effective });
    case 'none':
      return new PassThrough();
    default:
      throw new RangeError(`unknown compression "${String(c)}" (expected one of ${COMPRESSIONS.join(', ')})`);
  }
}

export function createDecompressStream(c: Compression): Transform {
  switch (c) {
    case 'zstd':
      return new ZstdDecompressStream();
    case 'gzip':
      return createGunzip();
    case 'none':
      return new PassThrough();
    default:
      throw new RangeError(`unknown compression "${String(c)}" (expected one of ${COMPRESSIONS.join(', ')})`);
  }
}
