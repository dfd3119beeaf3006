/**
 * Restoring a stored backup into a database, as plain TypeScript (no Nest): shared by the
 * recovery service and the command line's disaster path, which runs without any
 * Strongroom database.
 */
import { contentlessReason } from '../engine/dialects/sqlite/sqlite-restore-targets';
import { ArchiveError, isArchiveError } from '../engine/archive/errors';
import { verifyPart } from '../engine/archive/part-io';
import type { Manifest } from '../engine/archive/manifest.types';
import { keysForManifest, type KeySource } from '../engine/backup/backup-keys';
import { readDatabaseDdl, readSchemaSql, restoreInputs } from '../engine/backup/read-backup';
import { AUDIT_TABLE, isBookkeepingTable } from '../engine/backup/bookkeeping-tables';
import { effectiveRestoreMode } from '../engine/backup/restore-mode';
import { auditChainGuard } from './audit-restore-guard';
import type {
  Dialect, DryRunResult, PlanTableResult, RestoreChecks, RestoreCommitMarker, RestoreInput, RestoreIssue, RestoreMode, RestoreTableResult, SchemaDifference,
} from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';

export interface StoredBackup {
  storage: BackupStorage;
  /** Storage directory holding the backup's parts. */
  dir: string;
  manifest: Manifest;
  keys: KeySource;
}

export interface RestoreSpec extends StoredBackup {
  mode: RestoreMode;
  /** Tables in scope (already checked against the manifest by `resolveScope`). */
  tables: string[];
  signal?: AbortSignal;
  onProgress?(p: { table: string; rows: number }): void;
  /** After the commit: something worth logging that does not undo the restore. */
  onWarning?(message: string): void;
  /** Proof of the commit left in the target, for telling a crash after it from one before. */
  commitMarker?: RestoreCommitMarker;
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

export class RestoreRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRequestError';
  }
}

/** Thrown for a backup that lists Strongroom's own bookkeeping tables (bookkeeping-tables.ts). */
export class BookkeepingTablesError extends RestoreRequestError {
  constructor(
    readonly backupId: string,
    readonly tables: string[],
  ) {
    super(
      `backup ${backupId} lists Strongroom's own table(s) ${tables.join(', ')}, which a Strongroom backup never holds ` +
        '(of its own tables only the audit trail is backed up): the archive was not written by Strongroom or was altered. ' +
        'Refusing to restore any of it.',
    );
    this.name = 'BookkeepingTablesError';
  }
}

/**
 * A restore never writes Strongroom's bookkeeping tables (API keys, audit head, catalog...).
 * An archive that lists them is refused as a whole rather than restored without them: a
 * Strongroom backup never holds them, so such an archive is forged or altered, and the rest of
 * it deserves no more trust than the part that gave it away.
 */
export function assertNoBookkeepingTables(manifest: Manifest): void {
  const own = manifest.tables.map((t) => t.name).filter(isBookkeepingTable);
  if (own.length) throw new BookkeepingTablesError(manifest.id, own);
}

/**
 * The tables a restore covers: the ones asked for, or every table of the backup; unknown names
 * are an error naming them, and a backup listing bookkeeping tables is refused.
 */
export function resolveScope(manifest: Manifest, requested?: string[] | null): string[] {
  assertNoBookkeepingTables(manifest);
  const inBackup = manifest.tables.map((t) => t.name);
  if (!requested) return inBackup;
  const unknown = requested.filter((t) => !inBackup.includes(t));
  if (unknown.length) {
    throw new RestoreRequestError(`tables: ${unknown.join(', ')} not in backup ${manifest.id} (it holds: ${inBackup.join(', ') || 'no tables'})`);
  }
  if (!requested.length) throw new RestoreRequestError('tables: name at least one table, or leave the field out to restore all of them');
  return inBackup.filter((t) => requested.includes(t));
}

/** Tables that the mode cannot handle because they lack a primary key (merge and missing-only match rows by key). */
export function tablesWithoutKey(manifest: Manifest, tables: string[], mode: RestoreMode): string[] {
  // A virtual table read through its module (SQLite FTS, R*Tree) is matched by rowid instead.
  return manifest.tables
    .filter((t) => tables.includes(t.name) && effectiveRestoreMode(t.name, mode) !== 'replace' && t.structure.primaryKey.length === 0 && !t.structure.virtual)
    .map((t) => t.name);
}

/**
 * Tables that only a replace can restore correctly, each with the reason: the shadow tables of
 * a contentless SQLite full-text index (its index is the only copy of the text).
 */
export function tablesReplaceOnly(manifest: Manifest, tables: string[], mode: RestoreMode): { table: string; reason: string }[] {
  return manifest.tables
    .filter((t) => tables.includes(t.name) && effectiveRestoreMode(t.name, mode) !== 'replace' && t.structure.contentlessIndex)
    .map((t) => ({ table: t.name, reason: contentlessReason(t.structure.contentlessIndex as string) }));
}

/**
 * Structure differences between the backup's tables in scope and the live ones. Live tables
 * the backup does not hold are left alone by a restore, so they are not differences here.
 */
export async function schemaDifferences(dialect: Dialect, manifest: Manifest, tables: string[]): Promise<SchemaDifference[]> {
  const expected = manifest.tables.filter((t) => tables.includes(t.name)).map((t) => t.structure);
  const diffs = await dialect.compareSchema(expected);
  return diffs.filter((d) => d.kind !== 'extra-table');
}

export function describeDifference(d: SchemaDifference): string {
  const col = d.column ? `.${d.column}` : '';
  switch (d.kind) {
    case 'missing-table': return `table ${d.table} does not exist in the target`;
    case 'missing-column': return `column ${d.table}${col} (${d.expected}) is missing from the target`;
    case 'extra-column': return `column ${d.table}${col} (${d.actual}) exists only in the target`;
    case 'type-changed': return `column ${d.table}${col} is ${d.actual} in the target, ${d.expected} in the backup`;
    case 'primary-key-changed': return `table ${d.table} has primary key (${d.actual}) in the target, (${d.expected}) in the backup`;
    default: return `table ${d.table}: ${d.kind}`;
  }
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
    if (!check.ok) throw new ArchiveError(check.code ?? 'corrupt-data', `${check.detail} (the backup's schema is not sound; nothing was restored)`);
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
  };
}

function assertSameEngine(dialect: Dialect, m: Manifest): void {
  if (dialect.engine !== m.engine.name) {
    throw new RestoreRequestError(`backup ${m.id} is of a ${m.engine.name} database; the target is ${dialect.engine}`);
  }
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
      return new ArchiveError(check.code ?? 'corrupt-data', `${check.detail} (the restore stopped at: ${seen})`, undefined, { cause: err });
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
export class RestoreBlockedError extends RestoreRequestError {
  constructor(
    readonly backupId: string,
    readonly checks: RestoreChecks,
  ) {
    super(`backup ${backupId} cannot be restored into this target as asked, nothing was written: ${describeIssues(checks.blockers)}`);
    this.name = 'RestoreBlockedError';
  }
}

/** One line per issue, counts and examples included; at most 10, then how many more. */
export function describeIssues(issues: RestoreIssue[]): string {
  const shown = issues.slice(0, 10).map((i) => `${i.message}${i.examples?.length ? ` (e.g. ${i.examples.join('; ')})` : ''}`);
  return `${shown.join('; ')}${issues.length > 10 ? `; and ${issues.length - 10} more` : ''}`;
}

/**
 * The checks every real restore passes first (Dialect.checkRestore: the catalogs only, no row
 * of the backup is read). The row-level checks are the dry run's: they read every backup row.
 */
export async function checkTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreChecks> {
  assertSameEngine(dialect, spec.manifest);
  const input = await restoreInput(spec);
  return dialect.checkRestore(input);
}

/** All or nothing: the dialect writes every table in one transaction, once its checks found no blocker. */
export async function restoreTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreTableResult[]> {
  assertSameEngine(dialect, spec.manifest);
  const input = await restoreInput(spec);
  const checks = await dialect.checkRestore(input);
  if (checks.blockers.length) throw new RestoreBlockedError(spec.manifest.id, checks);
  return diagnosed(spec, () => dialect.restore(input));
}

/** What `restoreTables` would do, without writing anything visible. */
export async function planTables(dialect: Dialect, spec: RestoreSpec): Promise<PlanTableResult[]> {
  assertSameEngine(dialect, spec.manifest);
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.plan(input));
}

/** The plan with every check, catalog and row level: what would stop the restore, in advance. */
export async function dryRunTables(dialect: Dialect, spec: RestoreSpec): Promise<DryRunResult> {
  assertSameEngine(dialect, spec.manifest);
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.dryRun(input));
}

export { AUDIT_TABLE };
