import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { SYSTEM_ACTOR } from '../common/request-context';
import { runAs } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { Transactions } from '../database/transactions';
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
 * Service-wide cron jobs (retention cleanup, and those modules add: rolling verification and
 * restore drills in src/verification, the status watch): every instance ticks, one claims the
 * fire time in the database and works.
 */
@Injectable()
export class ServiceJobs implements OnApplicationBootstrap {
  private readonly logger = new Logger('ServiceJobs');

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly tx: Transactions,
    private readonly retention: RetentionService,
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

  /** A cron tick acts as the system, explicitly: the job may have been registered while a request was served. */
  private async fire(job: ServiceJob): Promise<void> {
    await runAs(SYSTEM_ACTOR, () => this.runClaimed(job, tickFireTime(job.cron, job.timezone, Date.now())));
  }
}
