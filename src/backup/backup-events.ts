import { Injectable, Logger } from '@nestjs/common';
import type { BackupStatus } from './backup.entity';
import type { BackupTrigger, BackupType } from '../engine/archive/manifest.types';

/** A backup job of this process ended; emitted after its outcome is committed to the catalog. */
export interface BackupFinishedEvent {
  kind: Extract<BackupStatus, 'completed' | 'failed' | 'cancelled'>;
  backupId: string;
  type: BackupType;
  trigger: BackupTrigger;
  scheduleId: string | null;
  sizeBytes: number;
  startedAt: string | null;
  finishedAt: string;
  error: string | null;
}

export type BackupEventListener = (event: BackupFinishedEvent) => void | Promise<void>;

/**
 * A tiny in-process observer so schedules, metrics and notifications learn about finished
 * backups without BackupsService knowing them. Listeners run detached: a slow or failing
 * listener never delays or fails the backup job that emitted the event.
 */
@Injectable()
export class BackupEvents {
  private readonly logger = new Logger('BackupEvents');
  private readonly listeners = new Set<BackupEventListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: BackupEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: BackupFinishedEvent): void {
    for (const listener of this.listeners) {
      try {
        Promise.resolve(listener(event)).catch((e: unknown) => this.report(event, e));
      } catch (e) {
        this.report(event, e);
      }
    }
  }

  private report(event: BackupFinishedEvent, e: unknown): void {
    this.logger.error(
      `listener for backup ${event.backupId} (${event.kind}) failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** The event for a backup row and how its job ended. */
export function finishedEvent(
  row: {
    id: string;
    type: BackupFinishedEvent['type'];
    trigger: BackupFinishedEvent['trigger'];
    scheduleId: string | null;
    startedAt: string | null;
  },
  end: {
    kind: BackupFinishedEvent['kind'];
    sizeBytes?: number;
    startedAt?: string | null;
    finishedAt: string;
    error?: string | null;
  },
): BackupFinishedEvent {
  return {
    kind: end.kind,
    backupId: row.id,
    type: row.type,
    trigger: row.trigger,
    scheduleId: row.scheduleId,
    sizeBytes: end.sizeBytes ?? 0,
    startedAt: end.startedAt ?? row.startedAt,
    finishedAt: end.finishedAt,
    error: end.error ?? null,
  };
}
