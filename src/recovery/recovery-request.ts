/**
 * Turning a recovery request into something safe to run: the backup exists and completed,
 * its manifest and keys are readable, the tables are in it, the mode suits them, and the
 * live structure matches (or the caller accepted the mismatch). Every refusal names what
 * is wrong; nothing here writes.
 */
import { resolve } from 'node:path';
import { DomainError, ErrorCode } from '../common/domain-error';
import { isArchiveError } from '../engine/archive/errors';
import type { Manifest } from '../engine/archive/manifest.types';
import { keysForManifest, type KeySource } from '../engine/backup/backup-keys';
import { readManifest } from '../engine/backup/read-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type { Dialect, RestoreMode } from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';
import type { BackupEntity } from '../backup/backup.entity';
import {
  assertNoBookkeepingTables, BookkeepingTablesError, describeDifference, resolveScope, RestoreRequestError, schemaDifferences, tablesReplaceOnly, tablesWithoutKey,
} from './restore-backup';

export interface RecoveryRequest {
  backupId: string;
  mode: RestoreMode;
  tables?: string[] | null;
  allowSchemaMismatch: boolean;
  /** Restore file artefacts; default: when a replace covers the whole backup and it has files. */
  files?: boolean;
}

export interface PreparedRecovery {
  backup: BackupEntity;
  manifest: Manifest;
  tables: string[];
  files: boolean;
  /** The database written: the audit trail lives in the service database. */
  url: string;
  dialect: Dialect;
}

export const restorePhrase = (backupId: string) => `RESTORE ${backupId}`;
export const rollbackPhrase = (recoveryId: string) => `ROLLBACK ${recoveryId}`;

/** replace and merge overwrite data, so they need the phrase; missing-only only adds rows. */
export function assertConfirmed(mode: RestoreMode, backupId: string, confirm: string | undefined): void {
  if (mode === 'missing-only') return;
  const phrase = restorePhrase(backupId);
  if (confirm !== phrase) {
    throw new DomainError(ErrorCode.InvalidInput, `confirm: a ${mode} recovery overwrites data; set confirm to exactly "${phrase}"`);
  }
}

export async function prepareRecovery(
  req: RecoveryRequest,
  backup: BackupEntity,
  deps: { storage: BackupStorage; keys: KeySource; urlFor(type: BackupEntity['type']): string; dialect: DialectOptions; fileRoots: string[] },
): Promise<PreparedRecovery> {
  if (backup.status !== 'completed') {
    throw new DomainError(ErrorCode.Conflict, `backup ${backup.id} is ${backup.status}; only a completed backup can be restored`);
  }
  let manifest: Manifest;
  try {
    manifest = await readManifest(deps.storage, backup.storageDir);
    await keysForManifest(deps.keys, manifest);
  } catch (e) {
    if (isArchiveError(e) && e.code === 'not-authenticated') {
      throw new DomainError(ErrorCode.Unprocessable, `backup ${backup.id} is refused: ${e.message}`);
    }
    throw new DomainError(ErrorCode.Conflict, `backup ${backup.id} cannot be read: ${(e as Error).message}`);
  }
  try {
    assertNoBookkeepingTables(manifest);
  } catch (e) {
    if (e instanceof BookkeepingTablesError) throw new DomainError(ErrorCode.Unprocessable, e.message, { tables: e.tables });
    throw e;
  }
  let tables: string[];
  try {
    tables = resolveScope(manifest, req.tables);
  } catch (e) {
    throw new DomainError(ErrorCode.InvalidInput, (e as Error).message);
  }
  const keyless = tablesWithoutKey(manifest, tables, req.mode);
  if (keyless.length) {
    throw new DomainError(
      ErrorCode.InvalidInput,
      `mode: table(s) ${keyless.join(', ')} have no primary key, and a ${req.mode} restore matches rows by primary key; restore them in replace mode or leave them out of tables`,
    );
  }
  const replaceOnly = tablesReplaceOnly(manifest, tables, req.mode);
  if (replaceOnly.length) {
    throw new DomainError(
      ErrorCode.InvalidInput,
      `mode: table(s) ${replaceOnly.map((t) => t.table).join(', ')} cannot be restored in ${req.mode} mode: ${replaceOnly[0].reason}; or leave them out of tables`,
      { tables: replaceOnly },
    );
  }
  const url = deps.urlFor(backup.type);
  const dialect = createDialect(url, deps.dialect);
  try {
    if (dialect.engine !== manifest.engine.name) {
      throw new DomainError(ErrorCode.Conflict, `backup ${backup.id} is of a ${manifest.engine.name} database; the target is ${dialect.engine}`);
    }
    const diffs = await schemaDifferences(dialect, manifest, tables);
    if (diffs.length && !req.allowSchemaMismatch) {
      throw new DomainError(
        ErrorCode.Conflict,
        `the target's table structure differs from backup ${backup.id}: ${diffs.map(describeDifference).join('; ')}. ` +
          'Set allowSchemaMismatch to restore by column name anyway.',
        { differences: diffs },
      );
    }
    const files = req.files ?? (req.mode === 'replace' && !req.tables && !!manifest.files.part);
    if (files && !manifest.files.part) throw new DomainError(ErrorCode.InvalidInput, `files: backup ${backup.id} holds no file artefacts`);
    if (files) assertConfiguredRoots(backup.id, manifest.files.roots, deps.fileRoots);
    return { backup, manifest, tables, files, url, dialect };
  } catch (e) {
    await dialect.close().catch(() => undefined);
    if (e instanceof RestoreRequestError) throw new DomainError(ErrorCode.Conflict, e.message);
    throw e;
  }
}

/**
 * The server writes file artefacts only into directories it is configured to back up. The
 * manifest names the directories, and whoever can write to storage can rewrite a manifest
 * (unencrypted ones entirely): trusting it would let a forged backup swap out any directory the
 * process can write.
 */
function assertConfiguredRoots(backupId: string, roots: string[], configured: string[]): void {
  const allowed = new Set(configured.map((r) => resolve(r)));
  const outside = roots.filter((r) => !allowed.has(resolve(r)));
  if (outside.length) {
    throw new DomainError(
      ErrorCode.Conflict,
      `files: backup ${backupId} holds files of ${outside.join(', ')}, which BACKUP_FILE_PATHS does not list ` +
        `(${configured.join(', ') || 'none'}); the server only restores files into configured directories. ` +
        'Restore with "files": false, or restore the files with the command line.',
    );
  }
}
