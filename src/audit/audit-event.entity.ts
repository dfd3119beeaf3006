import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';
import { AUDIT_TABLE } from '../engine/backup/bookkeeping-tables';

/**
 * One link of the append-only audit chain. `seq` is assigned under a lock, never from a
 * sequence, so a gap can only mean a deletion. The database refuses UPDATE and DELETE
 * on this table (triggers installed by the migration).
 */
@Entity(AUDIT_TABLE)
@Index(`ix_${AUDIT_TABLE}_at`, ['at'])
@Index(`ix_${AUDIT_TABLE}_action`, ['action'])
@Index(`ix_${AUDIT_TABLE}_resource`, ['resource', 'resourceId'])
export class AuditEventEntity {
  @PrimaryColumn({ type: 'integer' }) seq: number;
  @Column(ISO_TIME) at: string;
  @Column({ name: 'actor_type', type: 'varchar', length: 16 }) actorType: string;
  @Column({ name: 'actor_key_id', type: 'varchar', length: 36, nullable: true }) actorKeyId: string | null;
  @Column({ name: 'actor_name', type: 'varchar', length: 200 }) actorName: string;
  @Column({ name: 'actor_role', type: 'varchar', length: 16, nullable: true }) actorRole: string | null;
  @Column({ type: 'varchar', length: 100 }) action: string;
  @Column({ type: 'varchar', length: 50 }) resource: string;
  @Column({ name: 'resource_id', type: 'varchar', length: 200, nullable: true }) resourceId: string | null;
  @Column({ type: 'varchar', length: 16 }) outcome: string;
  @Column({ type: 'varchar', length: 64, nullable: true }) ip: string | null;
  @Column({ name: 'user_agent', type: 'varchar', length: 500, nullable: true }) userAgent: string | null;
  @Column({ name: 'request_id', type: 'varchar', length: 100, nullable: true }) requestId: string | null;
  /** JSON text, exactly as hashed (canonical JSON). */
  @Column({ type: 'text' }) details: string;
  @Column({ name: 'prev_hash', type: 'varchar', length: 64 }) prevHash: string;
  @Column({ type: 'varchar', length: 64 }) hash: string;
}
