import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * Maintenance as the catalog knows it, in one row, so every instance agrees and a restart
 * forgets nothing. An admin's switch lives here; a restore's maintenance does not: it is
 * derived from the recovery that runs, so it ends when that recovery ends, however it ends
 * (a crashed one is ended by the job sweep). `announced` and `targetReadOnly` record what was
 * last done about the combined state, so exactly one instance announces a change and a
 * read-only target left behind by a crash is put back.
 */
@Entity('strongroom_maintenance')
export class MaintenanceEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 }) id: string;
  @Column({ name: 'admin_active', type: 'boolean', default: false }) adminActive: boolean;
  @Column({ name: 'admin_reason', type: 'text', nullable: true }) adminReason: string | null;
  @Column({ name: 'admin_since', ...ISO_TIME, nullable: true }) adminSince: string | null;
  @Column({ name: 'admin_by', type: 'varchar', length: 200, nullable: true }) adminBy: string | null;
  /** The last state announced by webhook: 'active' or 'inactive'. */
  @Column({ type: 'varchar', length: 16, default: 'inactive' }) announced: string;
  /** True while Strongroom has set default_transaction_read_only on the target database. */
  @Column({ name: 'target_read_only', type: 'boolean', default: false }) targetReadOnly: boolean;
  @Column({ name: 'updated_at', ...ISO_TIME }) updatedAt: string;
}

export const MAINTENANCE_ROW = 'state';
