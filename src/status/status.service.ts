import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BackupEvents } from '../backup/backup-events';
import { BackupView } from '../backup/backup.view';
import { BACKUP_VIEW_COLUMNS, BackupRow, backupRowView, COL, placeholders, selectRows } from '../backup/backup-rows';
import { CatalogTotals } from '../backup/catalog-totals';
import { JobSweeper } from '../backup/job-sweeper';
import { AppConfig } from '../config/app-config';
import type { AlertEntity } from '../notifications/alert.entity';
import { OFFSITE_LAG_KEY, scheduleDeadlineKey, scheduleFailedKey, UNHEALTHY_KEY } from '../notifications/alert-keys';
import { toAlertView } from '../notifications/alert.view';
import type { AlertDto } from '../notifications/dto/alert.dto';
import { AlertCondition, NotificationsService } from '../notifications/notifications.service';
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

/** What GET /api/status answers: the status and the alerts open once its conditions were raised or resolved. */
export interface StatusReport extends StatusView {
  alerts: AlertDto[];
}

/** A problem of the status, and the alert it keeps open when it has one of its own. */
interface Problem {
  message: string;
  alert?: AlertCondition;
}

/** The keys the status check raises, so it resolves them (and only them) once their condition is gone. */
const STATUS_KEY = /^(status:unhealthy|offsite:lag|schedule:[^:]+:(deadline|failed))$/;

const HOUR_MS = 3_600_000;
/** `/api/status` sweeps stale jobs before it reports, but at most once per this interval (JobSweeper.sweepIfDue). */
export const STATUS_SWEEP_INTERVAL_MS = 1000;

/**
 * Is the data safe right now? Unhealthy when the newest completed backup is too old (or
 * there is none), a schedule's last run failed, backups use more storage than allowed, or
 * the offsite copies lag more than OFFSITE_MAX_LAG_HOURS, a copy of a backup failed its last
 * check, or the last restore drill failed.
 * Each check keeps the alerts in line with what it finds: `status:unhealthy` while anything is
 * wrong, and one alert per cause that has its own key (a schedule past its deadline or whose
 * last run failed, offsite copies lagging); whatever cleared is resolved. A failed copy and a
 * failed drill carry their own alerts, raised by the verification jobs.
 */
@Injectable()
export class StatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Status');
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
    // The instance that runs schedules looks at once after a start: a schedule missed while
    // the service was down is an alert now, not at the next status watch.
    if (this.config.SCHEDULER_ENABLED)
      void this.check().catch((e: Error) => this.logger.warn(`status check at start failed: ${e.message}`));
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
  }

  async status(now = new Date()): Promise<StatusView> {
    return (await this.evaluate(now)).view;
  }

  private async evaluate(now: Date): Promise<{ view: StatusView; problems: Problem[]; undecided: Set<string> }> {
    // A job whose owner is gone is ended first, so that what follows reports it as it is; a
    // sweep that began within the last second counts (monitors poll this route).
    await this.sweeper.sweepIfDue(STATUS_SWEEP_INTERVAL_MS).catch(() => 0);
    const problems: Problem[] = [];
    // Alerts this check cannot judge now, left as they are: a schedule's failed-run alert
    // while its next run is still going (only a completed run resolves it; resolving at the
    // start would announce the same failure again each time a retry fails).
    const undecided = new Set<string>();
    const problem = (message: string, alert?: Omit<AlertCondition, 'message'>) =>
      problems.push({ message, alert: alert && { ...alert, message } });
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
    if (!newest) problem('no completed backup exists');
    else if (rpoSeconds! * 1000 > maxAge * HOUR_MS)
      problem(`newest completed backup ${newestId} is older than MAX_BACKUP_AGE_HOURS (${maxAge}h): taken ${newestAt}`);

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
      const about = { scheduleId: s.id, scheduleName: s.name };
      if (now > deadline)
        problem(
          `schedule "${s.name}" (${s.id}): no completed backup since ${since}; it was due by ${deadline.toISOString()} (next run after that plus SCHEDULE_DEADLINE_GRACE_MINUTES=${grace})`,
          {
            key: scheduleDeadlineKey(s.id),
            type: 'schedule.missed',
            severity: 'critical',
            details: { ...about, since, deadline: deadline.toISOString() },
          },
        );
      const last = s.lastBackupId ? lastRuns.get(s.lastBackupId) : undefined;
      if (last?.status === 'pending' || last?.status === 'running') undecided.add(scheduleFailedKey(s.id));
      const failed = { key: scheduleFailedKey(s.id), type: 'backup.failed', severity: 'error' } as const;
      if (last?.status === 'failed')
        problem(
          `schedule "${s.name}" (${s.id}): last run failed: backup ${last.id}: ${last.error ?? 'unknown error'}`,
          {
            ...failed,
            details: { ...about, backupId: last.id, error: last.error },
          },
        );
      else if (!last && s.lastStatus === 'failed')
        problem(`schedule "${s.name}" (${s.id}): last run failed to start`, { ...failed, details: about });
    }

    const stats = await this.totals.get();
    const limit = this.config.MAX_STORAGE_BYTES;
    if (limit !== undefined && stats.totalBytes > limit)
      problem(`backups use ${stats.totalBytes} bytes, more than MAX_STORAGE_BYTES (${limit})`);

    const offsite = await this.offsite.lag(now);
    const offsiteProblem = this.offsite.problem(offsite);
    if (offsiteProblem)
      problem(offsiteProblem, {
        key: OFFSITE_LAG_KEY,
        type: 'offsite.lagging',
        severity: 'error',
        details: { lagSeconds: offsite!.lagSeconds, oldest: offsite!.oldest },
      });

    const checked = await this.verification.get();
    for (const message of this.verification.problems(checked)) problem(message);

    const view: StatusView = {
      healthy: problems.length === 0,
      problems: problems.map((p) => p.message),
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
    return { view, problems, undecided };
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

  /**
   * Computes the status and brings the alerts in line with it (raising what is wrong, resolving
   * what cleared); answers the status with the alerts open afterwards.
   */
  async check(now = new Date()): Promise<StatusReport> {
    const { view, problems, undecided } = await this.evaluate(now);
    const conditions = problems.flatMap((p) => (p.alert ? [p.alert] : []));
    if (!view.healthy)
      conditions.push({
        key: UNHEALTHY_KEY,
        type: 'status.unhealthy',
        severity: 'critical',
        message: `Strongroom is unhealthy: ${view.problems.join('; ')}`,
        details: { problems: view.problems, rpoSeconds: view.rpoSeconds },
      });
    const owns = (key: string) => STATUS_KEY.test(key) && !undecided.has(key);
    const open = await this.notifications.sync(conditions, owns, resolution);
    return { ...view, alerts: open.map(toAlertView) };
  }
}

/** Why a status alert closed: its condition is no longer reported. */
function resolution(a: AlertEntity): string {
  const name = typeof a.details.scheduleName === 'string' ? `"${a.details.scheduleName}"` : a.key.split(':')[1];
  if (a.key === UNHEALTHY_KEY) return 'Strongroom is healthy again';
  if (a.key === OFFSITE_LAG_KEY) return 'the offsite copies are within OFFSITE_MAX_LAG_HOURS again';
  if (a.key.endsWith(':deadline'))
    return `schedule ${name} is no longer overdue (a completed backup within its deadline, or the schedule was disabled or deleted)`;
  return `schedule ${name}: its last run no longer failed (a later run completed, or the schedule was disabled or deleted)`;
}
