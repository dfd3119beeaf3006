import type { BackupEntity, BackupProgressView } from './backup.entity';

/** The backup resource exactly as API.md shows it. */
export function toBackupView(e: BackupEntity) {
  return {
    id: e.id,
    type: e.type,
    trigger: e.trigger,
    status: e.status,
    scheduleId: e.scheduleId,
    description: e.description,
    tags: e.tags,
    pinned: e.pinned,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    sizeBytes: e.sizeBytes,
    rowCount: e.rowCount,
    tables: e.tables,
    files: e.files,
    compression: e.compression,
    encrypted: e.encrypted,
    keyId: e.keyId,
    checksum: e.checksum,
    verifiedAt: e.verifiedAt,
    error: e.error,
    progress: progressView(e.progress, e.status),
    offsite: {
      status: e.offsiteStatus ?? null,
      at: e.offsiteAt ?? null,
      attempts: e.offsiteAttempts ?? 0,
      error: e.offsiteError ?? null,
      nextAttemptAt: e.offsiteNextAt ?? null,
    },
    scope: e.scope ?? null,
  };
}

export type BackupView = ReturnType<typeof toBackupView>;

/** Progress as stored, with the byte fields always present (rows written before they existed lack them). */
export function progressView(progress: BackupProgressView | null, status: string) {
  const p = progress ?? { phase: status, tablesDone: 0, tablesTotal: 0, rows: 0, bytes: 0 };
  return {
    ...p,
    bytesDone: p.bytesDone ?? p.bytes,
    bytesTotal: p.bytesTotal ?? null,
    etaSeconds: p.etaSeconds ?? null,
  };
}

/**
 * One backup as GET /api/backups/:id shows it: the resource plus what the database held at the
 * snapshot (`inventory`) and what configuration left out (`excluded`). Lists leave both out:
 * the inventory grows with the database. Null where the backup recorded none (a backup that
 * has not completed; `excluded`: a backup other than a whole PostgreSQL database; either:
 * one catalogued before this version, whose manifest still holds them).
 */
export function toBackupDetail(e: BackupEntity) {
  return { ...toBackupView(e), inventory: e.inventory ?? null, excluded: e.excluded ?? null };
}

export type BackupDetail = ReturnType<typeof toBackupDetail>;
