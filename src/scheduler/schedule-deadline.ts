import { nextRun } from './cron-schedule';

/**
 * When a schedule is overdue: the first fire time after its last success (or after its
 * creation, before any), plus a grace for the backup to run. Past it, the schedule has failed
 * to protect the data, whatever the reason (no run failed: the process was down, the scheduler
 * stuck, the clock jumped), so it is a problem by itself.
 */
export function scheduleDeadline(cron: string, timezone: string, since: Date, graceMinutes: number): Date {
  return new Date(nextRun(cron, timezone, since).getTime() + graceMinutes * 60_000);
}
