/**
 * The one restore preflight, shared by the server's recoveries and the command line's engine
 * restore: from a backup's manifest and a request, what the restore covers and whether the
 * target can take it. In order, cheapest first: no bookkeeping tables in the archive → the
 * tables in scope → keyless tables for merge / missing-only → file artefacts → the target's
 * engine → the target's structure (or, to create the schema, an empty target). Every refusal
 * is a RestoreError whose code the caller maps to a status or an exit code; nothing here writes.
 *
 * The server and the command line name the same request fields differently (`tables` in a
 * JSON body, `--tables` on the command line): `words` carries each surface's names, so a
 * refusal names the field as the caller typed it.
 */
import { resolve } from 'node:path';
import type { Manifest } from '../archive/manifest.types';
import { isBookkeepingTable } from '../backup/bookkeeping-tables';
import { effectiveRestoreMode } from '../backup/restore-mode';
import type { Dialect, RestoreMode, SchemaDifference } from '../dialects/dialect';
import { contentlessReason } from '../dialects/sqlite/sqlite-restore-targets';
import { RestoreError, RestoreErrorCode } from './restore-error';

/** How a surface names the request's fields in its messages. */
export interface RequestWords {
  tables: string;
  mode: string;
  files: string;
  /** What the target database is called ("the target", "--database-url"). */
  target: string;
  createSchema: string;
  /** The sentence telling how to restore despite structure differences. */
  schemaMismatchHint: string;
}

export interface RestoreRequest {
  mode: RestoreMode;
  /** Tables to restore; absent (or null): every table of the backup. */
  tables?: string[] | null;
  /** Restore file artefacts; absent: when a replace covers the whole backup and it has files. */
  files?: boolean;
  allowSchemaMismatch: boolean;
  /** The schema is to be created first: the target must be empty (its structure is not compared). */
  createSchema?: boolean;
}

export interface PreflightContext {
  /** Opens the target; the preflight closes it when it refuses. */
  openTarget(): Dialect;
  words: RequestWords;
  /**
   * Directories the caller may write file artefacts into; absent: any the backup names (the
   * command line, run by an operator on the machine). See assertAllowedRoots.
   */
  allowedFileRoots?: string[];
}

export interface PreflightedRestore {
  tables: string[];
  files: boolean;
  /** The open target, of the backup's engine; the caller closes it. */
  dialect: Dialect;
}

export async function preflightRestore(
  manifest: Manifest,
  req: RestoreRequest,
  ctx: PreflightContext,
): Promise<PreflightedRestore> {
  const { words } = ctx;
  const tables = resolveScope(manifest, req.tables, words);
  const keyless = tablesWithoutKey(manifest, tables, req.mode);
  if (keyless.length) {
    throw new RestoreError(
      RestoreErrorCode.KeylessTables,
      `${words.mode}: table(s) ${keyless.join(', ')} have no primary key, and a ${req.mode} restore matches rows by primary key; ` +
        `restore them in replace mode or leave them out of ${words.tables}`,
    );
  }
  const replaceOnly = tablesReplaceOnly(manifest, tables, req.mode);
  if (replaceOnly.length) {
    throw new RestoreError(
      RestoreErrorCode.ReplaceOnly,
      `${words.mode}: table(s) ${replaceOnly.map((t) => t.table).join(', ')} cannot be restored in ${req.mode} mode: ${replaceOnly[0].reason}; ` +
        `or leave them out of ${words.tables}`,
      { tables: replaceOnly.map((t) => t.table) },
    );
  }
  // A scope's files are some files of the roots, restored file by file (per-file-restore.ts), in
  // every mode; by default whenever the scoped backup carries files and restores whole.
  const files =
    req.files ??
    (manifest.scope
      ? !req.tables && !!manifest.files.part
      : req.mode === 'replace' && !req.tables && !!manifest.files.part);
  if (files && !manifest.files.part)
    throw new RestoreError(RestoreErrorCode.NoFiles, `${words.files}: backup ${manifest.id} holds no file artefacts`);
  if (files && ctx.allowedFileRoots) assertAllowedRoots(manifest, ctx.allowedFileRoots);
  const dialect = ctx.openTarget();
  try {
    if (dialect.engine !== manifest.engine.name) {
      throw new RestoreError(
        RestoreErrorCode.EngineMismatch,
        `backup ${manifest.id} is of a ${manifest.engine.name} database; ${words.target} is ${dialect.engine}`,
      );
    }
    if (req.createSchema) await assertEmptyTarget(dialect, words);
    else await assertSchemaMatches(dialect, manifest, tables, req.allowSchemaMismatch, words);
    return { tables, files, dialect };
  } catch (e) {
    await dialect.close().catch(() => undefined);
    throw e;
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
  if (own.length) {
    throw new RestoreError(
      RestoreErrorCode.ForeignTables,
      `backup ${manifest.id} lists Strongroom's own table(s) ${own.join(', ')}, which a Strongroom backup never holds ` +
        '(of its own tables only the audit trail is backed up): the archive was not written by Strongroom or was altered. ' +
        'Refusing to restore any of it.',
      { tables: own },
    );
  }
}

/**
 * The tables a restore covers: the ones asked for, or every table of the backup; unknown names
 * are an error naming them, and a backup listing bookkeeping tables is refused.
 */
function resolveScope(manifest: Manifest, requested: string[] | null | undefined, words: RequestWords): string[] {
  assertNoBookkeepingTables(manifest);
  const inBackup = manifest.tables.map((t) => t.name);
  if (!requested) return inBackup;
  const unknown = requested.filter((t) => !inBackup.includes(t));
  if (unknown.length) {
    throw new RestoreError(
      RestoreErrorCode.BadScope,
      `${words.tables}: ${unknown.join(', ')} not in backup ${manifest.id} (it holds: ${inBackup.join(', ') || 'no tables'})`,
    );
  }
  if (!requested.length) {
    throw new RestoreError(
      RestoreErrorCode.BadScope,
      `${words.tables}: name at least one table, or leave the field out to restore all of them`,
    );
  }
  return inBackup.filter((t) => requested.includes(t));
}

/** Tables that the mode cannot handle because they lack a primary key (merge and missing-only match rows by key). */
export function tablesWithoutKey(manifest: Manifest, tables: string[], mode: RestoreMode): string[] {
  // A virtual table read through its module (SQLite FTS, R*Tree) is matched by rowid instead.
  return manifest.tables
    .filter(
      (t) =>
        tables.includes(t.name) &&
        effectiveRestoreMode(t.name, mode) !== 'replace' &&
        t.structure.primaryKey.length === 0 &&
        !t.structure.virtual,
    )
    .map((t) => t.name);
}

/**
 * Tables that only a replace can restore correctly, each with the reason: the shadow tables of
 * a contentless SQLite full-text index (its index is the only copy of the text).
 */
export function tablesReplaceOnly(
  manifest: Manifest,
  tables: string[],
  mode: RestoreMode,
): { table: string; reason: string }[] {
  return manifest.tables
    .filter(
      (t) =>
        tables.includes(t.name) && effectiveRestoreMode(t.name, mode) !== 'replace' && t.structure.contentlessIndex,
    )
    .map((t) => ({ table: t.name, reason: contentlessReason(t.structure.contentlessIndex as string) }));
}

/**
 * The target's structure against the backup's tables in scope. Live tables the backup does not
 * hold are left alone by a restore, so they are not differences here. Exported for the command
 * line, which checks again after creating the schema.
 */
export async function assertSchemaMatches(
  dialect: Dialect,
  manifest: Manifest,
  tables: string[],
  allowMismatch: boolean,
  words: RequestWords,
): Promise<void> {
  const expected = manifest.tables.filter((t) => tables.includes(t.name)).map((t) => t.structure);
  const diffs = (await dialect.compareSchema(expected)).filter((d) => d.kind !== 'extra-table');
  if (diffs.length && !allowMismatch) {
    throw new RestoreError(
      RestoreErrorCode.SchemaMismatch,
      `the target's table structure differs from backup ${manifest.id}: ${diffs.map(describeDifference).join('; ')}. ${words.schemaMismatchHint}`,
      { differences: diffs },
    );
  }
}

async function assertEmptyTarget(dialect: Dialect, words: RequestWords): Promise<void> {
  const existing = await dialect.listTables();
  if (existing.length) {
    throw new RestoreError(
      RestoreErrorCode.TargetNotEmpty,
      `${words.createSchema} needs an empty database; this one has tables: ${existing
        .map((t) => t.name)
        .slice(0, 10)
        .join(', ')}`,
    );
  }
}

/**
 * The server writes file artefacts only into directories it is configured to back up. The
 * manifest names the directories, and whoever can write to storage can rewrite a manifest
 * (unencrypted ones entirely): trusting it would let a forged backup swap out any directory the
 * process can write.
 */
function assertAllowedRoots(manifest: Manifest, configured: string[]): void {
  const allowed = new Set(configured.map((r) => resolve(r)));
  const outside = manifest.files.roots.filter((r) => !allowed.has(resolve(r)));
  if (outside.length) {
    throw new RestoreError(
      RestoreErrorCode.FileRoots,
      `files: backup ${manifest.id} holds files of ${outside.join(', ')}, which BACKUP_FILE_PATHS does not list ` +
        `(${configured.join(', ') || 'none'}); the server only restores files into configured directories. ` +
        'Restore with "files": false, or restore the files with the command line.',
    );
  }
}

function describeDifference(d: SchemaDifference): string {
  const col = d.column ? `.${d.column}` : '';
  switch (d.kind) {
    case 'missing-table':
      return `table ${d.table} does not exist in the target`;
    case 'missing-column':
      return `column ${d.table}${col} (${d.expected}) is missing from the target`;
    case 'extra-column':
      return `column ${d.table}${col} (${d.actual}) exists only in the target`;
    case 'type-changed':
      return `column ${d.table}${col} is ${d.actual} in the target, ${d.expected} in the backup`;
    case 'primary-key-changed':
      return `table ${d.table} has primary key (${d.actual}) in the target, (${d.expected}) in the backup`;
    default:
      return `table ${d.table}: ${d.kind}`;
  }
}
