import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from './columns';

/** A named lock with an owner and an expiry: "one writer" across processes (DESIGN.md invariant 7). */
@Entity('strongroom_leases')
export class LeaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'varchar', length: 200 }) owner: string;
  @Column({ name: 'acquired_at', ...ISO_TIME }) acquiredAt: string;
  @Column({ name: 'expires_at', ...ISO_TIME }) expiresAt: string;
}
