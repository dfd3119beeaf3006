import { Column, Entity, PrimaryColumn } from 'typeorm';

export const MERKLE_TABLE = 'strongroom_audit_merkle';

/**
 * A complete subtree of the audit Merkle tree: (level, idx) covers leaves
 * [idx·2^level, (idx+1)·2^level); level 0 holds the leaf hashes. Written when a checkpoint
 * is made, never changed; any root or proof then needs O(log n) rows (engine/audit/merkle.ts).
 * Only a cache: offline verification recomputes everything from the events.
 */
@Entity(MERKLE_TABLE)
export class AuditMerkleNodeEntity {
  @PrimaryColumn({ type: 'integer' }) level: number;
  @PrimaryColumn({ type: 'integer' }) idx: number;
  @Column({ type: 'varchar', length: 64 }) hash: string;
}
