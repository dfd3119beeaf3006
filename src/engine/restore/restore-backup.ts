/**
 * Restoring a stored backup into a database, as plain TypeScript (no Nest): shared by the
 * recovery service and the command line's disaster path, which runs without any
 * Strongroom database. What may be restored, and into what, is decided first by
 * preflight.ts; the dialect given here is the one the preflight opened and checked.
 */
import { ArchiveError, isArchiveError } from '../archive/errors';
import { openPart, verifyPart } from '../archive/part-io';
import type { Manifest } from '../archive/manifest.types';
import { keysForManifest, type KeySource } from '../backup/backup-keys';
import { unpackFileArtefacts, type FileStats, type UnpackOptions } from '../backup/file-artefacts';
import { inspectFileArchive } from '../backup/file-entry-rules';
import { restoreInputs } from '../backup/read-backup';
import { AUDIT_TABLE } from '../backup/bookkeeping-tables';
import { effectiveRestoreMode } from '../backup/restore-mode';
import { auditChainGuard } from './audit-restore-guard';
import { assertNoBookkeepingTables } from './preflight';
import { RestoreError, RestoreErrorCode } from './restore-error';
import type {
  Dialect, PlanTableResult, RestoreCommitMarker, RestoreInput, RestoreMode, RestoreTableResult,
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
    tables: restoreInputs(spec.storage, spec.dir, m, keys, (t) => effectiveRestoreMode(t, spec.mode), spec.tables),
    sequences: m.sequences,
    onProgress: spec.onProgress,
    onWarning: spec.onWarning,
    signal: spec.signal,
    commitMarker: spec.commitMarker,
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

/** All or nothing: the dialect writes every table in one transaction. */
export async function restoreTables(dialect: Dialect, spec: RestoreSpec): Promise<RestoreTableResult[]> {
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.restore(input));
}

/** What `restoreTables` would do, without writing anything visible. */
export async function planTables(dialect: Dialect, spec: RestoreSpec): Promise<PlanTableResult[]> {
  const input = await restoreInput(spec);
  return diagnosed(spec, () => dialect.plan(input));
}

/**
 * Restores the backup's file artefacts into the directories they were taken from: every
 * directory is staged whole and all are swapped in together under a journal, so a failure or
 * a crash leaves all of them as they were (or, past the swap's commit point, all restored).
 * Links, devices and paths escaping a directory in the archive fail it before anything changes.
 */
export async function restoreFiles(
  b: StoredBackup,
  destinations: string[] = b.manifest.files.roots,
  opts: UnpackOptions = {},
): Promise<FileStats> {
  const part = b.manifest.files.part;
  if (!part) return { count: 0, bytes: 0 };
  if (destinations.length !== b.manifest.files.roots.length) {
    throw new RestoreError(
      RestoreErrorCode.FileRoots,
      `the backup holds ${b.manifest.files.roots.length} file directories, ${destinations.length} destinations were given`,
    );
  }
  const keys = await keysForManifest(b.keys, b.manifest);
  return unpackFileArtefacts(await openPart(b.storage, b.dir, part, b.manifest, keys), destinations, opts);
}

/**
 * Reads the backup's file part through and checks every entry (file-entry-rules.ts) without
 * writing anything: run before the tables are restored, so a crafted file part fails the whole
 * recovery before the database commit rather than after it.
 */
export async function checkFileArchive(b: StoredBackup): Promise<void> {
  const part = b.manifest.files.part;
  if (!part) return;
  const keys = await keysForManifest(b.keys, b.manifest);
  await inspectFileArchive(await openPart(b.storage, b.dir, part, b.manifest, keys), b.manifest.files.roots.length, b.manifest.files);
}
