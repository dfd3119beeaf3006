/**
 * A page image in an archive (Manifest.image): written as segments through the ordinary part
 * pipeline (compression, AES-256-GCM, both digests), two segments at a time so both cores
 * compress; read back by decrypting the segments in order into a scratch file, which is then a
 * SQLite database the restore, dry-run and verify paths read their rows from.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ArchiveError } from '../archive/errors';
import type { KeyLookup } from '../archive/encryption';
import type { Compression, Manifest, ManifestImage, PartInfo } from '../archive/manifest.types';
import { openPart } from '../archive/part-io';
import type { PageImage } from '../dialects/dialect';
import type { BackupStorage } from '../storage/storage';

const MIB = 1024 * 1024;

/**
 * The zstd level of page-image segments when no level is configured: 1, where every other part
 * keeps the compression's default (3). Why: compressing the whole file is nearly all of a
 * page-image backup's CPU (stage stats: 4.9 of 6.7 s at level 3 on 253 MiB), and with both cores
 * compressing, that CPU is its wall time.
 * Measured on the benchmark's shape a (docs/benchmarking.md, "SQLite page images"): level 1
 * compresses the pages about twice as fast as level 3 (~180 against ~85 MiB/s per core) for an
 * archive about 20% larger (2.70x against 3.23x smaller than the file). Level 2 is ~1.2x faster
 * than 3; zstd's fast levels (-1, -3) gain another 15-25% in speed for a 27-39% larger archive
 * than level 1, which is not worth it. A configured level (BACKUP_COMPRESSION_LEVEL) is the
 * operator's choice and applies to the image too.
 */
export const PAGE_IMAGE_ZSTD_LEVEL = 1;

/**
 * zstd frames of a page image's segments (ZstdCompressStream): compressed from whole
 * buffers, faster than one stream per segment at level 1 for 0.1-0.3% more bytes
 * (zstd-compress.ts). The file is read in steps of the same size (file-range.ts), so each frame
 * is one read, compressed where it landed. Why 1 MiB and not 4 (a few percent faster still): with
 * 4 MiB frames and reads, a full benchmark run (2026-12-02) peaked at 296 MiB on random pages
 * (shape e) and 284 MiB on shape f, over the 256 MiB goal; 1 MiB measured 181-211 MiB, as before.
 */
export const PAGE_IMAGE_FRAME_BYTES = 1 * MIB;

/** The level a page image's segments are compressed at: the configured one, else the image's own default. */
export function pageImageLevel(compression: Compression, configured: number | undefined): number | undefined {
  if (configured !== undefined) return configured;
  return compression === 'zstd' ? PAGE_IMAGE_ZSTD_LEVEL : undefined;
}

/** The largest segment: large enough that an image's segments (and its manifest) stay few. */
const MAX_SEGMENT_BYTES = 64 * MIB;
/** The smallest, but for the image's last bytes: each segment is a stored object and a job of its own. */
const MIN_SEGMENT_BYTES = 4 * MIB;

/**
 * The size of the segment that starts `remaining` bytes before the image's end: a share of what is
 * left (guided self-scheduling), 4 to 64 MiB of whole pages, so segments shrink towards the end
 * and the lanes run out of work at about the same time. With equal segments of an eighth of the
 * image, the last one (up to 64 MiB, 0.3-0.4 s of a core) often ran alone while the other lanes
 * had finished: measured on shape f's 648 MiB image, two cores (2026-12-02).
 */
export function nextSegmentBytes(remaining: number, lanes: number, pageSize: number): number {
  const target = Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, Math.ceil(remaining / (2 * lanes))));
  return Math.min(remaining, Math.max(pageSize, Math.ceil(target / pageSize) * pageSize));
}

/** The image's checksum: SHA-256 over its segments' plaintext SHA-256 digests, in order. */
export function imageDigest(parts: PartInfo[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(Buffer.from(p.rawSha256, 'hex'));
  return h.digest('hex');
}

/** Stores bytes [start, end) of the image as the part `name`; `inline`: on this thread. */
export type PutSegment = (name: string, start: number, end: number, inline: boolean) => Promise<PartInfo>;

/**
 * The lanes writing segments at once (`inline`: on this thread). Two on part workers, which read
 * their segments themselves (file-range.ts); on a machine with no core for a second worker, a
 * third on this thread. Why three lanes for two cores: a lane stores a segment (ending in an
 * fsync) before it takes the next, and with one lane per core both cores sat idle during those
 * waits. Measured on two cores (2026-12-01, scale 1, 1 GiB of random-byte pages, shape e): one
 * worker lane and one here 7.4-7.9 s; two worker lanes and one here 6.2-6.7 s; two worker lanes
 * alone 8.1-8.3 s; four lanes 7.2-7.6 s.
 */
export function segmentLanes(cores = availableParallelism()): boolean[] {
  return cores <= 2 ? [false, false, true] : [false, false, false];
}

/**
 * Writes the image as segments, several lanes at once (segmentLanes). After a failure no new
 * segment starts, and it rejects once the running ones have settled (the caller then removes
 * the parts).
 */
export async function writePageImage(image: PageImage, put: PutSegment): Promise<ManifestImage> {
  const parts: PartInfo[] = [];
  const lanes = segmentLanes();
  // The next segment's index and first byte: a lane takes both before it awaits, so segments
  // follow each other in order whichever lane writes them.
  let next = 0;
  let offset = 0;
  let failed = false;
  const lane = async (inline: boolean) => {
    // An image of no bytes still gets its one (empty) segment.
    while (!failed && (offset < image.bytes || next === 0)) {
      const i = next++;
      const start = offset;
      const end = start + nextSegmentBytes(image.bytes - start, lanes.length, image.pageSize);
      offset = end;
      try {
        parts[i] = await put(`parts/image-${String(i + 1).padStart(4, '0')}.pages`, start, end, inline);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const running = lanes.map((inline) => lane(inline));
  const settled = await Promise.allSettled(running);
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return {
    kind: image.kind,
    pageSize: image.pageSize,
    pageCount: image.pageCount,
    bytes: image.bytes,
    sha256: imageDigest(parts),
    source: image.source,
    parts,
  };
}

export interface ScratchImage {
  /** The image as a SQLite database file. */
  file: string;
  /** Removes it (and anything SQLite put beside it). Safe to call twice. */
  remove(): void;
}

/**
 * Decrypts the image into `workDir`: every segment through every check (stored and plaintext
 * size and SHA-256, each frame's authentication), in order, then the whole against the
 * manifest's image checksum. Removed again on any failure.
 */
export async function materializeImage(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: KeyLookup | null,
  workDir: string,
): Promise<ScratchImage> {
  const image = m.image;
  if (!image) throw new Error(`backup ${m.id} has no page image`);
  const scratch = mkdtempSync(join(workDir, 'strongroom-image-'));
  const remove = () => rmSync(scratch, { recursive: true, force: true });
  const file = join(scratch, 'image.db');
  try {
    if (imageDigest(image.parts) !== image.sha256)
      throw new ArchiveError('checksum-mismatch', `its segments' checksums do not make the recorded image checksum`);
    for (const [i, part] of image.parts.entries()) {
      await pipeline(await openPart(storage, dir, part, m, keys), createWriteStream(file, { flags: i ? 'a' : 'w' }));
    }
    const size = statSync(file).size;
    if (size !== image.bytes)
      throw new ArchiveError('size-mismatch', `the page image is ${size} bytes, the manifest records ${image.bytes}`);
    return { file, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
