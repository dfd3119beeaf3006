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

/** The level a page image's segments are compressed at: the configured one, else the image's own default. */
export function pageImageLevel(compression: Compression, configured: number | undefined): number | undefined {
  if (configured !== undefined) return configured;
  return compression === 'zstd' ? PAGE_IMAGE_ZSTD_LEVEL : undefined;
}

/**
 * Segments are small enough that the two lanes finish close together, and large enough that
 * their count (and the manifest) stays small: about eight per image, 4 to 64 MiB, whole pages.
 */
export function segmentBytes(imageBytes: number, pageSize: number): number {
  const target = Math.min(64 * MIB, Math.max(4 * MIB, Math.ceil(imageBytes / 8)));
  return Math.max(pageSize, Math.ceil(target / pageSize) * pageSize);
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
  const seg = segmentBytes(image.bytes, image.pageSize);
  const count = Math.max(1, Math.ceil(image.bytes / seg));
  const parts: PartInfo[] = new Array<PartInfo>(count);
  let next = 0;
  let failed = false;
  const lane = async (inline: boolean) => {
    while (!failed && next < count) {
      const i = next++;
      try {
        const start = i * seg;
        const end = Math.min(image.bytes, start + seg);
        parts[i] = await put(`parts/image-${String(i + 1).padStart(4, '0')}.pages`, start, end, inline);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const lanes = segmentLanes()
    .slice(0, count)
    .map((inline) => lane(inline));
  const settled = await Promise.allSettled(lanes);
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
