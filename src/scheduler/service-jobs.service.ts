import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { BackupArchiveService } from '../backup/backup-archive.service';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { SYSTEM_ACTOR } from '../common/request-context';
import { runAs } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { Transactions } from '../database/transactions';
import { NotificationsService } from '../notifications/notifications.service';
import { tickFireTime, validateCron } from './cron-schedule';
import { claimJobFire } from './job-claims';
import { RetentionService } from './retention.service';

export interface ServiceJob {
  name: string;
  cron: string;
  timezone: string;
  run: (fireAt: Date) => Promise<void>;
}

/**
 * Service-wide cron jobs (retention cleanup, verification of the newest backup, and any a
 * module adds): every instance ticks, one claims the fire time in the database and works.
 */
@Injectable()
export class ServiceJobs implements OnApplicationBootstrap {
  private readonly logger = new Logger('ServiceJobs');

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly tx: Transactions,
    private readonly retention: RetentionService,
    private readonly catalog: BackupCatalogService,
    private readonly archive: BackupArchiveService,
    private readonly notifications: NotificationsService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const tz = this.config.BACKUP_TIMEZONE;
    this.add({
      name: 'retention',
      cron: this.config.RETENTION_CRON,
      timezone: tz,
      run: () => this.retention.apply().then(() => undefined),
    });
    this.add({
      name: 'verify',
      cron: this.config.VERIFY_CRON,
      timezone: tz,
      run: (fireAt) => this.verifyNewest(fireAt).then(() => undefined),
    });
  }

  /** Registers a job (only when SCHEDULER_ENABLED); a bad expression stops the boot naming it. */
  add(job: ServiceJob): void {
    const problem = validateCron(job.cron, job.timezone);
    if (problem) throw new Error(`cron job "${job.name}": ${problem}`);
    if (!this.config.SCHEDULER_ENABLED) return;
    const cron = CronJob.from({
      cronTime: job.cron,
      timeZone: job.timezone,
      start: true,
      onTick: () => void this.fire(job).catch((e: Error) => this.logger.error(`${job.name} failed: ${e.message}`)),
    });
    this.registry.addCronJob(`service:${job.name}`, cron);
  }

  /** Runs `job` for `fireAt` if this instance claims that fire time; false when another did. */
  async runClaimed(job: Pick<ServiceJob, 'name' | 'run'>, fireAt: Date): Promise<boolean> {
    if (!(await this.tx.run((m) => claimJobFire(m, job.name, fireAt)))) return false;
    await job.run(fireAt);
    return true;
  }

  /**
   * Verifies the newest completed backup (deep on DEEP_VERIFY_WEEKDAY in BACKUP_TIMEZONE);
   * a failed or impossible verification raises an alert.
   */
  async verifyNewest(fireAt: Date): Promise<{ backupId: string; deep: boolean; ok: boolean } | null> {
    const newest = (await this.catalog.list({ status: 'completed' }, 1)).items[0];
    if (!newest) return null;
    const deep = weekdayIn(fireAt, this.config.BACKUP_TIMEZONE) === this.config.DEEP_VERIFY_WEEKDAY;
    let ok = false;
    let detail: string;
    try {
      const result = await this.archive.verify(newest.id, deep);
      ok = result.ok;
      detail = result.checks
        .filter((c) => !c.ok)
        .map((c) => `${c.name}: ${c.detail ?? 'failed'}`)
        .join('; ');
    } catch (e) {
      detail = e instanceof Error ? e.message : String(e);
    }
    if (!ok) {
      this.notifications.notify({
        type: 'verify.failed',
        severity: 'critical',
        message: `${deep ? 'Deep verification' : 'Verification'} of backup ${newest.id} failed: ${detail}`,
        details: { backupId: newest.id, deep },
      });
    }
    return { backupId: newest.id, deep, ok };
  }

  /** A cron tick acts as the system, explicitly: the job may have been registered while a request was served. */
  private async fire(job: ServiceJob): Promise<void> {
    await runAs(SYSTEM_ACTOR, () => this.runClaimed(job, tickFireTime(job.cron, job.timezone, Date.now())));
  }
}

function weekdayIn(at: Date, timezone: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short' }).format(at);
  return ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(name);
}
