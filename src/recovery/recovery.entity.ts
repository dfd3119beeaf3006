import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintAsNumber, ISO_TIME, jsonText } from '../database/columns';
import type { RestoreMode } from '../engine/dialects/dialect';

export type RecoveryStatus = 'pending' | 'running' | 'completed' | 'failed' | 'rolled_back' | 'cancelled';

/** What the request asked for beyond mode and tables, kept so a recovery can be explained later. */
export interface RecoveryOptions {
  safetyBackup: boolean;
  allowSchemaMismatch: boolean;
  /** Whether the backup's file artefacts are restored too (replace of a whole backup that has them). */
  files: boolean;
  /** Tables exactly as the request named them; null when it asked for the whole backup. */
  requestedTables: string[] | null;
  /** Set when the backup was read from its offsite copy (the primary copy missing or corrupt). */
  source?: 'primary' | 'offsite';
}

/** A scoped recovery: the scope restored, and rows written per table once it completed. */
export interface RecoveryScope {
  name: string | null;
  table: string;
  keys: Record<string, string | number>[];
  exclude: string[];
  allowScopeMoves: boolean;
  rows: Record<string, number>;
}

/** One restore of a backup into the target database (or a rollback of an earlier one). */
@Entity('strongroom_recoveries')
@Index('ix_strongroom_recoveries_created', ['createdAt'])
@Index('ix_strongroom_recoveries_status', ['status'])
export class RecoveryEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'backup_id', type: 'varchar', length: 36 }) backupId: string;
  @Column({ type: 'varchar', length: 16 }) mode: RestoreMode;
  /** Tables in scope, resolved from the request and the backup's manifest. */
  @Column({ type: 'text', transformer: jsonText<string[]>([]) }) tables: string[];
  @Column({ type: 'varchar', length: 16 }) status: RecoveryStatus;
  @Column({ name: 'safety_backup_id', type: 'varchar', length: 36, nullable: true }) safetyBackupId: string | null;
  @Column({ name: 'rows_written', type: 'bigint', default: 0, transformer: bigintAsNumber }) rowsWritten: number;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'started_at', ...ISO_TIME, nullable: true }) startedAt: string | null;
  @Column({ name: 'finished_at', ...ISO_TIME, nullable: true }) finishedAt: string | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({
    type: 'text',
    transformer: jsonText<RecoveryOptions>({
      safetyBackup: true,
      allowSchemaMismatch: false,
      files: false,
      requestedTables: null,
    }),
  })
  options: RecoveryOptions;
  /** Set on a rollback: the recovery it undoes. */
  @Column({ name: 'rollback_of', type: 'varchar', length: 36, nullable: true }) rollbackOf: string | null;
  /** Set on a recovery that was rolled back: the rollback that undid it. */
  @Column({ name: 'rolled_back_by', type: 'varchar', length: 36, nullable: true }) rolledBackBy: string | null;
  /** Name of the API key (or "strongroom"/"cli") that asked for it. */
  @Column({ name: 'requested_by', type: 'varchar', length: 200 }) requestedBy: string;
  /** The lease owner running it (host:pid:nonce:token), so a restart can tell an interrupted recovery. */
  @Column({ type: 'varchar', length: 200, nullable: true }) owner: string | null;
  /** Renewed with the recovery's lease while it runs; a stale one means nobody runs it any more. */
  @Column({ name: 'heartbeat_at', ...ISO_TIME, nullable: true }) heartbeatAt: string | null;
  /**
   * The engine's handle on the restore transaction, kept before it writes (PostgreSQL: its
   * transaction id), so that after a crash the target can say whether it committed.
   */
  @Column({ name: 'commit_token', type: 'varchar', length: 64, nullable: true }) commitToken: string | null;
  /** Scoped recoveries (of a scoped backup): the scope and rows written per table; null otherwise. */
  @Column({ type: 'text', nullable: true, transformer: jsonText<RecoveryScope | null>(null) })
  scope?: RecoveryScope | null;
  /** How an interrupted recovery's outcome was established, when it was not recorded by its own process. */
  @Column({ type: 'text', nullable: true }) note: string | null;
  /** A cancel asked for (any instance may record it; the one running the restore polls for it). */
  @Column({ name: 'cancel_requested_at', ...ISO_TIME, nullable: true }) cancelRequestedAt?: string | null;
  @Column({ name: 'cancel_requested_by', type: 'varchar', length: 200, nullable: true })
  cancelRequestedBy?: string | null;
  /**
   * Set right before the restore commits, only while no cancel is recorded: after it a cancel
   * is too late (409), before it the restore rolls back (job-cancel.ts).
   */
  @Column({ name: 'committing_at', ...ISO_TIME, nullable: true }) committingAt?: string | null;
}
