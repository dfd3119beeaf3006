import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ISO_TIME } from '../database/columns';
import type { Role } from './roles';

/** An API key; only its SHA-256 is stored, the key itself is shown once at creation. */
@Entity('strongroom_api_keys')
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'varchar', length: 16 }) role: Role;
  @Index('uq_strongroom_api_keys_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash: string;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'revoked_at', ...ISO_TIME, nullable: true }) revokedAt: string | null;
  @Column({ name: 'last_used_at', ...ISO_TIME, nullable: true }) lastUsedAt: string | null;
}
