/**
 * File artefacts travel as one tar stream inside a backup part. Entries are named
 * `<rootIndex>/<path relative to that root>` so that restoring needs no absolute paths
 * from the archive. Symbolic links are stored as links and never followed, so nothing
 * outside the configured directories is read; modes and modification times are kept.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, utimes, chmod } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';

export interface FileStats {
  count: number;
  bytes: number;
}

/** Streams every file under `roots` as a tar archive; `stats()` is final once the stream ended. */
export function packFileArtefacts(roots: string[]): { stream: Readable; stats(): FileStats } {
  const pack = tar.pack();
  const stats: FileStats = { count: 0, bytes: 0 };
  const out = new PassThrough();
  pack.pipe(out);
  // The consumer reads `out`; errors are forwarded to it below, so pack's own are not lost.
  pack.on('error', () => undefined);

  const addEntry = (header: Partial<tar.Header> & { name: string }, body?: Readable): Promise<void> =>
    new Promise((res, rej) => {
      const entry = pack.entry(header, (err) => (err ? rej(err) : res()));
      if (body) {
        body.on('error', (e) => {
          entry.destroy(e);
          rej(e);
        });
        body.pipe(entry);
      }
    });

  async function walk(rootIndex: number, root: string, dir: string): Promise<void> {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const full = join(dir, name);
      const st = await lstat(full);
      const rel = relative(root, full).split(sep).join('/');
      const header = { name: `${rootIndex}/${rel}`, mode: st.mode & 0o7777, mtime: st.mtime };
      if (st.isSymbolicLink()) {
        await addEntry({ ...header, type: 'symlink', linkname: await readlink(full) });
      } else if (st.isDirectory()) {
        await addEntry({ ...header, type: 'directory' });
        await walk(rootIndex, root, full);
      } else if (st.isFile()) {
        await addEntry({ ...header, type: 'file', size: st.size }, createReadStream(full));
        stats.count++;
        stats.bytes += st.size;
      }
      // Sockets, FIFOs and devices are not artefacts: skipped.
    }
  }

  (async () => {
    for (const [i, root] of roots.entries()) {
      const st = await lstat(root).catch(() => null);
      if (!st) throw new Error(`BACKUP_FILE_PATHS entry ${root} does not exist`);
      if (!st.isDirectory()) throw new Error(`BACKUP_FILE_PATHS entry ${root} is not a directory`);
      await addEntry({ name: `${i}/`, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime });
      await walk(i, resolve(root), resolve(root));
    }
    pack.finalize();
  })().catch((e: Error) => {
    pack.destroy(e);
    out.destroy(e);
  });
  return { stream: out, stats: () => ({ ...stats }) };
}

/**
 * Restores a file-artefact tar into `destinations[rootIndex]`. Each root is written into a
 * fresh sibling directory and swapped in with renames only when complete, so a failure
 * leaves every destination exactly as it was.
 */
export async function unpackFileArtefacts(source: Readable, destinations: string[]): Promise<FileStats> {
  const stamp = `${process.pid}-${Date.now()}`;
  const staging = destinations.map((d) => `${resolve(d)}.strongroom-restore-${stamp}`);
  const stats: FileStats = { count: 0, bytes: 0 };
  const extract = tar.extract();
  const dirTimes: [string, Date][] = [];
  try {
    for (const s of staging) await mkdir(s, { recursive: true });
    extract.on('entry', (header, stream, next) => {
      void (async () => {
        const [idx, ...rest] = header.name.split('/');
        const base = staging[Number(idx)];
        const relPath = rest.join('/');
        if (base === undefined || relPath.split('/').includes('..') || relPath.startsWith('/')) {
          throw new Error(`archive entry ${JSON.stringify(header.name)} is outside the artefact roots`);
        }
        const target = join(base, relPath);
        const mode = header.mode ?? 0o644;
        if (header.type === 'directory') {
          await mkdir(target, { recursive: true });
          if (header.mtime) dirTimes.push([target, header.mtime]);
          stream.resume();
        } else if (header.type === 'symlink') {
          await mkdir(dirname(target), { recursive: true });
          await symlink(header.linkname ?? '', target);
          stream.resume();
        } else if (header.type === 'file') {
          await mkdir(dirname(target), { recursive: true });
          await pipeline(stream, createWriteStream(target, { mode }));
          await chmod(target, mode);
          if (header.mtime) await utimes(target, header.mtime, header.mtime);
          stats.count++;
          stats.bytes += header.size ?? 0;
        } else {
          stream.resume();
        }
      })().then(() => next(), (e: Error) => next(e));
    });
    await pipeline(source, extract);
    for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t);
    // Swap each root in whole: old -> .old, staged -> live, then drop the old copy.
    for (const [i, dest] of destinations.entries()) {
      const live = resolve(dest);
      const old = `${live}.strongroom-old-${stamp}`;
      const existed = await lstat(live).then(() => true, () => false);
      if (existed) await rename(live, old);
      await mkdir(dirname(live), { recursive: true });
      await rename(staging[i], live);
      if (existed) await rm(old, { recursive: true, force: true });
    }
    return stats;
  } catch (e) {
    for (const s of staging) await rm(s, { recursive: true, force: true });
    throw e;
  }
}
