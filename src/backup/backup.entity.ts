import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber, ISO_TIME, jsonText } from '../database/columns';
import type { BackupTrigger, BackupType } from '../engine/archive/manifest.types';
import type { ExcludedObject, Inventory } from '../engine/dialects/dialect';

export type BackupStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** Every status, for DTO enums and list filters (one source). */
export const BACKUP_STATUSES: readonly BackupStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];

export interface BackupTableSummary {
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** A scoped backup's scope: its definition, and (once completed) rows per table. */
export interface BackupScopeView {
  name: string | null;
  table: string;
  keys: Record<string, string | number>[];
  exclude: string[];
  filesColumn: string | null;
  /** Members per table of the scope (zeros included); empty until the backup completed. */
  members: Record<string, number>;
  /** Context rows (outside the scope, referenced by it) per table. */
  context: Record<string, number>;
  /** E.g. foreign key columns without an index. */
  warnings: string[];
}

export interface BackupProgressView {
  phase: string;
  tablesDone: number;
  tablesTotal: number;
  rows: number;
  bytes: number;
  /** Stored bytes written so far (the same as bytes), the expected total and the time left (progress-estimate.ts). */
  bytesDone?: number;
  bytesTotal?: number | null;
  etaSeconds?: number | null;
}

export type OffsiteStatus = 'pending' | 'copied' | 'failed';

/**
 * The catalog: an index over what storage holds. Storage (each backup's manifest) is the
 * truth; a rescan rebuilds missing rows from manifests and flags rows whose manifest is gone.
 */
@Entity('strongroom_backups')
// In the order the list, its cursor and the status route read (migrations 1763700009000 and 1764600600000 say why).
@Index('ix_strongroom_backups_created_id', ['createdAt', 'id'])
@Index('ix_strongroom_backups_status_created', ['status', 'createdAt', 'id', 'sizeBytes'])
@Index('ix_strongroom_backups_status_verified', ['status', 'verifiedAt', 'id'])
@Index('ix_strongroom_backups_schedule_status_created', ['scheduleId', 'status', 'createdAt'])
export class BackupEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 16 }) type: BackupType;
  @Column({ type: 'varchar', length: 16 }) trigger: BackupTrigger;
  @Column({ type: 'varchar', length: 16 }) status: BackupStatus;
  @Column({ name: 'schedule_id', type: 'varchar', length: 36, nullable: true }) scheduleId: string | null;
  @Column({ type: 'varchar', length: 1000, nullable: true }) description: string | null;
  @Column({ type: 'text', transformer: jsonText<string[]>([]) }) tags: string[];
  @Column({ type: 'boolean', default: false }) pinned: boolean;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'started_at', ...ISO_TIME, nullable: true }) startedAt: string | null;
  @Column({ name: 'finished_at', ...ISO_TIME, nullable: true }) finishedAt: string | null;
  @Column({ name: 'size_bytes', type: 'bigint', default: 0, transformer: bigintAsNumber }) sizeBytes: number;
  @Column({ name: 'row_count', type: 'bigint', default: 0, transformer: bigintAsNumber }) rowCount: number;
  /** Tables asked for (type "tables") before the run; the manifest's summary after it. */
  @Column({ type: 'text', transformer: jsonText<BackupTableSummary[]>([]) }) tables: BackupTableSummary[];
  @Column({ name: 'requested_tables', type: 'text', transformer: jsonText<string[]>([]) }) requestedTables: string[];
  @Column({
    type: 'text',
    transformer: jsonText<{ count: number; bytes: number; skipped?: number }>({ count: 0, bytes: 0 }),
  })
  files: { count: number; bytes: number; skipped?: number };
  @Column({ type: 'varchar', length: 16 }) compression: string;
  @Column({ type: 'boolean', default: false }) encrypted: boolean;
  @Column({ name: 'key_id', type: 'varchar', length: 64, nullable: true }) keyId: string | null;
  @Column({ type: 'varchar', length: 64, nullable: true }) checksum: string | null;
  @Column({ name: 'verified_at', ...ISO_TIME, nullable: true }) verifiedAt: string | null;
  /** When a verification last failed; later than verifiedAt means the last one failed (retention then deletes nothing). */
  @Column({ name: 'verify_failed_at', ...ISO_TIME, nullable: true }) verifyFailedAt?: string | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ type: 'text', nullable: true, transformer: jsonText<BackupProgressView | null>(null) })
  progress: BackupProgressView | null;
  /**
   * The manifest's inventory and exclusions, copied at completion (storage stays the truth).
   * Not selected by default: the inventory grows with the database (a row count per table), so
   * lists leave it out and only the single-backup read asks for it (BackupCatalogService.get).
   */
  @Column({ type: 'text', nullable: true, select: false, transformer: jsonText<Inventory | null>(null) })
  inventory?: Inventory | null;
  @Column({ type: 'text', nullable: true, select: false, transformer: jsonText<ExcludedObject[] | null>(null) })
  excluded?: ExcludedObject[] | null;
  /** Scoped backups: the scope and its member counts; null for other types. */
  @Column({ type: 'text', nullable: true, transformer: jsonText<BackupScopeView | null>(null) })
  scope?: BackupScopeView | null;
  /** Storage directory of the backup's parts and manifest. */
  @Column({ name: 'storage_dir', type: 'varchar', length: 300 }) storageDir: string;
  /** Engine of the backed-up database (postgres, sqlite). */
  @Column({ type: 'varchar', length: 16, nullable: true }) engine: string | null;
  /** The lease owner running the job (host:pid:nonce:token), so a restart can tell orphaned jobs. */
  @Column({ type: 'varchar', length: 200, nullable: true }) owner: string | null;
  /** Renewed with the job's lease while it runs; a stale one means nobody runs it any more. */
  @Column({ name: 'heartbeat_at', ...ISO_TIME, nullable: true }) heartbeatAt: string | null;
  /**
   * The offsite copy (OFFSITE_STORAGE): null while there is none to make (offsite copies off,
   * or a backup not completed); `at` is the time of the last attempt or of the copy; a failed
   * copy is retried at `offsiteNextAt` (offsite-copier.service.ts).
   */
  @Column({ name: 'offsite_status', type: 'varchar', length: 16, nullable: true }) offsiteStatus?: OffsiteStatus | null;
  @Column({ name: 'offsite_at', ...ISO_TIME, nullable: true }) offsiteAt?: string | null;
  @Column({ name: 'offsite_attempts', type: 'integer', default: 0 }) offsiteAttempts?: number;
  @Column({ name: 'offsite_error', type: 'text', nullable: true }) offsiteError?: string | null;
  @Column({ name: 'offsite_next_at', ...ISO_TIME, nullable: true }) offsiteNextAt?: string | null;
  /**
   * The rolling verifier's last check of each copy (src/verification): when it ran, pass or
   * fail, and what it found wrong (null when the copy passed). Which copies are due next is
   * decided from these (verify-slice.ts).
   */
  @Column({ name: 'primary_checked_at', ...ISO_TIME, nullable: true }) primaryCheckedAt?: string | null;
  @Column({ name: 'primary_check_error', type: 'text', nullable: true }) primaryCheckError?: string | null;
  @Column({ name: 'offsite_checked_at', ...ISO_TIME, nullable: true }) offsiteCheckedAt?: string | null;
  @Column({ name: 'offsite_check_error', type: 'text', nullable: true }) offsiteCheckError?: string | null;
  /** A cancel asked for (any instance may record it; the one running the job polls for it). */
  @Column({ name: 'cancel_requested_at', ...ISO_TIME, nullable: true }) cancelRequestedAt?: string | null;
  @Column({ name: 'cancel_requested_by', type: 'varchar', length: 200, nullable: true })
  cancelRequestedBy?: string | null;
  /**
   * Set by the job when it passes its commit point (the manifest write), only while no cancel
   * is recorded: a cancel and a commit never both win (job-cancel.ts).
   */
  @Column({ name: 'committing_at', ...ISO_TIME, nullable: true }) committingAt?: string | null;
}
