/**
 * A second copy of a stored backup in another storage (offsite), and the checksum check that
 * says whether a stored copy is whole. The copy keeps the commit point of a backup written in
 * place: parts first, each streamed (memory does not grow with the backup), then every part of
 * the copy is read back against the SHA-256 and size in the manifest, and only then the
 * manifest is written (and read back). A copy interrupted at any moment has no manifest, so
 * nothing reads it as a backup.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { listParts, parseManifest } from '../archive/manifest';
import { partKey } from '../archive/part-io';
import { type Manifest, MANIFEST_FILE } from '../archive/manifest.types';
import type { BackupStorage } from '../storage/storage';
import { readAll } from '../storage/read-all';

export interface CopyResult {
  manifest: Manifest;
  parts: number;
  bytes: number;
}

export class CopyCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyCheckError';
  }
}

/** Copies the backup in `dir` from `from` to `to` (same keys), verified by its checksums before its manifest lands. */
export async function copyBackup(
  from: BackupStorage,
  to: BackupStorage,
  dir: string,
  opts: { signal?: AbortSignal } = {},
): Promise<CopyResult> {
  const manifestKey = partKey(dir, MANIFEST_FILE);
  // The manifest's own bytes are copied (not re-serialized): its checksum and MAC stay as written.
  const manifestBytes = await readAll(await from.get(manifestKey));
  const manifest = parseManifest(manifestBytes);
  const parts = listParts(manifest);
  let bytes = 0;
  for (const part of parts) {
    opts.signal?.throwIfAborted();
    const r = await to.put(partKey(dir, part.name), await from.get(partKey(dir, part.name)), { signal: opts.signal });
    bytes += r.size;
  }
  const problems = await checkParts(to, dir, manifest, opts.signal);
  if (problems.length) throw new CopyCheckError(`the copy does not match its manifest: ${problems.join('; ')}`);
  await to.put(manifestKey, Readable.from([manifestBytes]), { signal: opts.signal });
  const back = parseManifest(await readAll(await to.get(manifestKey)));
  if (back.checksum !== manifest.checksum)
    throw new CopyCheckError(`the copied manifest reads back with checksum ${back.checksum}, not ${manifest.checksum}`);
  return { manifest, parts: parts.length, bytes: bytes + manifestBytes.length };
}

export type CopyCheck = { ok: true; manifest: Manifest } | { ok: false; problem: string };

/**
 * Whether the copy of a backup in `storage` is whole: its manifest reads and checks out, and
 * every part it lists has the recorded size and SHA-256. Reads every stored byte, streamed;
 * needs no key (the stored bytes' checksums are in the manifest). `sizesOnly` asks the storage
 * for each part's size instead (cheap: finds missing and truncated parts, not altered bytes).
 */
export async function checkCopy(
  storage: BackupStorage,
  dir: string,
  opts: { sizesOnly?: boolean; signal?: AbortSignal } = {},
): Promise<CopyCheck> {
  let manifest: Manifest;
  try {
    manifest = parseManifest(await readAll(await storage.get(partKey(dir, MANIFEST_FILE))));
  } catch (e) {
    return { ok: false, problem: `manifest: ${(e as Error).message}` };
  }
  const problems = opts.sizesOnly
    ? await checkSizes(storage, dir, manifest)
    : await checkParts(storage, dir, manifest, opts.signal);
  return problems.length ? { ok: false, problem: problems.join('; ') } : { ok: true, manifest };
}

async function checkSizes(storage: BackupStorage, dir: string, manifest: Manifest): Promise<string[]> {
  const problems: string[] = [];
  for (const part of listParts(manifest)) {
    try {
      const stat = await storage.stat(partKey(dir, part.name));
      if (!stat) problems.push(`part ${part.name}: missing`);
      else if (stat.size !== part.size)
        problems.push(`part ${part.name}: ${stat.size} bytes stored, manifest says ${part.size}`);
    } catch (e) {
      problems.push(`part ${part.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}

async function checkParts(
  storage: BackupStorage,
  dir: string,
  manifest: Manifest,
  signal?: AbortSignal,
): Promise<string[]> {
  const problems: string[] = [];
  for (const part of listParts(manifest)) {
    signal?.throwIfAborted();
    try {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await storage.get(partKey(dir, part.name))) {
        size += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      const sha = hash.digest('hex');
      if (size !== part.size) problems.push(`part ${part.name}: ${size} bytes stored, manifest says ${part.size}`);
      else if (sha !== part.sha256) problems.push(`part ${part.name}: SHA-256 ${sha} differs from the manifest's`);
    } catch (e) {
      problems.push(`part ${part.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}
