/**
 * What a file-artefact tar may hold. Archives are untrusted input wherever they come from
 * (an import, a storage bucket someone else can write, a file handed to the CLI), and an
 * unencrypted one can be forged byte for byte. So every entry must be a regular file or a
 * directory named `<rootIndex>/<relative path>` with plain path segments: links, devices,
 * FIFOs, absolute paths and `.`/`..` segments are refused, never interpreted. Restore and
 * verify apply the same rules, so an archive verify calls sound is one a restore accepts.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as tar from 'tar-stream';
import type { FileStats } from './file-artefacts';

/**
 * tar-stream, loaded at first use: every backup and restore imports the file-archive modules,
 * few read or write a file archive (loading it took 8-14 ms of every process's start).
 */
export function tarStream(): typeof tar {
  return require('tar-stream') as typeof tar;
}

export class FileArchiveEntryError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`file archive entry ${JSON.stringify(entry.slice(0, 300))} ${reason}; nothing was restored from it`);
    this.name = 'FileArchiveEntryError';
  }
}

export interface CheckedEntry {
  kind: 'file' | 'directory';
  root: number;
  /** Path segments under the root; empty for the root directory itself. */
  segments: string[];
  /** Permission bits only: setuid, setgid and sticky bits are never restored. */
  mode: number;
  size: number;
  mtime?: Date;
}

const ROOT_INDEX = /^(0|[1-9][0-9]{0,5})$/;

/** Checks one tar header against the rules above; throws naming the entry. */
export function checkEntry(header: tar.Header, rootCount: number): CheckedEntry {
  const name = header.name;
  const type = header.type;
  const kind = type === 'file' || type === 'contiguous-file' ? 'file' : type === 'directory' ? 'directory' : null;
  if (!kind)
    throw new FileArchiveEntryError(
      name,
      `is a ${String(type)}; file archives hold only regular files and directories`,
    );
  if (name.includes('\0')) throw new FileArchiveEntryError(name, 'has a NUL byte in its name');
  if (name.startsWith('/')) throw new FileArchiveEntryError(name, 'is an absolute path');
  // Directories carry one trailing slash; anything else must be a plain relative path.
  const body = kind === 'directory' && name.endsWith('/') ? name.slice(0, -1) : name;
  const [first, ...segments] = body.split('/');
  if (!ROOT_INDEX.test(first) || Number(first) >= rootCount) {
    throw new FileArchiveEntryError(
      name,
      `is outside the backup's ${rootCount} file director${rootCount === 1 ? 'y' : 'ies'}`,
    );
  }
  for (const s of segments) {
    if (s === '..') throw new FileArchiveEntryError(name, 'has a ".." path segment');
    if (s === '' || s === '.') throw new FileArchiveEntryError(name, 'has an empty or "." path segment');
  }
  if (kind === 'file' && segments.length === 0)
    throw new FileArchiveEntryError(name, 'is a file in place of a file directory');
  return {
    kind,
    root: Number(first),
    segments,
    mode: (header.mode ?? (kind === 'file' ? 0o644 : 0o755)) & 0o777,
    size: header.size ?? 0,
    mtime: header.mtime,
  };
}

/**
 * Reads a whole file-artefact tar and checks every entry without writing anything: the file
 * part's share of verify. Also refuses an entry named twice, and counts that differ from the
 * manifest's (when given).
 */
export async function inspectFileArchive(
  source: NodeJS.ReadableStream,
  rootCount: number,
  expected?: Pick<FileStats, 'count' | 'bytes'>,
  /** Called with every file entry's root index and path below it (a dry run lists them). */
  onFile?: (root: number, path: string) => void,
): Promise<FileStats> {
  const extract = tarStream().extract();
  const seen = new Set<string>();
  const stats: FileStats = { count: 0, bytes: 0 };
  extract.on('entry', (header, stream, next) => {
    try {
      const e = checkEntry(header, rootCount);
      const key = `${e.root}/${e.segments.join('/')}`;
      if (seen.has(key)) throw new FileArchiveEntryError(header.name, 'appears twice');
      seen.add(key);
      if (e.kind === 'file') {
        onFile?.(e.root, e.segments.join('/'));
        stats.count++;
        stats.bytes += e.size;
      }
    } catch (err) {
      // The entry stream is torn down with this error too; it is reported once, by the pipeline.
      stream.on('error', () => undefined);
      stream.resume();
      next(err as Error);
      return;
    }
    stream.on('end', () => next());
    stream.resume();
  });
  await pipeline(source, extract as unknown as Writable);
  if (expected && (expected.count !== stats.count || expected.bytes !== stats.bytes)) {
    throw new Error(
      `file archive holds ${stats.count} files (${stats.bytes} bytes), the manifest records ${expected.count} (${expected.bytes} bytes)`,
    );
  }
  return stats;
}
