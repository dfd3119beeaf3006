/**
 * Restoring a stored backup into a database, as plain TypeScript (no Nest): shared by the
 * recovery service and the command line's disaster path, which runs without any
 * Strongroom database. What may be restored, and into what, is decided first by
 * preflight.ts; the dialect given here is the one the preflight opened and checked.
 */
import { ArchiveError, isArchiveError } from '../archive/errors';
import { verifyPart } from '../archive/part-io';
import type { Manifest } from '../archive/manifest.types';
import { keysForManifest, type KeySource } from '../backup/backup-keys';
import { readDatabaseDdl, readSchemaSql, restoreInputs } from '../backup/read-backup';
import { AUDIT_TABLE } from '../backup/bookkeeping-tables';
import { effectiveRestoreMode } from '../backup/restore-mode';
import { auditChainGuard } from './audit-restore-guard';
import { assertNoBookkeepingTables } from './preflight';
import { RestoreError, RestoreErrorCode } from './restore-error';
import type {
  Dialect,
  DryRunResult,
  PlanTableResult,
  RestoreChecks,
  RestoreCommitMarker,
  RestoreInput,
  RestoreIssue,
  RestoreMode,
  RestoreTableResult,
} from '../dialects/dialect';
import type { BackupStorage } from '../storage/storage';

export interface StoredBackup {
  storage: BackupStorage;
  /** Storage directory holding the backup's parts. */
  dir: string;
  manifest: Manifest;
  keys: KeySource;
}

export interface RestoreSpec extends StoredBackup {
  mode: RestoreMode;
  /** Tables in scope (already checked against the manifest by the preflight). */
  tables: string[];
  signal?: AbortSignal;
  onProgress?(p: { table: string; rows: number }): void;
  /** After the commit: something worth logging that does not undo the restore. */
  onWarning?(message: string): void;
  /** Proof of the commit left in the target, for telling a crash after it from one before. */
  commitMarker?: RestoreCommitMarker;
  /** See RestoreInput.commitGate: the last word before the commit (a cancel is decided there). */
  commitGate?(): Promise<void>;
}

/**
 * Turns a restore's progress reports into rows written so far across all tables. Tables can
 * load in parallel (PostgreSQL shadow loads), so reports of different tables interleave and
 * each carries that table's own count.
 */
export function rowTotal(): (p: { table: string; rows: number }) => number {
  const perTable = new Map<string, number>();
  let total = 0;
  return (p) => {
    total += p.rows - (perTable.get(p.table) ?? 0);
    perTable.set(p.table, p.rows);
    return total;
  };
}

/**
 * A restore into live tables never reads the backup's DDL parts, so a corrupted one would stay
 * unnoticed until the disaster restore that needs it. They are small: every restore and dry run
 * reads them through all their checks first and refuses a backup whose DDL is not sound.
 */
async function assertDdlSound(spec: RestoreSpec, keys: Awaited<ReturnType<typeof keysForManifest>>): Promise<void> {
  const { schema } = spec.manifest;
  for (const part of [schema.part, schema.postData]) {
    if (!part) continue;
    const check = await verifyPart(spec.storage, spec.dir, part, spec.manifest, keys);
    if (!check.ok)
      throw new ArchiveError(
        check.code ?? 'corrupt-data',
        `${check.detail} (the backup's schema is not sound; nothing was restored)`,
      );
  }
}

async function restoreInput(spec: RestoreSpec): Promise<RestoreInput> {
  const m = spec.manifest;
  // The callers resolved the scope already; checked again here because this is the last step before writing.
  assertNoBookkeepingTables(m);
  const keys = await keysForManifest(spec.keys, m);
  await assertDdlSound(spec, keys);
  return {
    guard: spec.tables.includes(AUDIT_TABLE) ? auditChainGuard() : undefined,
    encoding: m.engine.encoding,
    archivedDdl: async () => {
      const whole = await readDatabaseDdl(spec.storage, spec.dir, m, keys);
      return whole ? `${whole.ddl.preData}\n${whole.ddl.postData}` : readSchemaSql(spec.storage, spec.dir, m, keys);
    },
    tables: restoreInputs(spec.storage, spec.dir, m, keys, (t) => effectiveRestoreMode(t, spec.mode), spec.tables),
    sequences: m.sequences,
    onProgress: spec.onProgress,
    onWarning: spec.onWarning,
    signal: spec.signal,
    commitMarker: spec.commitMarker,
    commitGate: spec.commitGate,
  };
}

/**
 * A part's checksums can only fail at its end, but its rows are decoded (or COPYed) as they
 * arrive, so a corrupted part may first surface as "not valid JSON" or an encoding error from
 * the database. When a restore fails for any reason that is not already an archive error, the
 * parts in scope are read through once more: a part that fails its checks is the root cause
 * and is what the error names. The restore has rolled back either way; this only makes the
 * message true.
 */
async function diagnoseFailure(spec: RestoreSpec, err: unknown): Promise<unknown> {
  if (isArchiveError(err) || spec.signal?.aborted) return err;
  const keys = await keysForManifest(spec.keys, spec.manifest).catch(() => null);
  for (const t of spec.manifest.tables.filter((x) => spec.tables.includes(x.name))) {
    const check = await verifyPart(spec.storage, spec.dir, t.part, spec.manifest, keys).catch(() => null);
    if (check && !check.ok) {
      const seen = err instanceof Error ? err.message : String(err);
      return new ArchiveError(
        check.code ?? 'corrupt-data',
        `${check.detail} (the restore stopped at: ${seen})`,
        undefined,
        { cause: err },
      );
    }
  }
  return err;
}

async function diagnosed<T>(spec: RestoreSpec, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw await diagnoseFailure(spec, err);
  }
}

/** A restore refused before writing anything: what its checks found would stop it. */
function blocked(backupId: string, checks: RestoreChecks): RestoreError {
  return new RestoreError(
    RestoreErrorCode.Blocked,
    `backup ${backupId} cannot be restored into this target as asked, nothing was written: ${describeIssues(checks.blockers)}`,
    { blockers: checks.blockers, warnings: checks.warnings },
  );
}

/** One line per issue, counts and examples included; at most 10, then how many more. */
export function describeIssues(issues: RestoreIssue[]): string {
  const shown = issues
    .slice(0, 10)
    .map((i) => `${i.message}${i.examples?.length ? ` (e.g. ${i.examples.join('; ')})` : ''}`);
  return `${shown.join('; ')}${issues.length > 10 ? `; and ${issues.length - 10} more` : ''}`;
}

/**
 * The checks every real restore passes first (Dialect.checkRestore: the catalogs only, no row
 * of the backup is read). The row-level checks are the dry run's: they read every backup row.
 */
export async function checkTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreChecks> {
  const input = await restoreInput(spec);
  return dialect.checkRestore(input);
}

/** All or nothing: the dialect writes every table in one transaction, once its checks found no blocker. */
export async function restoreTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreTableResult[]> {
  const input = await restoreInput(spec);
  const checks = await dialect.checkRestore(input);
  if (checks.blockers.length) throw blocked(spec.manifest.id, checks);
  return diagnosed(spec, () => dialect.restore(input));
}

/** What `restoreTables` would do, without writing anything visible. */
export async function planTables(dialect: Dialect, spec: RestoreSpec): Promise<PlanTableResult[]> {
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.plan(input));
}

/** The plan with every check, catalog and row level: what would stop the restore, in advance. */
export async function dryRunTables(dialect: Dialect, spec: RestoreSpec): Promise<DryRunResult> {
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.dryRun(input));
}
