import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BackupEvents } from '../backup/backup-events';
import { BackupView } from '../backup/backup.view';
import { BACKUP_VIEW_COLUMNS, BackupRow, backupRowView, COL, placeholders, selectRows } from '../backup/backup-rows';
import { CatalogTotals } from '../backup/catalog-totals';
import { JobSweeper } from '../backup/job-sweeper';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { OffsiteLag, OffsiteLagService } from '../offsite/offsite-lag.service';
import { scheduleDeadline } from '../scheduler/schedule-deadline';
import { toScheduleView } from '../scheduler/schedule.view';
import { SchedulesService } from '../scheduler/schedules.service';
import { DrillsView, VerificationState, VerificationView } from '../verification/verification-state.service';

export interface StatusView {
  healthy: boolean;
  problems: string[];
  lastBackup: BackupView | null;
  lastVerifiedBackup: BackupView | null;
  rpoSeconds: number | null;
  rpoLimitSeconds: number;
  storage: { count: number; totalBytes: number; limitBytes: number | null };
  schedules: { id: string; name: string; nextRunAt: string | null }[];
  /** Offsite copies (OFFSITE_STORAGE): how far behind they are; null when off. */
  offsite: OffsiteLag | null;
  /** The rolling verifier's coverage of every retained copy, and the copies whose last check failed. */
  verification: VerificationView;
  /** Restore drills: the newest one and the measured RTO. */
  drills: DrillsView;
}

const HOUR_MS = 3_600_000;
/** `/api/status` sweeps stale jobs before it reports, but at most once per this interval (JobSweeper.sweepIfDue). */
export const STATUS_SWEEP_INTERVAL_MS = 1000;

/**
 * Is the data safe right now? Unhealthy when the newest completed backup is too old (or
 * there is none), a schedule's last run failed, backups use more storage than allowed, or
 * the offsite copies lag more than OFFSITE_MAX_LAG_HOURS, a copy of a backup failed its last
 * check, or the last restore drill failed.
 * Turning unhealthy raises one alert per transition.
 */
@Injectable()
export class StatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private lastHealthy: boolean | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly totals: CatalogTotals,
    private readonly schedules: SchedulesService,
    private readonly events: BackupEvents,
    private readonly notifications: NotificationsService,
    private readonly config: AppConfig,
    private readonly sweeper: JobSweeper,
    private readonly offsite: OffsiteLagService,
    private readonly verification: VerificationState,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.events.subscribe(() => this.check().then(() => undefined));
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
  }

  async status(now = new Date()): Promise<StatusView> {
    // A job whose owner is gone is ended first, so that what follows reports it as it is; a
    // sweep that began within the last second counts (monitors poll this route).
    await this.sweeper.sweepIfDue(STATUS_SWEEP_INTERVAL_MS).catch(() => 0);
    const problems: string[] = [];
    // Plain SQL (backup-rows.ts says why); each is one seek of an index that starts with the status.
    const p = placeholders(this.ds);
    const newest = await this.first(`WHERE "status" = ${p(1)} ORDER BY "created_at" DESC, "id" DESC LIMIT 1`, [
      'completed',
    ]);
    const verified = await this.first(
      `WHERE "status" = ${p(1)} AND "verified_at" IS NOT NULL ORDER BY "verified_at" DESC, "id" DESC LIMIT 1`,
      ['completed'],
    );
    const newestAt = newest?.[COL.created_at] as string | undefined;
    const newestId = newest?.[COL.id] as string | undefined;
    const rpoSeconds = newestAt ? Math.max(0, Math.floor((now.getTime() - Date.parse(newestAt)) / 1000)) : null;
    const maxAge = this.config.MAX_BACKUP_AGE_HOURS;
    if (!newest) problems.push('no completed backup exists');
    else if (rpoSeconds! * 1000 > maxAge * HOUR_MS)
      problems.push(
        `newest completed backup ${newestId} is older than MAX_BACKUP_AGE_HOURS (${maxAge}h): taken ${newestAt}`,
      );

    const schedules = await this.schedules.all();
    const lastIds = schedules.map((s) => s.lastBackupId).filter((id): id is string => !!id);
    const lastRuns = new Map(
      (lastIds.length
        ? ((await this.ds.query(
            `SELECT "id", "status", "error" FROM "strongroom_backups" WHERE "id" IN (${lastIds.map((_, i) => p(i + 1)).join(', ')})`,
            lastIds,
          )) as { id: string; status: string; error: string | null }[])
        : []
      ).map((b) => [b.id, b]),
    );
    const lastSuccess = await this.lastSuccessPerSchedule();
    const grace = this.config.SCHEDULE_DEADLINE_GRACE_MINUTES;
    for (const s of schedules) {
      if (!s.enabled) continue;
      const since = lastSuccess.get(s.id) ?? s.createdAt;
      const deadline = scheduleDeadline(s.cron, s.timezone, new Date(since), grace);
      if (now > deadline)
        problems.push(
          `schedule "${s.name}" (${s.id}): no completed backup since ${since}; it was due by ${deadline.toISOString()} (next run after that plus SCHEDULE_DEADLINE_GRACE_MINUTES=${grace})`,
        );
      const last = s.lastBackupId ? lastRuns.get(s.lastBackupId) : undefined;
      if (last?.status === 'failed')
        problems.push(
          `schedule "${s.name}" (${s.id}): last run failed: backup ${last.id}: ${last.error ?? 'unknown error'}`,
        );
      else if (!last && s.lastStatus === 'failed')
        problems.push(`schedule "${s.name}" (${s.id}): last run failed to start`);
    }

    const stats = await this.totals.get();
    const limit = this.config.MAX_STORAGE_BYTES;
    if (limit !== undefined && stats.totalBytes > limit)
      problems.push(`backups use ${stats.totalBytes} bytes, more than MAX_STORAGE_BYTES (${limit})`);

    const offsite = await this.offsite.lag(now);
    const offsiteProblem = this.offsite.problem(offsite);
    if (offsiteProblem) problems.push(offsiteProblem);

    const checked = await this.verification.get();
    problems.push(...this.verification.problems(checked));

    return {
      healthy: problems.length === 0,
      problems,
      lastBackup: newest ? backupRowView(newest) : null,
      lastVerifiedBackup: verified ? backupRowView(verified) : null,
      rpoSeconds,
      rpoLimitSeconds: this.config.MAX_BACKUP_AGE_HOURS * 3600,
      storage: { count: stats.count, totalBytes: stats.totalBytes, limitBytes: limit ?? null },
      schedules: schedules.map((s) => ({ id: s.id, name: s.name, nextRunAt: toScheduleView(s, now).nextRunAt })),
      offsite,
      verification: checked.verification,
      drills: checked.drills,
    };
  }

  /** The first catalog row (the resource's columns) that `rest` (WHERE … ORDER BY … LIMIT 1) selects. */
  private async first(rest: string, params: unknown[]): Promise<BackupRow | null> {
    const rows = await selectRows(this.ds, `SELECT ${BACKUP_VIEW_COLUMNS} FROM "strongroom_backups" ${rest}`, params);
    return rows[0] ?? null;
  }

  /**
   * When each schedule's newest completed backup was taken. Asked per schedule (few) so that each
   * answer is one seek of the (schedule_id, status, created_at) index, not a grouping of every
   * completed backup on each status request.
   */
  private async lastSuccessPerSchedule(): Promise<Map<string, string>> {
    const rows = (await this.ds.query(
      `SELECT s."id" AS "scheduleId",
              (SELECT MAX(b."created_at") FROM "strongroom_backups" b
                WHERE b."schedule_id" = s."id" AND b."status" = 'completed') AS "newest"
         FROM "strongroom_schedules" s`,
    )) as { scheduleId: string; newest: string | null }[];
    return new Map(rows.flatMap((r) => (r.newest === null ? [] : [[r.scheduleId, r.newest] as const])));
  }

  /** Computes the status and alerts when it has just turned unhealthy (once per transition in this process). */
  async check(now = new Date()): Promise<StatusView> {
    const view = await this.status(now);
    if (!view.healthy && this.lastHealthy !== false) {
      this.notifications.notify({
        type: 'status.unhealthy',
        severity: 'critical',
        message: `Strongroom is unhealthy: ${view.problems.join('; ')}`,
        details: { problems: view.problems, rpoSeconds: view.rpoSeconds },
      });
    }
    this.lastHealthy = view.healthy;
    return view;
  }
}
