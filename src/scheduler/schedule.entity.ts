import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME, jsonText } from '../database/columns';
import type { RetentionPolicy } from './retention-policy';
import type { BackupType } from '../engine/archive/manifest.types';

/**
 * What a schedule of type "scope" backs up: a saved scope's name (or an inline root table and
 * exclusions) and the root keys, as a backup request takes it; resolved again at every run.
 */
export interface ScheduleScope {
  name?: string;
  table?: string;
  keys: Record<string, string | number>[];
  exclude?: string[];
  filesColumn?: string;
}

/** Retention settings of one schedule, as API.md shows them; periods use the schedule's own time zone. */
export type ScheduleRetention = Omit<RetentionPolicy, 'timezone'>;

export const DEFAULT_RETENTION: ScheduleRetention = {
  keepLast: 7,
  daily: 7,
  weekly: 4,
  monthly: 12,
  yearly: 0,
  maxAgeDays: null,
  maxTotalBytes: null,
};

/** A backup schedule. The database is the truth; each instance mirrors it into cron jobs. */
@Entity('strongroom_schedules')
export class ScheduleEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'varchar', length: 200 }) cron: string;
  @Column({ type: 'varchar', length: 64 }) timezone: string;
  @Column({ type: 'varchar', length: 16 }) type: BackupType;
  @Column({ type: 'text', transformer: jsonText<string[]>([]) }) tables: string[];
  /** Type "scope" only: the scope each run backs up; null otherwise. */
  @Column({ type: 'text', nullable: true, transformer: jsonText<ScheduleScope | null>(null) })
  scope?: ScheduleScope | null;
  @Column({ type: 'boolean', default: true }) enabled: boolean;
  @Column({ type: 'text', transformer: jsonText<ScheduleRetention>(DEFAULT_RETENTION) }) retention: ScheduleRetention;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'updated_at', ...ISO_TIME }) updatedAt: string;
  /**
   * The scheduled instant most recently claimed by some instance. Claiming is a conditional
   * UPDATE from an older value, so exactly one instance wins each tick; catch-up counts
   * missed fires from here.
   */
  @Column({ name: 'last_fire_at', ...ISO_TIME, nullable: true }) lastFireAt: string | null;
  @Column({ name: 'last_run_at', ...ISO_TIME, nullable: true }) lastRunAt: string | null;
  @Column({ name: 'last_status', type: 'varchar', length: 16, nullable: true }) lastStatus:
    'completed' | 'failed' | 'cancelled' | null;
  @Column({ name: 'last_backup_id', type: 'varchar', length: 36, nullable: true }) lastBackupId: string | null;
}
