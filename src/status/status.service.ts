import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Not, Repository } from 'typeorm';
import { BackupEvents } from '../backup/backup-events';
import { BackupEntity } from '../backup/backup.entity';
import { toBackupView, BackupView } from '../backup/backup.view';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { JobSweeper } from '../backup/job-sweeper';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { scheduleDeadline } from '../scheduler/schedule-deadline';
import { toScheduleView } from '../scheduler/schedule.view';
import { SchedulesService } from '../scheduler/schedules.service';

export interface StatusView {
  healthy: boolean;
  problems: string[];
  lastBackup: BackupView | null;
  lastVerifiedBackup: BackupView | null;
  rpoSeconds: number | null;
  storage: { count: number; totalBytes: number };
  schedules: { id: string; name: string; nextRunAt: string | null }[];
}

const HOUR_MS = 3_600_000;
/** `/api/status` sweeps stale jobs before it reports, but at most once per this interval (JobSweeper.sweepIfDue). */
export const STATUS_SWEEP_INTERVAL_MS = 1000;

/**
 * Is the data safe right now? Unhealthy when the newest completed backup is too old (or
 * there is none), a schedule's last run failed, or backups use more storage than allowed.
 * Turning unhealthy raises one alert per transition.
 */
@Injectable()
export class StatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private lastHealthy: boolean | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    private readonly catalog: BackupCatalogService,
    private readonly schedules: SchedulesService,
    private readonly events: BackupEvents,
    private readonly notifications: NotificationsService,
    private readonly config: AppConfig,
    private readonly sweeper: JobSweeper,
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
    const newest = await this.backups.findOne({
      where: { status: 'completed' },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    const verified = await this.backups.findOne({
      where: { status: 'completed', verifiedAt: Not(IsNull()) },
      order: { verifiedAt: 'DESC', id: 'DESC' },
    });
    const rpoSeconds = newest ? Math.max(0, Math.floor((now.getTime() - Date.parse(newest.createdAt)) / 1000)) : null;
    const maxAge = this.config.MAX_BACKUP_AGE_HOURS;
    if (!newest) problems.push('no completed backup exists');
    else if (rpoSeconds! * 1000 > maxAge * HOUR_MS)
      problems.push(
        `newest completed backup ${newest.id} is older than MAX_BACKUP_AGE_HOURS (${maxAge}h): taken ${newest.createdAt}`,
      );

    const schedules = await this.schedules.all();
    const lastIds = schedules.map((s) => s.lastBackupId).filter((id): id is string => !!id);
    const lastRuns = new Map(
      (lastIds.length ? await this.backups.find({ where: { id: In(lastIds) } }) : []).map((b) => [b.id, b]),
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

    const stats = await this.catalog.stats();
    const limit = this.config.MAX_STORAGE_BYTES;
    if (limit !== undefined && stats.totalBytes > limit)
      problems.push(`backups use ${stats.totalBytes} bytes, more than MAX_STORAGE_BYTES (${limit})`);

    return {
      healthy: problems.length === 0,
      problems,
      lastBackup: newest ? toBackupView(newest) : null,
      lastVerifiedBackup: verified ? toBackupView(verified) : null,
      rpoSeconds,
      storage: { count: stats.count, totalBytes: stats.totalBytes },
      schedules: schedules.map((s) => ({ id: s.id, name: s.name, nextRunAt: toScheduleView(s, now).nextRunAt })),
    };
  }

  /** When each schedule's newest completed backup was taken. */
  private async lastSuccessPerSchedule(): Promise<Map<string, string>> {
    const rows: { scheduleId: string; newest: string }[] = await this.backups
      .createQueryBuilder('b')
      .select('b.schedule_id', 'scheduleId')
      .addSelect('MAX(b.created_at)', 'newest')
      .where('b.status = :s AND b.schedule_id IS NOT NULL', { s: 'completed' })
      .groupBy('b.schedule_id')
      .getRawMany();
    return new Map(rows.map((r) => [r.scheduleId, r.newest]));
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
