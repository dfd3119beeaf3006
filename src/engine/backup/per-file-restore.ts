/**
 * A scoped restore's files: some files of the roots, never whole directories (a root holds
 * every other scope's files too). They are staged exactly like a whole-directory restore
 * (`<root>.strongroom-stage-<token>`, under the same journal), but once the decision is taken
 * each staged file is renamed over its live path one by one, and the files the restore drops
 * (named by rows a `replace` deleted and by no row left) are unlinked. Every step is repeatable:
 * a file already moved in is no longer staged, an unlinked one is gone, so a crash anywhere
 * after the decision is finished by running the same step again (file-restore-journal.ts).
 *
 * Nothing is ever written through something an attacker could plant in a live root: every
 * component of a destination is looked at with lstat from the root down, and a symbolic link,
 * a device, a FIFO, a socket, a file with other hard links, or anything but a directory where
 * a directory is needed refuses the path. These checks run before the database commit (so a
 * restore that cannot write its files is refused whole) and again right before each rename.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** How staged files meet live ones: `missing-only` never replaces a file that exists. */
export type PerFileMode = 'replace' | 'merge' | 'missing-only';

/** Why a live path cannot be written or removed, or null when it can. */
export type PathProblem = string | null;

/**
 * A path as a scope's files column names it, split into plain segments; null for anything a
 * restore must never interpret (absolute, `..`, `.`, empty segments, backslashes, NUL).
 */
export function safeSegments(path: string): string[] | null {
  if (typeof path !== 'string' || !path || path.length > 4096) return null;
  if (path.startsWith('/') || path.includes('\\') || path.includes('\0')) return null;
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  return segments;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function describe(st: Awaited<ReturnType<typeof lstat>>): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a file';
  return 'a device, FIFO or socket';
}

/**
 * Checks `root/segments` from the root down: every parent must be a real directory (or not
 * exist yet), the last component absent or a regular file with no other hard link. The root
 * itself must be a directory that is not a symbolic link (or not exist yet).
 */
export async function checkLivePath(root: string, segments: string[]): Promise<PathProblem> {
  let path = root;
  const rootSt = await lstatOrNull(root);
  if (rootSt && (rootSt.isSymbolicLink() || !rootSt.isDirectory())) return `${root} is ${describe(rootSt)}`;
  if (!rootSt) return null;
  for (const s of segments.slice(0, -1)) {
    path = join(path, s);
    const st = await lstatOrNull(path);
    if (!st) return null; // created as a fresh directory when the file moves in
    if (st.isSymbolicLink() || !st.isDirectory()) return `${path} is ${describe(st)}, not a directory`;
  }
  const target = join(path, segments[segments.length - 1]);
  const st = await lstatOrNull(target);
  if (!st) return null;
  if (!st.isFile()) return `${target} is ${describe(st)}`;
  if (st.nlink > 1) return `${target} has other hard links`;
  return null;
}

/** Creates the missing directories of `root/segments[..-1]` (each checked not to be a link) and returns the parent. */
async function ensureParent(root: string, segments: string[], made: Set<string>): Promise<string> {
  let path = root;
  for (const s of ['', ...segments.slice(0, -1)]) {
    path = s ? join(path, s) : path;
    try {
      await mkdir(path, { mode: 0o755 });
      made.add(dirname(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const st = await lstat(path);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${path} is ${describe(st)}, not a directory`);
  }
  return path;
}

/** Every regular file under a staging directory, as path segments below it. */
export async function stagedFiles(staging: string): Promise<string[][]> {
  const out: string[][] = [];
  const walk = async (dir: string, prefix: string[]) => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const name of names) {
      const st = await lstat(join(dir, name));
      if (st.isDirectory()) await walk(join(dir, name), [...prefix, name]);
      else if (st.isFile()) out.push([...prefix, name]);
    }
  };
  await walk(staging, []);
  return out;
}

/**
 * Before the commit: every staged file's live destination and every path to remove, checked.
 * Returns the problems (empty when the restore may proceed).
 */
export async function precheckPerFile(roots: { live: string; staging: string }[], remove: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const r of roots) {
    for (const segs of await stagedFiles(r.staging)) {
      const p = await checkLivePath(r.live, segs);
      if (p) problems.push(p);
    }
    for (const rel of remove) {
      const segs = safeSegments(rel);
      if (!segs) continue;
      const p = await checkLivePath(r.live, segs);
      if (p) problems.push(p);
    }
  }
  return problems;
}

export interface PerFileOutcome {
  written: number;
  removed: number;
  /** Paths left as they were because they turned unsafe between the check and the move. */
  skipped: string[];
}

/**
 * Moves every staged file over its live path (missing-only: only where none exists) and
 * unlinks the files to remove; repeatable after a crash. Parent directories touched are synced
 * at the end, so the moves are durable before the journal goes.
 */
export async function moveStagedFilesIn(
  roots: { live: string; staging: string }[],
  mode: PerFileMode,
  remove: string[],
): Promise<PerFileOutcome> {
  const outcome: PerFileOutcome = { written: 0, removed: 0, skipped: [] };
  const touched = new Set<string>();
  for (const r of roots) {
    for (const segs of await stagedFiles(r.staging)) {
      const staged = join(r.staging, ...segs);
      const problem = await checkLivePath(r.live, segs);
      if (problem) {
        outcome.skipped.push(problem);
        await rm(staged, { force: true });
        continue;
      }
      const live = join(r.live, ...segs);
      if (mode === 'missing-only' && (await lstatOrNull(live))) {
        await rm(staged, { force: true });
        continue;
      }
      const parent = await ensureParent(r.live, segs, touched);
      // rename replaces the directory entry: nothing is written through whatever was there.
      await rename(staged, live);
      touched.add(parent);
      outcome.written++;
    }
    for (const rel of remove) {
      const segs = safeSegments(rel);
      if (!segs) continue;
      const live = join(r.live, ...segs);
      const st = await lstatOrNull(live);
      if (!st) continue;
      const problem = await checkLivePath(r.live, segs);
      if (problem) {
        outcome.skipped.push(problem);
        continue;
      }
      try {
        await unlink(live);
        outcome.removed++;
        touched.add(dirname(live));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
  for (const dir of touched) await syncDirectory(dir).catch(() => undefined);
  return outcome;
}

/** Which of `paths` (files column values) exist as regular files under some root: what a removal would unlink. */
export async function existingFiles(roots: string[], paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const segs = safeSegments(p);
    if (!segs) continue;
    for (const root of roots) {
      const st = await lstatOrNull(join(root, ...segs));
      if (st?.isFile() && !(await checkLivePath(root, segs))) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
