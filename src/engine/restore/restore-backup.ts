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
import { readDatabaseDdl, readSchemaSql, restoreInputs, tableRows } from '../backup/read-backup';
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
import { openPart } from '../archive/part-io';
import { readAll } from '../storage/read-all';
import { parseFilesColumn, parseScopeFiles, parseScopeKeys } from '../scope/scope-backup';
import { inspectFileArchive } from '../backup/file-entry-rules';
import { existingFiles } from '../backup/per-file-restore';
import {
  bothGuards,
  movedError,
  planScopeRestore,
  scopeRestoreGuard,
  type ScopeFilesOptions,
  type ScopeRestoreOptions,
} from '../scope/scope-restore';
import type { RestoreTableInput, TableInfo } from '../dialects/dialect';

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
  /** A scoped backup's restore: whether backup rows that moved out of the scope may be taken back. */
  allowScopeMoves?: boolean;
  /** A scoped backup's restore that writes its files too (FileCommit staged them per file). */
  scopeFiles?: ScopeFilesSpec;
}

export interface ScopeFilesSpec {
  /** The live file directories, in the order of the backup's roots. */
  roots: string[];
  /** Inside the restore transaction: the files `replace` drops, to journal before the commit. */
  onRemovals?(paths: string[]): Promise<void>;
}

/** What a scoped restore did beyond the dialect's rows: live members removed, per table. */
interface ScopeOutcome {
  removed: Record<string, number>;
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

/**
 * A scoped backup restores as a merge of its members (the dialect's), a guard that first removes
 * the live members the backup does not hold (replace) and refuses moved rows, and its context
 * rows missing-only (a target without them gets them; existing ones are left alone).
 */
async function scopeOptions(
  dialect: Dialect,
  spec: RestoreSpec,
  keys: Awaited<ReturnType<typeof keysForManifest>>,
): Promise<ScopeRestoreOptions | null> {
  const sc = spec.manifest.scope;
  if (!sc) return null;
  const text = (await readAll(await openPart(spec.storage, spec.dir, sc.keysPart, spec.manifest, keys))).toString(
    'utf8',
  );
  const liveTables = await dialect.listTables();
  return {
    engine: dialect.engine,
    mode: spec.mode,
    scope: { table: sc.table, keys: sc.keys, exclude: sc.exclude },
    backupKeys: parseScopeKeys(text),
    tables: spec.tables,
    liveTables,
    allowMoves: spec.allowScopeMoves === true,
    files: await scopeFilesOptions(spec, keys, liveTables),
  };
}

/**
 * Which live files a replace may drop needs every path the backup's rows name: a scoped backup
 * taken before that was recorded (no files part) restores its files but removes none.
 */
async function scopeFilesOptions(
  spec: RestoreSpec,
  keys: Awaited<ReturnType<typeof keysForManifest>>,
  liveTables: TableInfo[],
): Promise<ScopeFilesOptions | undefined> {
  const sc = spec.manifest.scope;
  if (!spec.scopeFiles || !sc?.filesColumn || !sc.filesPart) return undefined;
  const { table, column } = parseFilesColumn(liveTables, sc.filesColumn);
  const named = (await readAll(await openPart(spec.storage, spec.dir, sc.filesPart, spec.manifest, keys))).toString(
    'utf8',
  );
  return {
    table: table.name,
    column,
    backupNamed: new Set(parseScopeFiles(named)),
    onRemovals: spec.scopeFiles.onRemovals,
  };
}

type PreparedInput = RestoreInput & {
  scope?: ScopeRestoreOptions;
  /** Removes what reading the rows needed (a page image's scratch database). */
  release(): Promise<void>;
};

/** Runs `work` on the restore input, and releases what the input holds however it ends. */
async function withInput<T>(
  spec: RestoreSpec,
  dialect: Dialect,
  work: (input: PreparedInput) => Promise<T>,
  outcome?: ScopeOutcome,
): Promise<T> {
  const input = await restoreInput(spec, dialect, outcome);
  try {
    return await work(input);
  } finally {
    await input.release();
  }
}

async function restoreInput(spec: RestoreSpec, dialect?: Dialect, outcome?: ScopeOutcome): Promise<PreparedInput> {
  const m = spec.manifest;
  // The callers resolved the scope already; checked again here because this is the last step before writing.
  assertNoBookkeepingTables(m);
  const keys = await keysForManifest(spec.keys, m);
  await assertDdlSound(spec, keys);
  const scope = dialect ? await scopeOptions(dialect, spec, keys) : null;
  // Opened lazily: a check that reads no row never decrypts a page image.
  const rows = tableRows(spec.storage, spec.dir, m, keys);
  const release = () => rows.close();
  if (scope) {
    const auditGuard = spec.tables.includes(AUDIT_TABLE) ? auditChainGuard() : undefined;
    const members = restoreInputs(
      m,
      rows,
      (t) => effectiveRestoreMode(t, spec.mode === 'replace' ? 'merge' : spec.mode),
      spec.tables,
    );
    const memberNames = new Set(members.map((t) => t.name));
    const context: RestoreTableInput[] = (m.scope?.context ?? [])
      .filter((t) => !memberNames.has(t.name))
      .map((t) => ({
        name: t.name,
        table: t.structure,
        mode: 'missing-only',
        bytes: t.part?.rawBytes,
        open: () => rows.open(t),
      }));
    return {
      guard: bothGuards(auditGuard, scopeRestoreGuard(scope, outcome ?? { removed: {} })),
      // A scope's rows are few against its tables: checking its keys per row written, not per table.
      foreignKeyChecks: 'written-rows',
      encoding: m.engine.encoding,
      archivedDdl: () => readSchemaSql(spec.storage, spec.dir, m, keys),
      // Context first: the rows the members point at are in place before them.
      tables: [...context, ...members],
      sequences: m.sequences,
      onProgress: spec.onProgress,
      onWarning: spec.onWarning,
      signal: spec.signal,
      commitMarker: spec.commitMarker,
      scope,
      release,
    };
  }
  return {
    guard: spec.tables.includes(AUDIT_TABLE) ? auditChainGuard() : undefined,
    encoding: m.engine.encoding,
    archivedDdl: async () => {
      const whole = await readDatabaseDdl(spec.storage, spec.dir, m, keys);
      return whole ? `${whole.ddl.preData}\n${whole.ddl.postData}` : readSchemaSql(spec.storage, spec.dir, m, keys);
    },
    tables: restoreInputs(m, rows, (t) => effectiveRestoreMode(t, spec.mode), spec.tables),
    sequences: m.sequences,
    onProgress: spec.onProgress,
    onWarning: spec.onWarning,
    signal: spec.signal,
    commitMarker: spec.commitMarker,
    commitGate: spec.commitGate,
    release,
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
  const parts =
    spec.manifest.image?.parts ??
    spec.manifest.tables.filter((x) => spec.tables.includes(x.name)).flatMap((t) => (t.part ? [t.part] : []));
  for (const part of parts) {
    const check = await verifyPart(spec.storage, spec.dir, part, spec.manifest, keys).catch(() => null);
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
  return withInput(spec, dialect, (input) => dialect.checkRestore(input));
}

/** All or nothing: the dialect writes every table in one transaction, once its checks found no blocker. */
export async function restoreTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreTableResult[]> {
  const outcome: ScopeOutcome = { removed: {} };
  const results = await withInput(
    spec,
    dialect,
    async (input) => {
      const checks = await dialect.checkRestore(input);
      if (checks.blockers.length) throw blocked(spec.manifest.id, checks);
      return diagnosed(spec, () => dialect.restore(input));
    },
    outcome,
  );
  // A scoped replace also removed members the backup does not hold: those are rows it changed too.
  return results.map((r) => ({ ...r, rowsWritten: r.rowsWritten + (outcome.removed[r.name] ?? 0) }));
}

/**
 * A scoped restore's plan: the dialect's plan of the merge, plus the live members a replace
 * removes, read from one snapshot; rows that moved out of the scope stop it as the restore would.
 */
async function withScopePlan<T extends { tables: PlanTableResult[]; files?: DryRunResult['files'] }>(
  dialect: Dialect,
  input: RestoreInput & { scope?: ScopeRestoreOptions },
  result: T,
  spec?: RestoreSpec,
): Promise<T> {
  const o = input.scope;
  if (!o) return result;
  const snap = await dialect.openSnapshot(o.liveTables.map((t) => t.name));
  try {
    if (!snap.query) throw new Error(`the ${dialect.engine} snapshot cannot run a scope's queries`);
    const plan = await planScopeRestore(snap.query.bind(snap), o);
    if (plan.moved.length && !o.allowMoves && o.mode !== 'missing-only') throw movedError(plan.moved);
    const files = spec?.scopeFiles ? { files: await filePlan(spec, spec.scopeFiles.roots, plan.fileRemovals) } : {};
    if (o.mode !== 'replace') return { ...result, ...files };
    const tables = result.tables.map((t) => ({ ...t, delete: t.delete + (plan.remove.get(t.name)?.length ?? 0) }));
    return { ...result, tables, ...files };
  } finally {
    await snap.close();
  }
}

/**
 * A scoped dry run's files: every file of the backup's file part is written (missing-only: where
 * none exists now), and of the paths a replace drops, those that exist as files now are removed.
 */
async function filePlan(spec: RestoreSpec, roots: string[], removals: string[]): Promise<DryRunResult['files']> {
  const part = spec.manifest.files.part;
  const write = new Set<string>();
  if (part) {
    const keys = await keysForManifest(spec.keys, spec.manifest);
    const found: { root: number; path: string }[] = [];
    await inspectFileArchive(
      await openPart(spec.storage, spec.dir, part, spec.manifest, keys),
      spec.manifest.files.roots.length,
      undefined,
      (root, path) => found.push({ root, path }),
    );
    for (const f of found) {
      if (spec.mode === 'missing-only' && roots[f.root] && (await existingFiles([roots[f.root]], [f.path])).length)
        continue;
      write.add(f.path);
    }
  }
  return { write: [...write].sort(), remove: await existingFiles(roots, removals) };
}

/**
 * Refuses a scoped restore at once when rows of the backup now lie outside the scope and the
 * caller did not allow moving them (the restore's own guard checks again under its locks).
 */
export async function checkScopeMoves(dialect: Dialect, spec: RestoreSpec): Promise<void> {
  if (!spec.manifest.scope) return;
  await withInput(spec, dialect, (input) => withScopePlan(dialect, input, { tables: [] }));
}

/** What `restoreTables` would do, without writing anything visible. */
export async function planTables(dialect: Dialect, spec: RestoreSpec): Promise<PlanTableResult[]> {
  return withInput(spec, dialect, async (input) => {
    const tables = await diagnosed(spec, () => dialect.plan(input));
    return (await withScopePlan(dialect, input, { tables })).tables;
  });
}

/** The plan with every check, catalog and row level: what would stop the restore, in advance. */
export async function dryRunTables(dialect: Dialect, spec: RestoreSpec): Promise<DryRunResult> {
  return withInput(spec, dialect, async (input) =>
    withScopePlan(dialect, input, await diagnosed(spec, () => dialect.dryRun(input)), spec),
  );
}
