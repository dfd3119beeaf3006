import { nextRun } from './cron-schedule';
import type { ScheduleEntity } from './schedule.entity';

/** The schedule resource as API.md shows it; nextRunAt is computed, never stored. */
export function toScheduleView(s: ScheduleEntity, now = new Date()) {
  return {
    id: s.id,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    type: s.type,
    tables: s.tables,
    scope: s.scope ?? null,
    enabled: s.enabled,
    retention: s.retention,
    lastRunAt: s.lastRunAt,
    lastStatus: s.lastStatus,
    lastBackupId: s.lastBackupId,
    nextRunAt: s.enabled ? nextRun(s.cron, s.timezone, now).toISOString() : null,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export type ScheduleView = ReturnType<typeof toScheduleView>;
