/**
 * Restoring a stored backup into a database, as plain TypeScript (no Nest): shared by the
 * recovery service and the command line's disaster path, which runs without any
 * Strongroom database.
 */
import { openPart } from '../engine/archive/part-io';
import type { Manifest } from '../engine/archive/manifest.types';
import { keysForManifest, type KeySource } from '../engine/backup/backup-keys';
import type { FileStats } from '../engine/backup/file-artefacts';
import { unpackFileArtefacts } from '../engine/backup/file-artefacts';
import { restoreInputs } from '../engine/backup/read-backup';
import { AUDIT_TABLE, effectiveRestoreMode } from '../engine/backup/restore-mode';
import type {
  Dialect, PlanTableResult, RestoreCommitMarker, RestoreInput, RestoreMode, RestoreTableResult, SchemaDifference,
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

/** The tables a restore covers: the ones asked for, or every table of the backup; unknown names are an error naming them. */
export function resolveScope(manifest: Manifest, requested?: string[] | null): string[] {
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
  return manifest.tables
    .filter((t) => tables.includes(t.name) && effectiveRestoreMode(t.name, mode) !== 'replace' && t.structure.primaryKey.length === 0)
    .map((t) => t.name);
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

async function restoreInput(spec: RestoreSpec): Promise<RestoreInput> {
  const m = spec.manifest;
  const keys = await keysForManifest(spec.keys, m);
  return {
    encoding: m.engine.encoding,
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

/** All or nothing: the dialect writes every table in one transaction. */
export async function restoreTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreTableResult[]> {
  assertSameEngine(dialect, spec.manifest);
  return dialect.restore(await restoreInput(spec));
}

/** What `restoreTables` would do, without writing anything visible. */
export async function planTables(dialect: Dialect, spec: RestoreSpec): Promise<PlanTableResult[]> {
  assertSameEngine(dialect, spec.manifest);
  return dialect.plan(await restoreInput(spec));
}

/**
 * Restores the backup's file artefacts into the directories they were taken from; each
 * directory is staged whole and swapped in, so a failure leaves them as they were.
 */
export async function restoreFiles(b: StoredBackup, destinations: string[] = b.manifest.files.roots): Promise<FileStats> {
  const part = b.manifest.files.part;
  if (!part) return { count: 0, bytes: 0 };
  if (destinations.length !== b.manifest.files.roots.length) {
    throw new RestoreRequestError(`the backup holds ${b.manifest.files.roots.length} file directories, ${destinations.length} destinations were given`);
  }
  const keys = await keysForManifest(b.keys, b.manifest);
  return unpackFileArtefacts(await openPart(b.storage, b.dir, part, b.manifest, keys), destinations);
}

export { AUDIT_TABLE };
