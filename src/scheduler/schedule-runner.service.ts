import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomUUID } from 'node:crypto';
import { AuditService } from '../audit/audit.service';
import { BackupCatalogRepository } from '../backup/backup-catalog.repository';
import { BackupEvents, BackupFinishedEvent } from '../backup/backup-events';
import { BackupView } from '../backup/backup.view';
import { BackupsService } from '../backup/backups.service';
import { JobSweeper } from '../backup/job-sweeper';
import { DomainError, ErrorCode } from '../common/domain-error';
import { SYSTEM_ACTOR } from '../common/request-context';
import { runAs } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { scheduleFailedKey } from '../notifications/alert-keys';
import { NotificationsService } from '../notifications/notifications.service';
import { catchUpDue, tickFireTime, validateCron } from './cron-schedule';
import { claimOnce } from './job-claims';
import { DEFAULT_RETENTION, ScheduleEntity } from './schedule.entity';
import { ScheduleRepository } from './schedule.repository';
import { SchedulesService } from './schedules.service';

export type TickOutcome = 'started' | 'skipped' | 'not-claimed' | 'failed';

const JOB_PREFIX = 'schedule:';
const SYNC_INTERVAL = 'schedules:sync';
// Other instances learn about schedule edits by polling the table; edits made here apply at once.
const SYNC_EVERY_MS = 30_000;
const DEFAULT_SCHEDULE_MARKER = 'default-schedule-created';

/**
 * Mirrors enabled schedules into cron jobs of this process and runs their ticks. A tick only
 * starts a backup job; every instance ticks, one claims the fire time in the database and
 * starts the backup, and a tick whose previous run still goes is skipped (audited), never queued.
 */
@Injectable()
export class ScheduleRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Scheduler');
  private readonly registered = new Map<string, string>();
  private unsubscribe: (() => void) | null = null;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly schedules: SchedulesService,
    private readonly backups: BackupsService,
    private readonly registry: SchedulerRegistry,
    private readonly events: BackupEvents,
    private readonly audit: AuditService,
    private readonly notifications: NotificationsService,
    private readonly tx: Transactions,
    private readonly config: AppConfig,
    private readonly sweeper: JobSweeper,
    private readonly scheduleRepo: ScheduleRepository,
    private readonly backupRepo: BackupCatalogRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe = this.events.subscribe((e) => this.onBackupFinished(e));
    await this.ensureDefaultSchedule();
    if (!this.config.SCHEDULER_ENABLED) return;
    await this.catchUp(new Date());
    await this.sync();
    const timer = setInterval(
      () => void this.sync().catch((e: Error) => this.logger.error(`schedule sync failed: ${e.message}`)),
      SYNC_EVERY_MS,
    );
    timer.unref();
    this.registry.addInterval(SYNC_INTERVAL, timer);
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
    for (const id of [...this.registered.keys()]) this.unregister(id);
    if (this.registry.doesExist('interval', SYNC_INTERVAL)) this.registry.deleteInterval(SYNC_INTERVAL);
  }

  /** Brings this process's cron jobs in line with the table (serialized: edits and the poll may overlap). */
  sync(): Promise<void> {
    this.syncing = this.syncing.catch(() => undefined).then(() => this.syncNow());
    return this.syncing;
  }

  /** Starts a backup for the schedule now, outside its cron rhythm (409 while another backup runs). */
  async runNow(id: string): Promise<BackupView> {
    const s = await this.schedules.entity(id);
    const backup = await this.backups.start(backupRequestOf(s));
    await this.schedules.recordStart(s.id, backup.id);
    return backup;
  }

  /**
   * One tick of a schedule for one scheduled instant. Safe to call from every instance at
   * once: only the instance whose claim of `fireAt` succeeds goes on.
   */
  async tick(scheduleId: string, fireAt: Date): Promise<TickOutcome> {
    // The system acts, explicitly: cron jobs are registered by sync(), which a request may run
    // (a schedule edit), and would otherwise fire inside that request's scope.
    return runAs(SYSTEM_ACTOR, () => this.tickAsSystem(scheduleId, fireAt));
  }

  private async tickAsSystem(scheduleId: string, fireAt: Date): Promise<TickOutcome> {
    const claimed = await this.scheduleRepo.claimFire(scheduleId, fireAt);
    if (!claimed) return 'not-claimed';
    // A previous run (or any job holding the lease) whose owner is gone must not make this tick skip.
    await this.sweeper
      .sweep()
      .catch((e: Error) => this.logger.warn(`sweep of stale jobs before a tick failed: ${e.message}`));
    const s = await this.schedules.find(scheduleId);
    if (!s) return 'not-claimed';
    const fire = fireAt.toISOString();
    if (s.lastStatus === null && s.lastBackupId) {
      const previous = await this.backupRepo.status(s.lastBackupId);
      if (previous === 'pending' || previous === 'running') {
        await this.skip(s, fire, `previous run ${s.lastBackupId} is still ${previous}`);
        return 'skipped';
      }
    }
    try {
      const backup = await this.backups.start(backupRequestOf(s));
      await this.schedules.recordStart(s.id, backup.id);
      this.logger.log(`schedule ${s.name} (${s.id}) started backup ${backup.id} for ${fire}`);
      return 'started';
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.Conflict) {
        await this.skip(s, fire, e.message);
        return 'skipped';
      }
      const message = e instanceof Error ? e.message : String(e);
      this.logger.error(`schedule ${s.name} (${s.id}) could not start its backup: ${message}`);
      await this.scheduleRepo.recordFailedStart(s.id, fire, message);
      this.notifications.notify({
        type: 'backup.failed',
        severity: 'error',
        message: `Schedule "${s.name}" could not start its backup: ${message}`,
        details: { scheduleId: s.id, scheduleName: s.name, fireAt: fire },
        // Until a later run of the schedule completes (the status check resolves it).
        key: scheduleFailedKey(s.id),
      });
      return 'failed';
    }
  }

  /** After downtime: each enabled schedule whose last fire passed unclaimed runs once, if within the grace period. */
  async catchUp(now: Date): Promise<string[]> {
    const started: string[] = [];
    for (const s of await this.schedules.all()) {
      if (!s.enabled) continue;
      let due: Date | null = null;
      try {
        due = catchUpDue({
          expr: s.cron,
          tz: s.timezone,
          lastRunAt: s.lastFireAt ? new Date(s.lastFireAt) : null,
          createdAt: new Date(s.createdAt),
          now,
          graceMs: this.config.CATCH_UP_GRACE_MINUTES * 60_000,
        });
      } catch (e) {
        this.logger.error(`schedule ${s.id}: cannot compute catch-up: ${(e as Error).message}`);
      }
      if (!due) continue;
      this.logger.warn(
        `schedule ${s.name} (${s.id}) missed its run at ${due.toISOString()} while the service was down: running it now`,
      );
      if ((await this.tick(s.id, due)) === 'started') started.push(s.id);
    }
    return started;
  }

  /** The cron jobs this process has, by schedule id (tests and status). */
  jobFor(scheduleId: string): CronJob | null {
    const name = JOB_PREFIX + scheduleId;
    return this.registry.doesExist('cron', name) ? this.registry.getCronJob(name) : null;
  }

  private async syncNow(): Promise<void> {
    const rows = await this.schedules.all();
    const wanted = new Map(rows.filter((s) => s.enabled).map((s) => [s.id, s]));
    for (const id of [...this.registered.keys()]) {
      const s = wanted.get(id);
      if (!s || signature(s) !== this.registered.get(id)) this.unregister(id);
    }
    for (const s of wanted.values()) {
      if (this.registered.has(s.id)) continue;
      const job = CronJob.from({
        cronTime: s.cron,
        timeZone: s.timezone,
        // With SCHEDULER_ENABLED=false the job is registered (so status and next runs are
        // right) but never fires: another instance, or nobody, runs the schedules.
        start: this.config.SCHEDULER_ENABLED,
        onTick: () =>
          void this.onCronTick(s).catch((e: Error) => this.logger.error(`schedule ${s.id} tick failed: ${e.message}`)),
      });
      this.registry.addCronJob(JOB_PREFIX + s.id, job);
      this.registered.set(s.id, signature(s));
    }
  }

  private unregister(id: string): void {
    const name = JOB_PREFIX + id;
    if (this.registry.doesExist('cron', name)) this.registry.deleteCronJob(name);
    this.registered.delete(id);
  }

  private async onCronTick(s: ScheduleEntity): Promise<void> {
    // The scheduled instant, not the wake-up time, so that every instance claims the same value.
    await this.tick(s.id, tickFireTime(s.cron, s.timezone, Date.now()));
  }

  private async skip(s: ScheduleEntity, fireAt: string, reason: string): Promise<void> {
    this.logger.warn(`schedule ${s.name} (${s.id}) skipped its run at ${fireAt}: ${reason}`);
    await this.audit.record({
      actor: SYSTEM_ACTOR,
      action: 'schedule.skipped',
      resource: 'schedule',
      resourceId: s.id,
      outcome: 'failure',
      details: { fireAt, reason },
    });
  }

  private async onBackupFinished(e: BackupFinishedEvent): Promise<void> {
    if (e.scheduleId) await this.schedules.recordEnd(e.scheduleId, e.backupId, e.kind);
    if (e.kind === 'completed' && e.trigger === 'scheduled' && this.config.HEARTBEAT_URL) this.heartbeat(e.backupId);
    if (e.kind === 'failed') {
      this.notifications.notify({
        type: 'backup.failed',
        severity: 'error',
        message: `Backup ${e.backupId} (${e.trigger}, ${e.type}) failed: ${e.error ?? 'unknown error'}`,
        details: { backupId: e.backupId, trigger: e.trigger, type: e.type, scheduleId: e.scheduleId, error: e.error },
        // A schedule failing night after night is one alert, resolved by its next completed
        // run (the status check); a one-off backup's failure is a plain notification.
        key: e.trigger === 'scheduled' && e.scheduleId ? scheduleFailedKey(e.scheduleId) : undefined,
      });
    }
  }

  /** Fire and forget: a monitor that stops hearing from us is the alert, so a failed ping is only logged. */
  private heartbeat(backupId: string): void {
    const url = this.config.HEARTBEAT_URL!;
    fetch(url, { signal: AbortSignal.timeout(10_000) })
      .then((res) => {
        if (!res.ok) this.logger.warn(`heartbeat after backup ${backupId}: the monitor answered ${res.status}`);
      })
      .catch((e: Error) => this.logger.warn(`heartbeat after backup ${backupId} failed: ${e.message}`));
  }

  /** First start of a database: a daily schedule, created by exactly one instance, never again once deleted. */
  private async ensureDefaultSchedule(): Promise<void> {
    if (!this.config.DEFAULT_SCHEDULE_ENABLED) return;
    const cron = this.config.DEFAULT_SCHEDULE_CRON;
    const tz = this.config.BACKUP_TIMEZONE;
    const problem = validateCron(cron, tz);
    if (problem) throw new Error(`DEFAULT_SCHEDULE_CRON / BACKUP_TIMEZONE: ${problem}`);
    const created = await this.tx.run(async (m) => {
      if (!(await claimOnce(m, DEFAULT_SCHEDULE_MARKER))) return null;
      const now = nowIso();
      const row: ScheduleEntity = {
        id: randomUUID(),
        name: 'daily',
        cron,
        timezone: tz,
        type: 'full',
        tables: [],
        scope: null,
        enabled: true,
        retention: { ...DEFAULT_RETENTION },
        createdAt: now,
        updatedAt: now,
        lastFireAt: null,
        lastRunAt: null,
        lastStatus: null,
        lastBackupId: null,
      };
      await m.save(ScheduleEntity, row);
      await this.audit.record(
        {
          actor: SYSTEM_ACTOR,
          action: 'schedule.create',
          resource: 'schedule',
          resourceId: row.id,
          outcome: 'success',
          details: { name: row.name, cron, timezone: tz, default: true },
        },
        m,
      );
      return row;
    });
    if (created) this.logger.log(`created the default schedule "${created.name}" (${cron} ${tz})`);
  }
}

function signature(s: ScheduleEntity): string {
  return `${s.cron}\u0000${s.timezone}`;
}

/** The backup a run of `s` starts: its type, with its tables (type "tables") or its scope (type "scope"). */
export function backupRequestOf(s: ScheduleEntity) {
  return {
    type: s.type,
    tables: s.type === 'tables' ? s.tables : undefined,
    scope: s.type === 'scope' && s.scope ? s.scope : undefined,
    trigger: 'scheduled' as const,
    scheduleId: s.id,
  };
}
