/**
 * Restores and verifies without any Strongroom database (disaster recovery): the backup
 * comes from an archive file (unpacked into a temporary local storage directory) or from
 * the configured storage, is verified completely, and is written with the engine alone.
 */
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArchive } from '../engine/archive/archive-tar';
import type { Manifest } from '../engine/archive/manifest.types';
import { authenticateManifest, keysForManifest } from '../engine/backup/backup-keys';
import { readDatabaseDdl, readManifest, readSchemaSql, restoreInputs, tableRows } from '../engine/backup/read-backup';
import { effectiveRestoreMode } from '../engine/backup/restore-mode';
import { verifyParts, type VerifyResult } from '../engine/backup/verify-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type {
  Dialect,
  RestoreCommitMarker,
  RestoreMode,
  RestoreTableResult,
  RoleCreation,
} from '../engine/dialects/dialect';
import { LocalStorage } from '../engine/storage/local-storage';
import type { BackupStorage } from '../engine/storage/storage';
import type { FileStats } from '../engine/backup/file-artefacts';
import { commitResolver, FileCommit } from '../recovery/file-commit';
import { assertSchemaMatches, preflightRestore, type RequestWords } from '../engine/restore/preflight';
import {
  describeIssues,
  restoreTables,
  type ScopeFilesSpec,
  type StoredBackup,
} from '../engine/restore/restore-backup';
import { CommandFailed } from './cli-errors';

/** The command line's names for a restore's options, as refusals name them. */
export const CLI_WORDS: RequestWords = {
  tables: '--tables',
  mode: '--mode',
  files: '--files',
  target: '--database-url',
  createSchema: '--create-schema',
  schemaMismatchHint:
    'Pass --allow-schema-mismatch to restore by column name anyway, or --create-schema into an empty database.',
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

export function verifyOpened(
  b: StoredBackup,
  opts: { deep?: boolean; scratchServerUrl?: string } = {},
): Promise<VerifyResult> {
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
  /** --create-schema of a whole-database backup: create the archived roles the cluster lacks (never alters existing ones). */
  createRoles?: boolean;
  onProgress?(p: { table: string; rows: number }): void;
  onWarning?(message: string): void;
  onPhase?(phase: string): void;
  /** Engine settings from the configuration (RESTORE_PARALLELISM...). */
  dialect?: DialectOptions;
  /** Stops the restore before its commit (Ctrl-C): it rolls back and staged files are removed. */
  signal?: AbortSignal;
  /** Awaited right before the commit; rejecting rolls the restore back (see RestoreInput.commitGate). */
  commitGate?(): Promise<void>;
  /** A scoped backup: restore its rows that now belong to another scope. */
  allowScopeMoves?: boolean;
}

export interface EngineRestoreResult {
  tables: RestoreTableResult[];
  files: FileStats | null;
  /** Roles the backup names that the target cluster lacks (whole-database restores). */
  missingRoles: string[];
  /** With createRoles: the roles created, and the archived ones the cluster already had. */
  roles?: RoleCreation;
}

export async function engineRestore(b: StoredBackup, o: EngineRestoreOptions): Promise<EngineRestoreResult> {
  o.onPhase?.('verifying');
  const verdict = await verifyOpened(b);
  if (!verdict.ok) {
    const bad = verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
    throw new CommandFailed(`backup ${b.manifest.id} failed verification, nothing was restored: ${bad.join('; ')}`);
  }
  o.signal?.throwIfAborted();
  const { tables, dialect } = await preflightRestore(
    b.manifest,
    {
      mode: o.mode,
      tables: o.tables,
      files: o.files,
      allowSchemaMismatch: o.allowSchemaMismatch,
      createSchema: o.createSchema,
    },
    { openTarget: () => createDialect(o.url, o.dialect), words: CLI_WORDS },
  );
  try {
    if (o.createSchema) {
      const keys = await keysForManifest(b.keys, b.manifest);
      const restoreDatabase = dialect.restoreDatabase?.bind(dialect);
      const whole = restoreDatabase ? await readDatabaseDdl(b.storage, b.dir, b.manifest, keys) : null;
      if (whole && restoreDatabase) {
        // The whole database in one transaction: a failure leaves the target empty, so a retry works.
        if (o.tables)
          throw new CommandFailed('--create-schema of a full backup restores the whole database; leave out --tables');
        const checks = await dialect.checkRestoreDatabase?.({
          ddl: whole.ddl,
          noOwner: o.noOwner,
          noPrivileges: o.noPrivileges,
        });
        if (checks?.blockers.length)
          throw new CommandFailed(
            `backup ${b.manifest.id} cannot be restored into this server, nothing was written: ${describeIssues(checks.blockers)}`,
          );
        return await withFiles(b, o, dialect, async (commitMarker) => {
          o.onPhase?.('restoring the database');
          const rows = tableRows(b.storage, b.dir, b.manifest, keys);
          try {
            const input = {
              encoding: b.manifest.engine.encoding,
              tables: restoreInputs(b.manifest, rows, (t) => effectiveRestoreMode(t, 'replace')),
              sequences: b.manifest.sequences,
              onProgress: o.onProgress,
              onWarning: o.onWarning,
              commitMarker,
              signal: o.signal,
              commitGate: o.commitGate,
            };
            const done = await restoreDatabase(
              { ...whole, noOwner: o.noOwner, noPrivileges: o.noPrivileges, createRoles: o.createRoles },
              input,
            );
            return {
              tables: done.tables,
              missingRoles: done.missingRoles,
              ...(done.roles ? { roles: done.roles } : {}),
            };
          } finally {
            await rows.close();
          }
        });
      }
      if (o.createRoles)
        throw new CommandFailed(
          `--create-roles applies to the disaster restore of a full PostgreSQL backup; backup ${b.manifest.id} is a ${b.manifest.type} backup of ${b.manifest.engine.name}`,
        );
      o.onPhase?.('creating schema');
      await dialect.applySchema(await readSchemaSql(b.storage, b.dir, b.manifest, keys));
      // The schema just created must be the backup's, or the rows would land by column name in something else.
      await assertSchemaMatches(dialect, b.manifest, tables, o.allowSchemaMismatch, CLI_WORDS);
    }
    return await withFiles(b, o, dialect, async (commitMarker, scopeFiles) => {
      o.onPhase?.('restoring');
      return {
        tables: await restoreTables(dialect, {
          ...b,
          mode: o.mode,
          allowScopeMoves: o.allowScopeMoves,
          scopeFiles,
          tables,
          onProgress: o.onProgress,
          onWarning: o.onWarning,
          commitMarker,
          signal: o.signal,
          commitGate: o.commitGate,
        }),
        missingRoles: [],
      };
    });
  } finally {
    await dialect.close().catch(() => undefined);
  }
}

/**
 * Runs `restore` (the tables) with the file artefacts as one commit, as the service does
 * (file-commit.ts): the directories are staged first, the transaction's commit decides, then
 * they are swapped in. A crash anywhere is settled by the next start or file restore, which
 * asks this target whether the transaction committed (the journal names it, without credentials).
 */
async function withFiles(
  b: StoredBackup,
  o: EngineRestoreOptions,
  dialect: Dialect,
  restore: (
    marker: RestoreCommitMarker | undefined,
    scopeFiles?: ScopeFilesSpec,
  ) => Promise<Omit<EngineRestoreResult, 'files'>>,
): Promise<EngineRestoreResult> {
  if (!o.files) return { ...(await restore(undefined)), files: null };
  o.onPhase?.('staging files');
  const staged = await FileCommit.stage(b, {
    url: o.url,
    dialect,
    commitId: randomUUID(),
    committed: commitResolver([o.url], o.dialect),
    onWarning: o.onWarning,
    mode: o.mode,
  });
  let done: Omit<EngineRestoreResult, 'files'>;
  try {
    o.signal?.throwIfAborted();
    done = await restore(staged.marker(), staged.scopeFiles());
  } catch (e) {
    const after = await staged.afterFailure().catch(() => 'undecided' as const);
    if (after === 'committed') {
      o.onWarning?.(
        `the restore reported an error after its commit (${(e as Error).message}); the target shows it committed, and the file artefacts were swapped in`,
      );
      return { tables: [], missingRoles: [], files: staged.stats };
    }
    if (after === 'undecided') {
      throw new CommandFailed(
        `${(e as Error).message}; whether the restore committed could not be established, so its staged file artefacts were kept: the next run of a file restore or of the service settles them with the tables`,
      );
    }
    throw e;
  }
  o.onPhase?.('files');
  return { ...done, files: await staged.afterCommit() };
}
