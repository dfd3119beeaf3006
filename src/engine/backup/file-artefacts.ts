/**
 * File artefacts travel as one tar stream inside a backup part. Entries are named
 * `<rootIndex>/<path relative to that root>` so that restoring needs no absolute paths
 * from the archive. Only regular files and directories are archived: symbolic links,
 * sockets, FIFOs and devices under BACKUP_FILE_PATHS are skipped (never followed) and listed
 * in the manifest, so an archive never needs to hold anything a restore could be tricked by
 * (see file-entry-rules.ts). Permission bits and modification times are kept.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, utimes, chmod, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as tar from 'tar-stream';
import { checkEntry, FileArchiveEntryError, tarStream } from './file-entry-rules';
import {
  beginSwapPlan,
  dropOldCopies,
  leavePlan,
  markPrepared,
  markSwapping,
  moveFilesIn,
  recordCommitToken,
  recordRemovals,
  recoverInterruptedFileRestores,
  rollBack,
  swapAll,
  syncDir,
  type CommitRef,
  type CommitResolver,
  type PerFilePlan,
  type SwapHook,
  type SwapJournal,
} from './file-restore-journal';

export interface SkippedFile {
  /** The path on disk, under one of BACKUP_FILE_PATHS. */
  path: string;
  type: 'symlink' | 'socket' | 'fifo' | 'character-device' | 'block-device' | 'unknown';
}

export interface FileStats {
  count: number;
  bytes: number;
  /** A scoped restore: files unlinked (named only by rows the restore removed). */
  removed?: number;
  /** Entries under the roots that were not archived (packing only). */
  skipped?: { count: number; entries: SkippedFile[] };
}

/** The manifest lists at most this many skipped paths (and always their count). */
const MAX_SKIPPED_LISTED = 100;

function kindOf(st: {
  isSymbolicLink(): boolean;
  isSocket(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): SkippedFile['type'] {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isSocket()) return 'socket';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

/**
 * Streams every file under `roots` as a tar archive; `stats()` is final once the stream ended.
 * With `only` (paths relative to a root, as a scope's files column holds them), just those files
 * and their directories: each path is looked up under every root, and one that escapes its root
 * or is found under none is left out.
 */
export function packFileArtefacts(roots: string[], only?: string[]): { stream: Readable; stats(): FileStats } {
  const pack = tarStream().pack();
  const stats: FileStats = { count: 0, bytes: 0 };
  const skipped: FileStats['skipped'] = { count: 0, entries: [] };
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

  const skip = (path: string, type: SkippedFile['type']) => {
    skipped.count++;
    if (skipped.entries.length < MAX_SKIPPED_LISTED) skipped.entries.push({ path, type });
  };

  async function addFile(name: string, full: string): Promise<void> {
    // Opened without following a link, and checked again on the open file: a file swapped for
    // a link or a FIFO after the directory was listed is skipped, never followed or blocked on.
    let fh: FileHandle;
    try {
      fh = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') return skip(full, 'symlink');
      throw e;
    }
    let handedOver = false;
    try {
      const st = await fh.stat();
      if (!st.isFile()) return skip(full, kindOf(st));
      const header = { name, mode: st.mode & 0o777, mtime: st.mtime, type: 'file' as const, size: st.size };
      if (st.size === 0) {
        // A file entry without data still needs its (empty) body ended, or the pack waits forever.
        await addEntry(header, Readable.from([]));
      } else {
        handedOver = true;
        await addEntry(header, fh.createReadStream({ start: 0, end: st.size - 1 }));
      }
      stats.count++;
      stats.bytes += st.size;
    } finally {
      if (!handedOver) await fh.close();
    }
  }

  async function walk(rootIndex: number, root: string, dir: string): Promise<void> {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const full = join(dir, name);
      const st = await lstat(full);
      const rel = relative(root, full).split(sep).join('/');
      if (st.isDirectory()) {
        await addEntry({ name: `${rootIndex}/${rel}`, type: 'directory', mode: st.mode & 0o777, mtime: st.mtime });
        await walk(rootIndex, root, full);
      } else if (st.isFile()) {
        await addFile(`${rootIndex}/${rel}`, full);
      } else {
        skip(full, kindOf(st));
      }
    }
  }

  async function addSelected(rootIndex: number, root: string, paths: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const p of paths) {
      const full = resolve(root, p);
      const rel = relative(root, full).split(sep).join('/');
      if (!rel || rel.startsWith('../') || rel === '..') continue;
      const st = await lstat(full).catch(() => null);
      if (!st?.isFile()) continue;
      const segments = rel.split('/');
      for (let d = 1; d < segments.length; d++) {
        const dir = segments.slice(0, d).join('/');
        if (dirs.has(dir)) continue;
        dirs.add(dir);
        const ds = await lstat(join(root, dir));
        await addEntry({ name: `${rootIndex}/${dir}`, type: 'directory', mode: ds.mode & 0o777, mtime: ds.mtime });
      }
      await addFile(`${rootIndex}/${rel}`, full);
    }
  }

  (async () => {
    for (const [i, root] of roots.entries()) {
      const st = await lstat(root).catch(() => null);
      if (!st) throw new Error(`BACKUP_FILE_PATHS entry ${root} does not exist`);
      if (!st.isDirectory()) throw new Error(`BACKUP_FILE_PATHS entry ${root} is not a directory`);
      await addEntry({ name: `${i}/`, type: 'directory', mode: st.mode & 0o777, mtime: st.mtime });
      if (only) await addSelected(i, resolve(root), only);
      else await walk(i, resolve(root), resolve(root));
    }
    pack.finalize();
  })().catch((e: Error) => {
    pack.destroy(e);
    out.destroy(e);
  });
  return {
    stream: out,
    stats: () => ({
      ...stats,
      ...(skipped.count ? { skipped: { count: skipped.count, entries: [...skipped.entries] } } : {}),
    }),
  };
}

export interface UnpackOptions {
  /** Something worth logging that does not undo the restore (e.g. an old copy that could not be removed). */
  onWarning?(message: string): void;
  /** Test-only: called at each step of the swap, where a crash test kills the process. */
  hook?: SwapHook;
}

/**
 * Restores a file-artefact tar into `destinations[rootIndex]`, all or nothing: every root is
 * staged whole beside itself, then all are swapped in together under a journal (file-restore-journal.ts),
 * so neither a bad entry nor a crash leaves some roots new and others old. Anything the entry
 * rules forbid fails the restore before any root is touched.
 */
export async function unpackFileArtefacts(
  source: Readable,
  destinations: string[],
  opts: UnpackOptions = {},
): Promise<FileStats> {
  const staged = await stageFileArtefacts(source, destinations, opts);
  try {
    await markSwapping(staged.plan);
  } catch (e) {
    await discardStaged(staged);
    throw e;
  }
  opts.hook?.('swapping');
  try {
    await swapAll(staged.plan, opts.hook);
  } catch (e) {
    // Still in this process: undo rather than leave roots mixed. If even that fails, the journal
    // stays and the next start or restore finishes the job.
    await rollBack(staged.plan).catch((e2: Error) => {
      throw new Error(
        `${(e as Error).message}; undoing the file swap failed too (${e2.message}): the next file restore or service start completes it`,
      );
    });
    throw e;
  }
  await dropOld(staged.plan, opts);
  return staged.stats;
}

/** Every root staged beside itself under a journal, not yet swapped in. */
export interface StagedFiles {
  plan: SwapJournal;
  stats: FileStats;
}

export interface StageOptions extends UnpackOptions {
  /** Settles journals of interrupted restores that were prepared for a database commit. */
  committed?: CommitResolver;
  /** A scoped restore: files move in one by one, the roots are never swapped (per-file-restore.ts). */
  perFile?: PerFilePlan;
}

/**
 * The first half of a file restore: recovers earlier interrupted restores of these roots,
 * then extracts and checks every entry into staging directories (synced), touching no root.
 * A failure removes what was staged. Next: `commitStaged` (or `prepareStaged` first when a
 * database commit is to decide), or `discardStaged`.
 */
export async function stageFileArtefacts(
  source: Readable,
  destinations: string[],
  opts: StageOptions = {},
): Promise<StagedFiles> {
  const lives = await checkDestinations(destinations);
  // A crash of an earlier restore of these roots is finished or undone first.
  await recoverInterruptedFileRestores(lives, { strict: true, committed: opts.committed });
  const plan = await beginSwapPlan(lives, opts.perFile);
  try {
    opts.hook?.('journal-written');
    const stats = await stage(
      source,
      plan.roots.map((r) => r.staging),
    );
    opts.hook?.('staged');
    return { plan, stats };
  } catch (e) {
    source.destroy();
    await rollBack(plan).catch((e2: Error) => {
      throw new Error(
        `${(e as Error).message}; removing the staged files failed too (${e2.message}): the next file restore or service start removes them`,
      );
    });
    throw e;
  }
}

/** Hands the decision to the database restore `commit` names: its commit is the files' commit too. */
export async function prepareStaged(s: StagedFiles, commit: Omit<CommitRef, 'token'>): Promise<void> {
  await markPrepared(s.plan, { ...commit, token: null });
}

/** A per-file restore's files to unlink, journaled before the database commit that decides them. */
export function recordStagedRemovals(s: StagedFiles, remove: string[]): Promise<void> {
  return recordRemovals(s.plan, remove);
}

/** Journals the restore transaction's token before that transaction writes anything. */
export function recordStagedToken(s: StagedFiles, token: string): Promise<void> {
  return recordCommitToken(s.plan, token);
}

/**
 * Past the commit point (the database restore committed, or there is none): swaps every root
 * in. A failure here is never undone, since the tables are already new: the journal says
 * `swapping`, and the next start or file restore finishes the swap.
 */
export async function commitStaged(s: StagedFiles, opts: UnpackOptions = {}): Promise<FileStats> {
  if (s.plan.perFile) return commitPerFile(s, opts);
  try {
    if (s.plan.state !== 'swapping') await markSwapping(s.plan);
    opts.hook?.('swapping');
    await swapAll(s.plan, opts.hook);
  } catch (e) {
    leavePlan(s.plan);
    throw new Error(
      `swapping the restored file directories in failed (${(e as Error).message}); the journal beside them stays, and the next service start or file restore completes the swap`,
    );
  }
  await dropOld(s.plan, opts);
  return s.stats;
}

async function commitPerFile(s: StagedFiles, opts: UnpackOptions): Promise<FileStats> {
  try {
    if (s.plan.state !== 'swapping') await markSwapping(s.plan);
    opts.hook?.('swapping');
    const outcome = await moveFilesIn(s.plan, opts.hook);
    for (const p of outcome.skipped)
      opts.onWarning?.(`a restored file was not written: ${p} (it changed after the restore checked it)`);
    return { ...s.stats, count: outcome.written, removed: outcome.removed };
  } catch (e) {
    leavePlan(s.plan);
    throw new Error(
      `moving the restored files in failed (${(e as Error).message}); the journal beside the file directories stays, and the next service start or file restore completes it`,
    );
  }
}

/** Before the commit point: removes everything staged; every root stays as it was. */
export async function discardStaged(s: StagedFiles): Promise<void> {
  await rollBack(s.plan).catch((e: Error) => {
    leavePlan(s.plan);
    throw new Error(
      `removing the staged files failed (${e.message}): the next file restore or service start removes them`,
    );
  });
}

/** Neither swaps nor discards: the journal is left for the next recovery to decide (it asks the target). */
export function leaveStaged(s: StagedFiles): void {
  leavePlan(s.plan);
}

async function dropOld(plan: SwapJournal, opts: UnpackOptions): Promise<void> {
  try {
    await dropOldCopies(plan, opts.hook);
  } catch (e) {
    opts.onWarning?.(
      `the files were restored, but removing the previous copies failed (${(e as Error).message}); the next file restore or service start removes them`,
    );
  }
}

/** Resolved, distinct, not nested in each other, and each either absent or a real directory. */
async function checkDestinations(destinations: string[]): Promise<string[]> {
  if (!destinations.length) throw new Error('no file directories to restore into');
  const lives = destinations.map((d) => resolve(d));
  for (const [i, a] of lives.entries()) {
    for (const b of lives.slice(i + 1)) {
      if (a === b || b.startsWith(a + sep) || a.startsWith(b + sep)) {
        throw new Error(`file directories ${a} and ${b} overlap; each must be restored as a separate directory`);
      }
    }
    const st = await lstat(a).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st && !st.isDirectory())
      throw new Error(
        `file directory ${a} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; it is never replaced`,
      );
  }
  // A disaster restore may run on a machine where the directories never existed; their journal,
  // staged and old copies live beside them, so the parent must exist first.
  for (const live of lives) await mkdir(dirname(live), { recursive: true });
  return lives;
}

/** Writes every entry into fresh staging directories (created here, so nothing in them can redirect a write). */
async function stage(source: Readable, staging: string[]): Promise<FileStats> {
  for (const s of staging) await mkdir(s, { mode: 0o700 }); // not recursive: an existing path (or link) fails
  const stats: FileStats = { count: 0, bytes: 0 };
  const seen = new Set<string>();
  const written: string[] = [];
  // Directories get their own mode and time once everything inside them is written.
  const dirs = new Map<string, { mode: number; mtime?: Date }>();
  staging.forEach((s) => dirs.set(s, { mode: 0o755 }));

  const ensureDir = async (base: string, segments: string[], entry: string): Promise<string> => {
    let path = base;
    for (const s of segments) {
      path = join(path, s);
      if (dirs.has(path)) continue;
      try {
        await mkdir(path, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const st = await lstat(path);
        if (!st.isDirectory())
          throw new FileArchiveEntryError(
            entry,
            `needs ${path} to be a directory, but it is ${st.isSymbolicLink() ? 'a symbolic link' : 'a file'}`,
          );
      }
      dirs.set(path, { mode: 0o755 });
    }
    return path;
  };

  const extract = tarStream().extract();
  extract.on('entry', (header, stream, next) => {
    void (async () => {
      const e = checkEntry(header, staging.length);
      const key = `${e.root}/${e.segments.join('/')}`;
      if (seen.has(key)) throw new FileArchiveEntryError(header.name, 'appears twice');
      seen.add(key);
      const base = staging[e.root];
      if (e.kind === 'directory') {
        const path = await ensureDir(base, e.segments, header.name);
        dirs.set(path, { mode: e.mode, mtime: e.mtime });
        stream.resume();
        return;
      }
      const parent = await ensureDir(base, e.segments.slice(0, -1), header.name);
      const target = join(parent, e.segments[e.segments.length - 1]);
      let fh: FileHandle;
      try {
        // O_EXCL fails on anything already there, a link included; O_NOFOLLOW is belt and braces.
        fh = await open(
          target,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new FileArchiveEntryError(header.name, 'would overwrite a path already restored');
        throw err;
      }
      try {
        for await (const chunk of stream) {
          const buf = chunk as Buffer;
          for (let off = 0; off < buf.length;) off += (await fh.write(buf, off)).bytesWritten;
        }
        await fh.chmod(e.mode);
        if (e.mtime) await fh.utimes(e.mtime, e.mtime);
      } finally {
        await fh.close();
      }
      written.push(target);
      stats.count++;
      stats.bytes += e.size;
    })().then(
      () => next(),
      (err: Error) => {
        stream.on('error', () => undefined);
        stream.resume();
        next(err);
      },
    );
  });
  await pipeline(source, extract as unknown as Writable);
  // Durable before the journal says "swapping": synced together at the end, several at a time,
  // so the file system can commit them in batches (twice as fast as one by one while writing).
  await forEachLimit(written, 16, async (path) => {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  // Deepest first, so a read-only directory is made so only after everything under it.
  const ordered = [...dirs.entries()].sort((a, b) => b[0].length - a[0].length);
  for (const [path] of ordered) await syncDir(path);
  for (const [path, d] of ordered) {
    await chmod(path, d.mode);
    if (d.mtime) await utimes(path, d.mtime, d.mtime);
  }
  return stats;
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
