import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * One signed checkpoint of the audit trail (a C2SP signed note). A copy in the catalog
 * serves the API; the copies that count leave the database: backup storage (`storedAt`),
 * the offsite storage when configured (`offsiteStoredAt`),
 * witnesses, and every backup's manifest.
 */
@Entity('strongroom_audit_checkpoints')
export class AuditCheckpointEntity {
  @PrimaryColumn({ name: 'tree_size', type: 'integer' }) treeSize: number;
  @Column({ name: 'root_hash', type: 'varchar', length: 64 }) rootHash: string;
  @Column({ name: 'signed_at', ...ISO_TIME }) signedAt: string;
  /** The signed note, byte for byte as signed. */
  @Column({ type: 'text' }) note: string;
  /** When it was written to backup storage; null until then (retried every tick). */
  @Column({ name: 'stored_at', ...ISO_TIME, nullable: true }) storedAt: string | null;
  /** When it was written to the offsite storage; null until then, or while none is configured. */
  @Column({ name: 'offsite_stored_at', ...ISO_TIME, nullable: true }) offsiteStoredAt: string | null;
}
