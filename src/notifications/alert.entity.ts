import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ISO_TIME, jsonText } from '../database/columns';

export type AlertState = 'open' | 'resolved';

/**
 * One episode of a condition that is wrong (a schedule past its deadline, offsite copies
 * lagging, a corrupt backup…), from the moment it was first raised until it was resolved.
 * `openKey` is the dedupe key while the episode is open and NULL once resolved: its unique
 * index lets exactly one open alert exist per key across every instance (NULLs never collide
 * on either engine), while resolved episodes of the same key stay as history.
 */
@Entity('strongroom_alerts')
@Index('ux_strongroom_alerts_open_key', ['openKey'], { unique: true })
@Index('ix_strongroom_alerts_created_id', ['createdAt', 'id'])
export class AlertEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'alert_key', type: 'varchar', length: 200 }) key: string;
  @Column({ name: 'open_key', type: 'varchar', length: 200, nullable: true }) openKey: string | null;
  @Column({ type: 'varchar', length: 64 }) type: string;
  @Column({ type: 'varchar', length: 16 }) severity: string;
  @Column({ type: 'varchar', length: 16 }) state: AlertState;
  @Column({ type: 'text' }) message: string;
  @Column({ type: 'text', transformer: jsonText<Record<string, unknown>>({}) }) details: Record<string, unknown>;
  /** First seen: when this episode was raised. */
  @Column({ name: 'created_at', ...ISO_TIME }) createdAt: string;
  @Column({ name: 'last_seen_at', ...ISO_TIME }) lastSeenAt: string;
  @Column({ type: 'integer' }) occurrences: number;
  /** When a webhook last announced it (raise or reminder). */
  @Column({ name: 'notified_at', ...ISO_TIME }) notifiedAt: string;
  @Column({ name: 'resolved_at', ...ISO_TIME, nullable: true }) resolvedAt: string | null;
  @Column({ name: 'resolution', type: 'text', nullable: true }) resolution: string | null;
}
