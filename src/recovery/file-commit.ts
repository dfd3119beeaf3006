/**
 * Tables and file artefacts restored as one commit. The files are extracted, checked and
 * synced into staging directories first; the file journal then says `prepared` and names the
 * table restore's commit marker; the database transaction commits (the commit point of both);
 * then the staged directories are swapped in. A crash anywhere is settled by asking the target
 * whether that transaction committed (the marker row on SQLite, `txid_status` on PostgreSQL:
 * Dialect.restoreCommitted, as for an interrupted recovery's status): committed, the swap is
 * rolled forward; not, the staging is removed. So tables and files are both old or both new.
 * Shared by the recovery service and the command line's disaster path (plain TypeScript).
 *
 * A scoped backup's files are restored per file (per-file-restore.ts): staged the same way, but
 * moved over their live paths one by one after the commit, and the files a `replace` drops are
 * decided inside the restore transaction and journaled before it commits. Every destination is
 * checked before the commit, so a live path that is a link (or anything but a plain file) stops
 * the whole restore rather than half of it.
 */
import { openPart } from '../engine/archive/part-io';
import { keysForManifest } from '../engine/backup/backup-keys';
import {
  commitStaged,
  discardStaged,
  leaveStaged,
  prepareStaged,
  recordStagedRemovals,
  recordStagedToken,
  stageFileArtefacts,
  type FileStats,
  type StagedFiles,
  type UnpackOptions,
} from '../engine/backup/file-artefacts';
import type { CommitResolver } from '../engine/backup/file-restore-journal';
import { createDialect, targetIdentity, type DialectOptions } from '../engine/dialects/create-dialect';
import type { Dialect, RestoreCommitMarker, RestoreMode } from '../engine/dialects/dialect';
import { checkLivePath, precheckPerFile, safeSegments } from '../engine/backup/per-file-restore';
import { RestoreError, RestoreErrorCode } from '../engine/restore/restore-error';
import type { ScopeFilesSpec, StoredBackup } from '../engine/restore/restore-backup';

/**
 * Answers for journals whose target is one of `urls` (asking that database, with a fresh
 * connection each time); null for any other target, which this caller cannot tell about.
 */
export function commitResolver(urls: string[], dialectOptions: DialectOptions = {}): CommitResolver {
  return async (c) => {
    const url = urls.find((u) => targetIdentity(u) === c.target);
    if (!url) return null;
    const dialect = createDialect(url, dialectOptions);
    try {
      return await dialect.restoreCommitted({ id: c.id, token: c.token });
    } finally {
      await dialect.close().catch(() => undefined);
    }
  };
}

/** What became of the staged files when the table restore failed. */
export type FilesAfterFailure =
  /** The transaction committed after all (the error came after it): the files were swapped in. */
  | 'committed'
  /** It did not: the staging is gone, every directory is as it was. */
  | 'rolled-back'
  /** The target could not tell: the journal stays for the next start or restore to settle. */
  | 'undecided';

export interface FileCommitOptions extends UnpackOptions {
  /** The target's URL: its identity (no credentials) goes into the journal. */
  url: string;
  /** The table restore's dialect, asked whether it committed when it fails. */
  dialect: Dialect;
  /** The commit marker's id (the recovery id; any unique id for the CLI). */
  commitId: string;
  /** Settles journals of earlier interrupted restores found beside the directories. */
  committed: CommitResolver;
  /** Directories to restore into; the ones the backup was taken from by default. */
  destinations?: string[];
  /** A scoped backup's restore mode: how its files meet the live ones (missing-only never overwrites). */
  mode?: RestoreMode;
}

function unsafePaths(problems: string[]): RestoreError {
  return new RestoreError(
    RestoreErrorCode.FileRoots,
    `the scope's files cannot be restored safely, nothing was restored: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''} (a file restore never writes through a link, a device or a file with other hard links)`,
    { paths: problems },
  );
}

export class FileCommit {
  private settled = false;

  private constructor(
    private readonly staged: StagedFiles,
    private readonly opts: FileCommitOptions,
  ) {}

  /** Stages every directory of the backup's file part and prepares the journal for the table restore's commit. */
  static async stage(b: StoredBackup, opts: FileCommitOptions): Promise<FileCommit> {
    const part = b.manifest.files.part;
    if (!part) throw new RestoreError(RestoreErrorCode.NoFiles, `backup ${b.manifest.id} holds no file artefacts`);
    const destinations = opts.destinations ?? b.manifest.files.roots;
    if (destinations.length !== b.manifest.files.roots.length) {
      throw new RestoreError(
        RestoreErrorCode.FileRoots,
        `the backup holds ${b.manifest.files.roots.length} file directories, ${destinations.length} destinations were given`,
      );
    }
    const keys = await keysForManifest(b.keys, b.manifest);
    // A scope's files are some files of the roots: never a whole-directory swap.
    const perFile = b.manifest.scope ? { mode: opts.mode ?? 'replace', remove: [] } : undefined;
    const staged = await stageFileArtefacts(await openPart(b.storage, b.dir, part, b.manifest, keys), destinations, {
      ...opts,
      perFile,
    });
    try {
      if (perFile) {
        const problems = await precheckPerFile(staged.plan.roots, []);
        if (problems.length) throw unsafePaths(problems);
      }
      await prepareStaged(staged, { id: opts.commitId, target: targetIdentity(opts.url) });
    } catch (e) {
      await discardStaged(staged);
      throw e;
    }
    return new FileCommit(staged, opts);
  }

  /**
   * For the scoped restore's spec: the live directories, and the journaling of the files its
   * replace drops (each checked first: an unsafe one fails the restore before its commit).
   */
  scopeFiles(): ScopeFilesSpec | undefined {
    if (!this.staged.plan.perFile) return undefined;
    const roots = this.staged.plan.roots.map((r) => r.live);
    return {
      roots,
      onRemovals: async (paths) => {
        const problems: string[] = [];
        for (const p of paths) {
          const segs = safeSegments(p);
          if (!segs) continue; // never a path to act on: left alone
          for (const root of roots) {
            const problem = await checkLivePath(root, segs);
            if (problem) problems.push(problem);
          }
        }
        if (problems.length) throw unsafePaths(problems);
        await recordStagedRemovals(
          this.staged,
          paths.filter((p) => safeSegments(p) !== null),
        );
      },
    };
  }

  get stats(): FileStats {
    return this.staged.stats;
  }

  /**
   * The marker to hand the table restore: the transaction's token (PostgreSQL) is journaled
   * before the transaction writes anything, then handed on to `onToken`.
   */
  marker(onToken?: (token: string) => Promise<void>): RestoreCommitMarker {
    return {
      id: this.opts.commitId,
      onToken: async (token) => {
        await recordStagedToken(this.staged, token);
        await onToken?.(token);
      },
    };
  }

  /** The table restore committed: the staged directories are swapped in. */
  async afterCommit(): Promise<FileStats> {
    this.settled = true;
    return commitStaged(this.staged, this.opts);
  }

  /** Nothing was committed (the table restore never began): the staging goes. */
  async discard(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await discardStaged(this.staged);
  }

  /**
   * The table restore failed. Usually nothing committed, but an error can come after the
   * commit (a dropped connection at COMMIT): the target decides, never the error.
   */
  async afterFailure(): Promise<FilesAfterFailure> {
    if (this.settled) return 'rolled-back';
    let committed: boolean | null;
    try {
      committed = await this.opts.dialect.restoreCommitted({
        id: this.opts.commitId,
        token: this.staged.plan.commit?.token ?? null,
      });
    } catch {
      committed = null;
    }
    if (committed === true) {
      await this.afterCommit();
      return 'committed';
    }
    this.settled = true;
    if (committed === false) {
      await discardStaged(this.staged);
      return 'rolled-back';
    }
    leaveStaged(this.staged);
    return 'undecided';
  }
}
