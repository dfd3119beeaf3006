import type { RecoveryEntity } from './recovery.entity';

/** Where a running recovery is; kept in memory only (see RecoveriesService). */
export interface RecoveryProgress {
  phase: 'pending' | 'safety-backup' | 'restoring' | 'files' | 'done';
  table: string | null;
  rows: number;
  /** Stored bytes of the backup read so far, its stored size, and the time left (progress-estimate.ts). */
  bytesDone?: number;
  bytesTotal?: number | null;
  etaSeconds?: number | null;
  /** When the first byte was read (internal: the rate's start, not shown). */
  startedMs?: number;
}

/** The recovery resource as API.md shows it, plus rollback links, options and live progress. */
export function toRecoveryView(e: RecoveryEntity, progress: RecoveryProgress | null = null) {
  return {
    id: e.id,
    backupId: e.backupId,
    mode: e.mode,
    tables: e.tables,
    status: e.status,
    safetyBackupId: e.safetyBackupId,
    rowsWritten: e.rowsWritten,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    error: e.error,
    note: e.note,
    rollbackOf: e.rollbackOf,
    rolledBackBy: e.rolledBackBy,
    requestedBy: e.requestedBy,
    options: {
      safetyBackup: e.options.safetyBackup,
      allowSchemaMismatch: e.options.allowSchemaMismatch,
      files: e.options.files,
    },
    progress: progress
      ? {
          phase: progress.phase,
          table: progress.table,
          rows: progress.rows,
          bytesDone: progress.bytesDone ?? 0,
          bytesTotal: progress.bytesTotal ?? null,
          etaSeconds: progress.etaSeconds ?? null,
        }
      : null,
    source: e.options.source ?? 'primary',
    scope: e.scope ?? null,
  };
}

export type RecoveryView = ReturnType<typeof toRecoveryView>;
