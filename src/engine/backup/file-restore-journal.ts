/**
 * Swapping restored file directories in, all or nothing across a crash. Every root is staged
 * beside itself (`<root>.strongroom-stage-<token>`), then a journal records the decision to
 * swap, then each root is renamed aside (`<root>.strongroom-old-<token>`) and its staged copy
 * renamed in. A process killed anywhere in between leaves the journal behind; whoever runs
 * next (service boot, the next file restore, the CLI) finishes the swap when the journal says
 * `swapping` (every root was staged and synced before it said so), and rolls every root back
 * otherwise. So after recovery each root set is all old or all new, and no staged or old copy
 * is left.
 *
 * When the files belong to a database restore, the decision is not the journal's: it says
 * `prepared` once everything is staged and names the database restore's commit marker
 * (`commit`), and the database commit is the commit point of tables and files alike.
 * Recovery then asks the target whether that restore committed (the caller's `committed`),
 * rolling the swap forward if it did and back if it did not.
 *
 * The journal is `<root>.strongroom-journal` next to every root, so it is found from any of
 * them; only the first root's copy (the primary) changes state, with one atomic rename, which
 * is what makes the decision a single event across roots on different file systems.
 *
 * A scoped restore's plan (`perFile`) stages the same way but never swaps a root: rolling it
 * forward moves each staged file over its live path and unlinks the files it lists to remove
 * (per-file-restore.ts), each step repeatable; rolling it back only removes the staging, which
 * is all there is before the decision.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { moveStagedFilesIn, safeSegments, type PerFileMode, type PerFileOutcome } from './per-file-restore';

const FORMAT = 'strongroom-file-restore';
const SUFFIX = '.strongroom-';
const JOURNAL_SUFFIX = '.strongroom-journal';

export type JournalState = 'staging' | 'prepared' | 'swapping' | 'rolling-back';

/** Names the database restore whose commit decides a `prepared` swap (see RestoreCommitMarker). */
export interface CommitRef {
  /** The marker id the restore's transaction records (SQLite), e.g. the recovery id. */
  id: string;
  /** The restore transaction's token once it began (PostgreSQL: its transaction id). */
  token: string | null;
  /** The target database, without credentials (targetIdentity): a journal is only decided by its own target. */
  target: string;
}

/** Whether the restore `c` names committed: true, false, or null when it cannot be told (here). */
export type CommitResolver = (c: CommitRef) => Promise<boolean | null>;

export interface SwapRoot {
  live: string;
  staging: string;
  old: string;
}

export interface SwapJournal {
  format: typeof FORMAT;
  version: 1 | 2;
  token: string;
  pid: number;
  host: string;
  state: JournalState;
  /** Path of the journal whose state counts. */
  primary: string;
  roots: SwapRoot[];
  /** Set with state `prepared`: the database restore whose commit decides this swap. */
  commit?: CommitRef;
  /** A scoped restore: files move in one by one instead of whole roots being swapped. */
  perFile?: PerFilePlan;
}

export interface PerFilePlan {
  mode: PerFileMode;
  /** Paths relative to every root (as the scope's files column names them) to unlink. */
  remove: string[];
}

/** Test-only crash points: a hook may kill the process there (see the crash tests). */
export type SwapStep =
  'journal-written' | 'staged' | 'swapping' | 'moved-aside' | 'swapped-in' | 'all-swapped' | 'old-removed';
export type SwapHook = (step: SwapStep, root?: number) => void;

/** Plans of this process still running: their files are not leftovers. */
const active = new Set<string>();

function journalPath(live: string): string {
  return `${live}${JOURNAL_SUFFIX}`;
}

export class FileRestoreBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileRestoreBusyError';
  }
}

/** A prepared file restore whose database commit cannot be established by this caller (yet). */
export class FileRestoreUndecidedError extends FileRestoreBusyError {
  constructor(message: string) {
    super(message);
    this.name = 'FileRestoreUndecidedError';
  }
}

/** Creates the plan for `destinations` and writes its journals (state `staging`). */
export async function beginSwapPlan(destinations: string[], perFile?: PerFilePlan): Promise<SwapJournal> {
  const token = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const roots = destinations.map((d) => {
    const live = resolve(d);
    return { live, staging: `${live}${SUFFIX}stage-${token}`, old: `${live}${SUFFIX}old-${token}` };
  });
  const j: SwapJournal = {
    format: FORMAT,
    version: 2,
    token,
    pid: process.pid,
    host: hostname(),
    state: 'staging',
    primary: journalPath(roots[0].live),
    roots,
    ...(perFile ? { perFile: { mode: perFile.mode, remove: [...perFile.remove] } } : {}),
  };
  active.add(token);
  try {
    // Primary first and removed last: a secondary journal never outlives its primary.
    for (const r of roots) await writeJournal(journalPath(r.live), j);
  } catch (e) {
    await finishPlan(j).catch(() => undefined);
    throw e;
  }
  return j;
}

/** The commit point of a file restore: from here a crash completes the swap instead of undoing it. */
export async function markSwapping(j: SwapJournal): Promise<void> {
  j.state = 'swapping';
  await writeJournal(j.primary, j);
}

/**
 * Everything is staged and the decision now belongs to the database restore `commit` names:
 * from here a crash is settled by asking the target whether it committed.
 */
export async function markPrepared(j: SwapJournal, commit: CommitRef): Promise<void> {
  j.state = 'prepared';
  j.commit = { ...commit };
  await writeJournal(j.primary, j);
}

/** Keeps the restore transaction's token (known only once it began, before it writes anything). */
export async function recordCommitToken(j: SwapJournal, token: string): Promise<void> {
  if (!j.commit) throw new Error('recordCommitToken: the file restore is not prepared for a database commit');
  j.commit.token = token;
  await writeJournal(j.primary, j);
}

/**
 * A scoped restore decided, inside its transaction, which files it drops: recorded before the
 * commit, so whoever rolls the plan forward after a crash removes exactly those.
 */
export async function recordRemovals(j: SwapJournal, remove: string[]): Promise<void> {
  if (!j.perFile) throw new Error('recordRemovals: not a per-file restore');
  j.perFile.remove = [...remove];
  await writeJournal(j.primary, j);
}

/** This process stops working on `j` and leaves its journal to the next recovery (which decides it). */
export function leavePlan(j: SwapJournal): void {
  active.delete(j.token);
}

/** Moves every staged root in; then drops the old copies and the journals. */
async function rollForward(j: SwapJournal, hook?: SwapHook): Promise<void> {
  if (j.perFile) {
    await moveFilesIn(j, hook);
    return;
  }
  await swapAll(j, hook);
  await dropOldCopies(j, hook);
}

/**
 * A per-file plan past its decision: every staged file moved over its live path, the listed
 * files unlinked, then the (empty) staging and the journals removed. Repeatable after a crash.
 */
export async function moveFilesIn(j: SwapJournal, hook?: SwapHook): Promise<PerFileOutcome> {
  if (!j.perFile) throw new Error('moveFilesIn: not a per-file restore');
  try {
    const outcome = await moveStagedFilesIn(j.roots, j.perFile.mode, j.perFile.remove);
    hook?.('all-swapped');
    for (const r of j.roots) await rm(r.staging, { recursive: true, force: true });
    await finishPlan(j);
    return outcome;
  } finally {
    active.delete(j.token);
  }
}

/** The renames: undoable (rollBack) until every root is in. */
export async function swapAll(j: SwapJournal, hook?: SwapHook): Promise<void> {
  for (const [i, r] of j.roots.entries()) {
    if (!(await exists(r.staging))) continue; // swapped in before a crash
    if (await exists(r.live)) {
      if (await exists(r.old))
        throw new Error(
          `cannot finish the file restore: ${r.live}, ${r.old} and ${r.staging} all exist; resolve by hand`,
        );
      await rename(r.live, r.old);
      await syncDir(dirname(r.live));
      hook?.('moved-aside', i);
    }
    await rename(r.staging, r.live);
    await syncDir(dirname(r.live));
    hook?.('swapped-in', i);
  }
  hook?.('all-swapped');
}

/** After every root is in: the old copies go; past the point of no return, so never undone. */
export async function dropOldCopies(j: SwapJournal, hook?: SwapHook): Promise<void> {
  try {
    for (const r of j.roots) await rm(r.old, { recursive: true, force: true });
    hook?.('old-removed');
    await finishPlan(j);
  } finally {
    // Left unfinished, the journal is for the next recovery to complete, in this process too.
    active.delete(j.token);
  }
}

/** Puts every root back as it was before the plan began and removes everything it staged. */
export async function rollBack(j: SwapJournal): Promise<void> {
  // Past its decision a per-file plan has moved files over live ones: it can only go forward.
  if (j.perFile && j.state === 'swapping') return moveFilesIn(j).then(() => undefined);
  try {
    if (j.state === 'swapping') {
      j.state = 'rolling-back';
      await writeJournal(j.primary, j);
    }
    for (const r of j.roots) {
      if (await exists(r.old)) {
        // The live copy is the restored one (or a half-removed one from an earlier attempt).
        await rm(r.live, { recursive: true, force: true });
        await rename(r.old, r.live);
        await syncDir(dirname(r.live));
      }
      await rm(r.staging, { recursive: true, force: true });
    }
    await finishPlan(j);
  } finally {
    active.delete(j.token);
  }
}

async function finishPlan(j: SwapJournal): Promise<void> {
  for (const r of [...j.roots].reverse()) {
    const path = journalPath(r.live);
    if (path !== j.primary) await rm(path, { force: true });
  }
  await rm(j.primary, { force: true });
  await syncDir(dirname(j.primary)).catch(() => undefined);
  active.delete(j.token);
}

export interface FileRecoveryReport {
  /** Plans whose swap was finished (all roots new). */
  completed: string[];
  /** Plans rolled back (all roots old). */
  rolledBack: string[];
  /** Staged or old copies removed that no journal referred to (e.g. from older versions). */
  removed: string[];
  /** Plans of another live process, left alone. */
  busy: string[];
  /** Prepared plans whose database commit could not be established: left staged, with why. */
  undecided: Array<{ token: string; commitId: string; why: string }>;
  /** Commit ids (e.g. recovery ids) of prepared plans this recovery settled, with the outcome. */
  settled: Array<{ commitId: string; committed: boolean }>;
}

/**
 * Recovers from interrupted file restores touching `roots` (service boot: BACKUP_FILE_PATHS;
 * a file restore: its destinations). Journals of a process still alive on this host are left
 * alone; pass `strict` to get a FileRestoreBusyError for them instead. A `prepared` journal is
 * settled by `committed` (the database restore it names committed: roll forward; did not:
 * roll back); without an answer it stays as it is, staged copies included (strict: a
 * FileRestoreUndecidedError), since guessing either way could split tables from files.
 */
export async function recoverInterruptedFileRestores(
  roots: string[],
  opts: { strict?: boolean; committed?: CommitResolver } = {},
): Promise<FileRecoveryReport> {
  const report: FileRecoveryReport = {
    completed: [],
    rolledBack: [],
    removed: [],
    busy: [],
    undecided: [],
    settled: [],
  };
  const kept = new Set<string>();
  const lives = [...new Set(roots.map((r) => resolve(r)))];
  for (const live of lives) {
    const j = await readJournal(journalPath(live));
    if (!j) continue;
    const plan =
      j.primary === journalPath(live) ? j : ((await readJournal(j.primary)) ?? { ...j, state: 'staging' as const });
    if (plan.token !== j.token) {
      // The primary belongs to a later plan; this secondary is stale and only its own root can be affected.
      await rollBack({
        ...j,
        state: 'staging',
        primary: journalPath(live),
        roots: j.roots.filter((r) => r.live === live),
      });
      report.rolledBack.push(j.token);
      continue;
    }
    if (inUse(plan)) {
      if (opts.strict)
        throw new FileRestoreBusyError(
          `another file restore (process ${plan.pid}) is working on ${plan.roots.map((r) => r.live).join(', ')}`,
        );
      report.busy.push(plan.token);
      continue;
    }
    if (plan.state === 'prepared') {
      const verdict = await decide(plan, opts.committed);
      if (verdict.committed === null) {
        if (opts.strict)
          throw new FileRestoreUndecidedError(
            `the files of an interrupted restore are staged beside ${plan.roots.map((r) => r.live).join(', ')} and ${verdict.why}; nothing was changed`,
          );
        kept.add(plan.token);
        if (!report.undecided.some((u) => u.token === plan.token))
          report.undecided.push({ token: plan.token, commitId: plan.commit?.id ?? '?', why: verdict.why });
        continue;
      }
      report.settled.push({ commitId: plan.commit!.id, committed: verdict.committed });
      if (verdict.committed) {
        // Recorded before the first rename, so a crash during this roll-forward continues it.
        await markSwapping(plan);
        await rollForward(plan);
        report.completed.push(plan.token);
      } else {
        await rollBack(plan);
        report.rolledBack.push(plan.token);
      }
    } else if (plan.state === 'swapping') {
      await rollForward(plan);
      report.completed.push(plan.token);
    } else {
      await rollBack(plan);
      report.rolledBack.push(plan.token);
    }
  }
  for (const live of lives) report.removed.push(...(await removeStrays(live, kept)));
  return report;
}

async function decide(
  plan: SwapJournal,
  committed?: CommitResolver,
): Promise<{ committed: boolean | null; why: string }> {
  const c = plan.commit;
  if (!c) return { committed: null, why: 'its journal names no database commit' };
  if (!committed)
    return { committed: null, why: `whether restore ${c.id} of ${c.target} committed cannot be asked here` };
  try {
    const answer = await committed(c);
    return {
      committed: answer,
      why: answer === null ? `whether restore ${c.id} of ${c.target} committed cannot be established from here` : '',
    };
  } catch (e) {
    return {
      committed: null,
      why: `whether restore ${c.id} of ${c.target} committed could not be established (${(e as Error).message})`,
    };
  }
}

/**
 * Staged and old copies no journal refers to: from a crash before the journal was written, or
 * from versions that had no journal. An old copy whose root is missing is the original,
 * moved aside just before a crash: it goes back.
 */
async function removeStrays(live: string, kept: Set<string>): Promise<string[]> {
  const prefix = `${basename(live)}${SUFFIX}`;
  const names = await readdir(dirname(live)).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(stage|restore|old)-(\d+)-[0-9a-z]+$|^journal\.tmp-(\d+)-[0-9a-z]+$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[2] ?? m[3]);
    const token = name.slice(name.indexOf('-', prefix.length) + 1);
    if (active.has(token) || kept.has(token) || (pid !== process.pid && pidAlive(pid))) continue;
    const path = join(dirname(live), name);
    if (m[1] === 'old' && !(await exists(live))) {
      await rename(path, live);
      await syncDir(dirname(live));
      continue;
    }
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

function inUse(j: SwapJournal): boolean {
  if (active.has(j.token)) return true;
  return j.host === hostname() && j.pid !== process.pid && pidAlive(j.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJournal(path: string): Promise<SwapJournal | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let j: SwapJournal;
  try {
    j = JSON.parse(text) as SwapJournal;
  } catch {
    throw new Error(`${path} is not a readable file-restore journal; inspect it and the directories beside it by hand`);
  }
  // The journal names paths to rename and delete: only ever siblings of the roots it lists.
  const ok =
    j &&
    j.format === FORMAT &&
    Array.isArray(j.roots) &&
    typeof j.token === 'string' &&
    /^\d+-[0-9a-f]+$/.test(j.token) &&
    j.roots.every(
      (r) =>
        typeof r.live === 'string' &&
        r.staging === `${r.live}${SUFFIX}stage-${j.token}` &&
        r.old === `${r.live}${SUFFIX}old-${j.token}`,
    ) &&
    j.roots.length > 0 &&
    j.primary === journalPath(j.roots[0].live) &&
    (j.commit === undefined || validCommit(j.commit)) &&
    (j.perFile === undefined || validPerFile(j.perFile)) &&
    (j.state !== 'prepared' || j.commit !== undefined);
  if (!ok)
    throw new Error(`${path} is not a valid file-restore journal; inspect it and the directories beside it by hand`);
  return j;
}

function validPerFile(p: PerFilePlan): boolean {
  return (
    !!p &&
    ['replace', 'merge', 'missing-only'].includes(p.mode) &&
    Array.isArray(p.remove) &&
    p.remove.every((r) => typeof r === 'string' && safeSegments(r) !== null)
  );
}

function validCommit(c: CommitRef): boolean {
  return (
    !!c &&
    typeof c.id === 'string' &&
    /^[0-9A-Za-z-]{1,64}$/.test(c.id) &&
    typeof c.target === 'string' &&
    (c.token === null || (typeof c.token === 'string' && /^\d{1,20}$/.test(c.token)))
  );
}

async function writeJournal(path: string, j: SwapJournal): Promise<void> {
  const tmp = `${path}.tmp-${j.token}`;
  await writeFile(tmp, `${JSON.stringify(j, null, 2)}\n`, { mode: 0o600 });
  const fh = await open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Makes renames in `dir` durable (power loss, not only a killed process). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
