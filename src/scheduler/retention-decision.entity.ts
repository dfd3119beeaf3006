import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ISO_TIME, jsonText } from '../database/columns';

export type RetentionDecisionStatus = 'pending' | 'confirmed' | 'superseded';

/**
 * A cleanup that would delete too much of one group (a schedule's backups, or the ad-hoc ones)
 * and waits for an admin: exactly these backups, as the plan saw them when it stopped. A
 * confirmation covers only this set; a plan that now deletes more makes a new decision.
 */
@Entity('strongroom_retention_decisions')
@Index('ix_strongroom_retention_decisions_status', ['status', 'createdAt'])
export class RetentionDecisionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  /** The schedule id, or "ad-hoc". */
  @Column({ name: 'group_key', type: 'varchar', length: 36 }) group: string;
  @Column({ name: 'group_name', type: 'varchar', length: 200 }) groupName: string;
  @Column({ type: 'varchar', length: 16 }) status: RetentionDecisionStatus;
  @Column({ name: 'backup_ids', type: 'text', transformer: jsonText<string[]>([]) }) backupIds: string[];
  /** Completed backups the group had when the plan stopped. */
  @Column({ type: 'integer' }) completed: number;
  @Column({ type: 'text' }) reason: string;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'decided_at', ...ISO_TIME, nullable: true }) decidedAt: string | null;
  @Column({ name: 'decided_by', type: 'varchar', length: 200, nullable: true }) decidedBy: string | null;
}
