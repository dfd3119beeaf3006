import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * The recorded head of the audit chain, updated in the same transaction as each append.
 * The verifier compares it with the last event so that a deleted tail (which leaves a
 * perfectly linked shorter chain) is still detected.
 */
@Entity('strongroom_audit_head')
export class AuditHeadEntity {
  @PrimaryColumn({ type: 'integer' }) id: number;
  @Column({ type: 'integer' }) seq: number;
  @Column({ type: 'varchar', length: 64 }) hash: string;
  @Column({ name: 'updated_at', ...ISO_TIME }) updatedAt: string;
}
