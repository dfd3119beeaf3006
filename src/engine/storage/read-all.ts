/**
 * Reads a small object (a manifest, a scope's key list, a file list) whole. Kept apart from the
 * backup writer so that a restore, which needs only this, does not load the writer and the tar
 * packer behind it at start (about 16 ms of a scoped restore's 0.35 s).
 */
import type { Readable } from 'node:stream';

/** The stream's bytes; fails once they pass `limit`, so a hostile object cannot exhaust memory. */
export async function readAll(stream: Readable, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error(`object larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
