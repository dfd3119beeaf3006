/**
 * A backup as one file: a tar holding every part the manifest lists, then `manifest.json`
 * last, so a reader streaming it gets the commit point after everything it commits to.
 * Importing is the dangerous direction; everything lands in a quarantine directory first, and
 * anything odd (unsafe names, links, duplicates, extra or missing entries, oversize input)
 * rejects the whole archive and removes what was written.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { StorageNotFoundError, type BackupStorage } from '../storage/storage';
import { ArchiveError } from './errors';
import { isValidPartName, listParts, parseManifest } from './manifest';
import { MANIFEST_FILE, type Manifest } from './manifest.types';
import { partKey } from './part-io';

/** Manifests are held in memory to be parsed; a real one is far below this. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

type EntryHeader = Partial<tar.Header> & Pick<tar.Header, 'name'>;

/** Waits until a streamx stream (tar-stream's kind, not Node's) can take more data, or has closed. */
function drainedOrClosed(stream: {
  on(e: string, f: () => void): unknown;
  off(e: string, f: () => void): unknown;
}): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

async function readCapped(source: AsyncIterable<unknown>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new ArchiveError('invalid-archive', `${what} is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads and checks `<dir>/manifest.json`. */
export async function readManifest(
  storage: BackupStorage,
  dir: string,
): Promise<{ manifest: Manifest; bytes: Buffer }> {
  let body: Readable;
  try {
    body = await storage.get(partKey(dir, MANIFEST_FILE));
  } catch (err) {
    if (err instanceof StorageNotFoundError)
      throw new ArchiveError('missing-part', `backup ${dir} has no manifest`, MANIFEST_FILE);
    throw err;
  }
  const bytes = await readCapped(body, MAX_MANIFEST_BYTES, MANIFEST_FILE);
  return { manifest: parseManifest(bytes), bytes };
}

/** Writes `source` into a tar-stream (streamx) entry, waiting whenever the tar reader is behind. */
async function writeEntry(
  pack: tar.Pack,
  header: EntryHeader,
  source: AsyncIterable<unknown> | Iterable<unknown>,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    // When the reader goes away the pack is destroyed; stop instead of waiting forever with the
    // part's storage stream open.
    const onClose = () => reject(new Error(`archive stream closed while writing ${header.name}`));
    pack.once('close', onClose);
    const entry = pack.entry(header, (err) => {
      pack.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
    let closed = false;
    entry.once('close', () => (closed = true));
    void (async () => {
      for await (const chunk of source) {
        // Leaving the loop destroys `source`, which releases the storage stream.
        if (closed) return;
        if (!entry.write(chunk as Buffer)) {
          await drainedOrClosed(entry);
          if (closed) return;
        }
      }
      entry.end(null);
    })().catch((err: unknown) => {
      entry.destroy(err as Error);
      reject(err);
    });
  });
}

/**
 * Streams the backup in `dir` as one tar: each listed part (in manifest order), then the
 * manifest. Fails the stream if the manifest is bad or a part is missing or has another size.
 */
export function packArchive(storage: BackupStorage, dir: string): Readable {
  const pack = tar.pack();
  void (async () => {
    const { manifest, bytes } = await readManifest(storage, dir);
    const mtime = new Date(manifest.finishedAt);
    const header = (name: string, size: number): EntryHeader => ({ name, size, mode: 0o600, mtime, type: 'file' });
    for (const part of listParts(manifest)) {
      const key = partKey(dir, part.name);
      const info = await storage.stat(key);
      if (!info) throw new ArchiveError('missing-part', 'is missing from storage', part.name);
      if (info.size !== part.size) {
        throw new ArchiveError(
          'size-mismatch',
          `stored size is ${info.size} bytes, the manifest records ${part.size}`,
          part.name,
        );
      }
      await writeEntry(pack, header(part.name, part.size), await storage.get(key));
    }
    await writeEntry(pack, header(MANIFEST_FILE, bytes.length), [bytes]);
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return Readable.from(pack, { objectMode: false });
}

export interface UnpackOptions {
  /** Upper bound on the archive's size in bytes (the tar stream itself). */
  maxBytes?: number;
}

function reject(message: string, part?: string): ArchiveError {
  return new ArchiveError('invalid-archive', message, part);
}

/**
 * Extracts an archive into `<quarantineDir>/parts/...` and returns its checked manifest. The
 * manifest itself is not written: the caller verifies the parts, moves them into place and
 * stores the manifest last (its commit point). On any failure, every object this call wrote is
 * deleted before it rejects.
 */
export async function unpackArchive(
  input: Readable,
  storage: BackupStorage,
  quarantineDir: string,
  opts: UnpackOptions = {},
): Promise<Manifest> {
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const extract = tar.extract();
  const written: string[] = [];
  const seen = new Set<string>();
  const digests = new Map<string, { bytes: number; sha256: string }>();
  let manifest: Manifest | null = null;
  let inputError: unknown = null;
  let entryError: unknown = null;

  // Fed by hand rather than with stream.pipeline: tar-stream's streams are streamx, not Node's.
  let extractClosed = false;
  extract.once('close', () => (extractClosed = true));
  const feeding = (async () => {
    let total = 0;
    try {
      for await (const chunk of input) {
        if (extractClosed) return;
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw reject(`archive is larger than the ${maxBytes}-byte limit`);
        if (!extract.write(chunk as Buffer)) {
          await drainedOrClosed(extract);
          if (extractClosed) return;
        }
      }
      extract.end(null);
    } catch (err) {
      inputError = err;
      extract.destroy(err as Error);
    }
  })();

  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (type !== 'file' && type !== 'contiguous-file') {
        throw reject(`entry ${JSON.stringify(name)} is a ${String(type)}; archives hold only regular files`);
      }
      if (name !== MANIFEST_FILE && !isValidPartName(name))
        throw reject(`entry ${JSON.stringify(name)} has an unsafe or unexpected name`);
      if (seen.has(name)) throw reject(`entry ${JSON.stringify(name)} appears twice`);
      seen.add(name);
      if (seen.size > MAX_ENTRIES) throw reject(`archive has more than ${MAX_ENTRIES} entries`);

      if (name === MANIFEST_FILE) {
        if ((size ?? 0) > MAX_MANIFEST_BYTES)
          throw reject(`${MANIFEST_FILE} is larger than ${MAX_MANIFEST_BYTES} bytes`);
        manifest = parseManifest(await readCapped(entry, MAX_MANIFEST_BYTES, MANIFEST_FILE));
        for (const earlier of digests.keys()) assertListed(manifest, earlier);
        continue;
      }
      if (manifest) assertListed(manifest, name);
      const key = partKey(quarantineDir, name);
      written.push(key);
      const hash = createHash('sha256');
      let bytes = 0;
      const hashed = Readable.from(
        (async function* () {
          try {
            for await (const chunk of entry) {
              hash.update(chunk as Buffer);
              bytes += (chunk as Buffer).length;
              yield chunk as Buffer;
            }
          } catch (err) {
            // Storage will report this as a failed write; remember it was the archive's fault.
            entryError = err;
            throw err;
          }
        })(),
        { objectMode: false },
      );
      await storage.put(key, hashed);
      digests.set(name, { bytes, sha256: hash.digest('hex') });
    }
    await feeding;
    if (inputError) throw inputError;
    if (!manifest) throw reject(`archive has no ${MANIFEST_FILE}: not a Strongroom backup, or cut short`);
    for (const part of listParts(manifest)) {
      const got = digests.get(part.name);
      if (!got) throw new ArchiveError('missing-part', 'is listed in the manifest but not in the archive', part.name);
      if (got.bytes !== part.size) {
        throw new ArchiveError(
          'size-mismatch',
          `archive entry has ${got.bytes} bytes, the manifest records ${part.size}`,
          part.name,
        );
      }
      if (got.sha256 !== part.sha256) {
        throw new ArchiveError(
          'checksum-mismatch',
          `archive entry SHA-256 is ${got.sha256}, the manifest records ${part.sha256}`,
          part.name,
        );
      }
    }
    return manifest;
  } catch (err) {
    extract.destroy(new Error('archive import stopped'));
    input.destroy();
    await feeding;
    await Promise.all(written.map((key) => storage.delete(key).catch(() => undefined)));
    if (inputError) throw inputError;
    if (err instanceof ArchiveError) throw err;
    const cause = entryError ?? err;
    // What is left came from the tar parser (bad header, cut short) or from storage itself.
    if (!entryError && isStorageError(err)) throw err;
    throw reject(`not a valid tar archive (${describe(cause)})`);
  }
}

function assertListed(manifest: Manifest, name: string): void {
  if (!listParts(manifest).some((p) => p.name === name))
    throw reject(`entry ${JSON.stringify(name)} is not listed in the manifest`);
}

function describe(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as Error).message === 'string'
    ? (err as Error).message
    : String(err);
}

function isStorageError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /Storage|S3|InvalidStorageKey/.test(name);
}
