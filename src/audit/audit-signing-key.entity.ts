import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';

/**
 * The checkpoint signing key generated when AUDIT_SIGNING_KEY is not set, so every instance
 * and every restart signs with the same key. Setting AUDIT_SIGNING_KEY keeps the key out of
 * the database (docs/audit-trail.md says why that matters).
 */
@Entity('strongroom_audit_signing_key')
export class AuditSigningKeyEntity {
  @PrimaryColumn({ type: 'integer' }) id: number;
  /** The Ed25519 seed, base64. */
  @Column({ type: 'varchar', length: 64 }) seed: string;
  @Column({ name: 'public_key', type: 'varchar', length: 64 }) publicKey: string;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
}
