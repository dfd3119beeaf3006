import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * One restore drill: the newest backup restored into a scratch database and compared with its
 * manifest (a deep verification). Kept so that each drill's duration, the measured RTO, is
 * judged against the drills before it (drill-rto.ts), whichever instance ran them.
 */
@Entity('strongroom_restore_drills')
@Index('ix_strongroom_restore_drills_started', ['startedAt', 'id'])
export class RestoreDrillEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'backup_id', type: 'varchar', length: 36 }) backupId: string;
  @Column({ name: 'started_at', ...ISO_TIME }) startedAt: string;
  @Column({ name: 'finished_at', ...ISO_TIME }) finishedAt: string;
  /** Wall time of the whole drill: every part read and checked, the restore, the comparison. */
  @Column({ name: 'duration_ms', type: 'integer' }) durationMs: number;
  @Column({ type: 'boolean' }) ok: boolean;
  /** The copy the drill restored from (the offsite one when the primary copy failed); null when neither could be read. */
  @Column({ type: 'varchar', length: 16, nullable: true }) source: string | null;
  /** What failed, check by check; null when the drill passed. */
  @Column({ type: 'text', nullable: true }) error: string | null;
  /** The median duration of the previous successful drills it was judged against; null for the first one. */
  @Column({ name: 'baseline_ms', type: 'integer', nullable: true }) baselineMs: number | null;
  @Column({ type: 'boolean', default: false }) regressed: boolean;
}
