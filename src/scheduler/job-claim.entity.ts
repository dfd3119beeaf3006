import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * Which fire time of a service-wide cron job (retention, verification, status watch) some
 * instance already took, and one-time markers (the default schedule was created).
 */
@Entity('strongroom_job_claims')
export class JobClaimEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 }) name: string;
  @Column({ name: 'last_fire_at', ...ISO_TIME }) lastFireAt: string;
}
