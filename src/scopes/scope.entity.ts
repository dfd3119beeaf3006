import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ISO_TIME, jsonText } from '../database/columns';

/** A saved scope definition: an operator says "engagement" rather than a root table and its exclusions. */
@Entity('strongroom_scopes')
export class ScopeEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) name: string;
  @Column({ name: 'root_table', type: 'varchar', length: 200 }) table: string;
  @Column({ type: 'text', transformer: jsonText<string[]>([]) }) exclude: string[];
  @Column({ name: 'files_column', type: 'varchar', length: 300, nullable: true }) filesColumn: string | null;
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'updated_at', ...ISO_TIME }) updatedAt: string;
}
