/**
 * Restores and verifies without any Strongroom database (disaster recovery): the backup
 * comes from an archive file (unpacked into a temporary local storage directory) or from
 * the configured storage, is verified completely, and is written with the engine alone.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArchive } from '../engine/archive/archive-tar';
import type { Manifest } from '../engine/archive/manifest.types';
import { authenticateManifest, keysForManifest } from '../engine/backup/backup-keys';
import { readDatabaseDdl, readManifest, readSchemaSql, restoreInputs } from '../engine/backup/read-backup';
import { effectiveRestoreMode } from '../engine/backup/restore-mode';
import { verifyParts, type VerifyResult } from '../engine/backup/verify-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type { RestoreMode, RestoreTableResult } from '../engine/dialects/dialect';
import { LocalStorage } from '../engine/storage/local-storage';
import type { BackupStorage } from '../engine/storage/storage';
import type { FileStats } from '../engine/backup/file-artefacts';
import { assertSchemaMatches, preflightRestore, type RequestWords } from '../engine/restore/preflight';
import { restoreFiles, restoreTables, type StoredBackup } from '../engine/restore/restore-backup';
import { CommandFailed } from './cli-errors';

/** The command line's names for a restore's options, as refusals name them. */
const CLI_WORDS: RequestWords = {
  tables: '--tables',
  mode: '--mode',
  files: '--files',
  target: '--database-url',
  createSchema: '--create-schema',
  schemaMismatchHint: 'Pass --allow-schema-mismatch to restore by column name anyway, or --create-schema into an empty database.',
};

export interface OpenedBackup extends StoredBackup {
  /** Removes the temporary copy of an archive; nothing for stored backups. */
  dispose(): Promise<void>;
}

/** An archive unpacked into a temporary directory (its manifest checked, parts not yet verified). */
export async function openArchive(file: string): Promise<Omit<OpenedBackup, 'keys'>> {
  const root = await mkdtemp(join(tmpdir(), 'strongroom-archive-'));
  const storage = new LocalStorage(root);
  try {
    const manifest = await unpackArchive(createReadStream(file), storage, 'archive');
    return { storage, dir: 'archive', manifest, dispose: () => rm(root, { recursive: true, force: true }) };
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw new CommandFailed(`${file} is not a valid Strongroom archive: ${(e as Error).message}`);
  }
}

export async function openStored(storage: BackupStorage, id: string): Promise<Omit<OpenedBackup, 'keys'>> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(storage, `backups/${id}`);
  } catch (e) {
    throw new CommandFailed(`backup ${id} cannot be read from storage (${storage.location}): ${(e as Error).message}`);
  }
  return { storage, dir: `backups/${id}`, manifest, dispose: async () => undefined };
}

/**
 * Establishes that the manifest is the service's own before anything in it is shown or used
 * (the confirmation prompt prints its id, tables and file directories).
 */
export async function authenticateOpened(b: StoredBackup): Promise<void> {
  try {
    await authenticateManifest(b.keys, b.manifest);
  } catch (e) {
    throw new CommandFailed(`backup ${b.manifest.id} is refused, nothing was restored: ${(e as Error).message}`);
  }
}

export function verifyOpened(b: StoredBackup, opts: { deep?: boolean; scratchServerUrl?: string } = {}): Promise<VerifyResult> {
  return verifyParts(b.storage, b.dir, b.manifest, b.keys, opts);
}

export interface EngineRestoreOptions {
  url: string;
  mode: RestoreMode;
  tables?: string[];
  createSchema: boolean;
  files: boolean;
  allowSchemaMismatch: boolean;
  /** --create-schema of a whole-database backup: leave out ownership / grants (pg_restore's options). */
  noOwner?: boolean;
  noPrivileges?: boolean;
  onProgress?(p: { table: string; rows: number }): void;
  onWarning?(message: string): void;
  onPhase?(phase: string): void;
  /** Engine settings from the configuration (RESTORE_PARALLELISM...). */
  dialect?: DialectOptions;
}

export interface EngineRestoreResult {
  tables: RestoreTableResult[];
  files: FileStats | null;
  /** Roles the backup names that the target cluster lacks (whole-database restores). */
  missingRoles: string[];
}

export async function engineRestore(b: StoredBackup, o: EngineRestoreOptions): Promise<EngineRestoreResult> {
  o.onPhase?.('verifying');
  const verdict = await verifyOpened(b);
  if (!verdict.ok) {
    const bad = verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
    throw new CommandFailed(`backup ${b.manifest.id} failed verification, nothing was restored: ${bad.join('; ')}`);
  }
  const { tables, dialect } = await preflightRestore(
    b.manifest,
    { mode: o.mode, tables: o.tables, files: o.files, allowSchemaMismatch: o.allowSchemaMismatch, createSchema: o.createSchema },
    { openTarget: () => createDialect(o.url, o.dialect), words: CLI_WORDS },
  );
  try {
    if (o.createSchema) {
      const keys = await keysForManifest(b.keys, b.manifest);
      const whole = dialect.restoreDatabase ? await readDatabaseDdl(b.storage, b.dir, b.manifest, keys) : null;
      if (whole && dialect.restoreDatabase) {
        // The whole database in one transaction: a failure leaves the target empty, so a retry works.
        if (o.tables) throw new CommandFailed('--create-schema of a full backup restores the whole database; leave out --tables');
        o.onPhase?.('restoring the database');
        const input = { encoding: b.manifest.engine.encoding, tables: restoreInputs(b.storage, b.dir, b.manifest, keys, (t) => effectiveRestoreMode(t, 'replace')), sequences: b.manifest.sequences, onProgress: o.onProgress, onWarning: o.onWarning };
        const done = await dialect.restoreDatabase({ ...whole, noOwner: o.noOwner, noPrivileges: o.noPrivileges }, input);
        return { tables: done.tables, files: o.files ? await restoreFilesAfter(b, o) : null, missingRoles: done.missingRoles };
      }
      o.onPhase?.('creating schema');
      await dialect.applySchema(await readSchemaSql(b.storage, b.dir, b.manifest, keys));
      // The schema just created must be the backup's, or the rows would land by column name in something else.
      await assertSchemaMatches(dialect, b.manifest, tables, o.allowSchemaMismatch, CLI_WORDS);
    }
    o.onPhase?.('restoring');
    const results = await restoreTables(dialect, { ...b, mode: o.mode, tables, onProgress: o.onProgress, onWarning: o.onWarning });
    const files = o.files ? await restoreFilesAfter(b, o) : null;
    return { tables: results, files, missingRoles: [] };
  } finally {
    await dialect.close().catch(() => undefined);
  }
}

/** After the tables committed: each directory is swapped in whole, or left as it was. */
function restoreFilesAfter(b: StoredBackup, o: EngineRestoreOptions): Promise<FileStats> {
  o.onPhase?.('files');
  return restoreFiles(b, undefined, { onWarning: o.onWarning });
}

