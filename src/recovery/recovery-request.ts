/**
 * Turning a recovery request into something safe to run: what only the server knows (the
 * backup is in the catalog and completed, its manifest and keys are readable from the
 * configured storage), then the engine's preflight (src/engine/restore/preflight.ts), which
 * the command line shares. Every refusal names what is wrong; nothing here writes.
 */
import { DomainError, ErrorCode } from '../common/domain-error';
import { isArchiveError } from '../engine/archive/errors';
import type { BackupType, Manifest } from '../engine/archive/manifest.types';
import { keysForManifest, type KeySource } from '../engine/backup/backup-keys';
import { readManifest } from '../engine/backup/read-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type { RestoreMode } from '../engine/dialects/dialect';
import {
  preflightRestore,
  type PreflightedRestore,
  type RequestWords,
  type RestoreRequest,
} from '../engine/restore/preflight';
import type { BackupStorage } from '../engine/storage/storage';
import type { BackupEntity } from '../backup/backup.entity';

/** The API's names for a recovery request's fields, as refusals name them. */
const API_WORDS: RequestWords = {
  tables: 'tables',
  mode: 'mode',
  files: 'files',
  target: 'the target',
  createSchema: 'createSchema',
  schemaMismatchHint: 'Set allowSchemaMismatch to restore by column name anyway.',
};

/** The server never creates a schema: that is the command line's disaster path. */
export interface RecoveryRequest extends Omit<RestoreRequest, 'createSchema'> {
  backupId: string;
}

export interface PreparedRecovery extends PreflightedRestore {
  backup: BackupEntity;
  /** Scoped backups: whether rows that moved out of the scope may be restored (moved back). */
  allowScopeMoves?: boolean;
  manifest: Manifest;
  /** The database written: the audit trail lives in the service database. */
  url: string;
}

const restorePhrase = (backupId: string) => `RESTORE ${backupId}`;
export const rollbackPhrase = (recoveryId: string) => `ROLLBACK ${recoveryId}`;

/** replace and merge overwrite data, so they need the phrase; missing-only only adds rows. */
export function assertConfirmed(mode: RestoreMode, backupId: string, confirm: string | undefined): void {
  if (mode === 'missing-only') return;
  const phrase = restorePhrase(backupId);
  if (confirm !== phrase) {
    throw new DomainError(
      ErrorCode.InvalidInput,
      `confirm: a ${mode} recovery overwrites data; set confirm to exactly "${phrase}"`,
    );
  }
}

export async function prepareRecovery(
  req: RecoveryRequest,
  backup: BackupEntity,
  deps: {
    storage: BackupStorage;
    keys: KeySource;
    urlFor(type: BackupType): string;
    dialect: DialectOptions;
    fileRoots: string[];
  },
): Promise<PreparedRecovery> {
  if (backup.status !== 'completed') {
    throw new DomainError(
      ErrorCode.Conflict,
      `backup ${backup.id} is ${backup.status}; only a completed backup can be restored`,
    );
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
  const url = deps.urlFor(backup.type);
  const checked = await preflightRestore(manifest, req, {
    openTarget: () => createDialect(url, deps.dialect),
    words: API_WORDS,
    allowedFileRoots: deps.fileRoots,
  });
  return { backup, manifest, url, ...checked };
}
