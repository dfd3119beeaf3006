/**
 * Unit spec of a schedule's tick (no database, no Nest app): claim, skip, start or fail,
 * against strict fakes of the service's own ports. The fire time a cron tick claims is
 * tickFireTime (cron-schedule.spec.ts); that exactly one instance wins a claim, and the
 * backups a tick starts, run for real in test/scheduler.
 */
import { Logger } from '@nestjs/common';
import type { SchedulerRegistry } from '@nestjs/schedule';
import type { AuditInput, AuditService } from '../audit/audit.service';
import type { BackupCatalogRepository } from '../backup/backup-catalog.repository';
import type { BackupEvents } from '../backup/backup-events';
import type { BackupView } from '../backup/backup.view';
import type { BackupsService, StartBackupInput } from '../backup/backups.service';
import type { JobSweeper } from '../backup/job-sweeper';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { Actor, RequestWithContext } from '../common/request-context';
import { currentActor, runInRequestScope } from '../common/request-scope';
import { strictFake } from '../common/strict-fake.fixture';
import type { AppConfig } from '../config/app-config';
import type { Transactions } from '../database/transactions';
import type { NotificationsService } from '../notifications/notifications.service';
import { ScheduleRunner } from './schedule-runner.service';
import { DEFAULT_RETENTION, type ScheduleEntity } from './schedule.entity';
import type { ScheduleRepository } from './schedule.repository';
import type { SchedulesService } from './schedules.service';

const FIRE = new Date('2026-03-02T03:00:00.000Z');

function schedule(over: Partial<ScheduleEntity> = {}): ScheduleEntity {
  return {
    id: 's1',
    name: 'nightly',
    cron: '0 3 * * *',
    timezone: 'UTC',
    type: 'tables',
    tables: ['users'],
    enabled: true,
    retention: { ...DEFAULT_RETENTION },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastFireAt: null,
    lastRunAt: null,
    lastStatus: null,
    lastBackupId: null,
    ...over,
  };
}

function setup(opts: {
  claimed?: boolean;
  s?: ScheduleEntity;
  previousStatus?: string | null;
  start?: (input: StartBackupInput) => Promise<BackupView>;
  sweep?: () => Promise<number>;
}) {
  const scheduleRepo = strictFake<ScheduleRepository>('scheduleRepo', {
    claimFire: jest.fn(async () => opts.claimed ?? true),
    recordFailedStart: jest.fn(async () => undefined),
  });
  const backupRepo = strictFake<BackupCatalogRepository>('backupRepo', {
    status: jest.fn(async () => (opts.previousStatus ?? null) as never),
  });
  const schedules = strictFake<SchedulesService>('schedules', {
    find: jest.fn(async () => opts.s ?? schedule()),
    recordStart: jest.fn(async () => undefined),
  });
  const backups = strictFake<BackupsService>('backups', {
    start: jest.fn(opts.start ?? (async () => ({ id: 'b-new' }) as BackupView)) as unknown as BackupsService['start'],
  });
  const audited: AuditInput[] = [];
  const audit = strictFake<AuditService>('audit', {
    record: jest.fn(async (e: AuditInput) => void audited.push(e)) as unknown as AuditService['record'],
  });
  const notifications = strictFake<NotificationsService>('notifications', { notify: jest.fn() });
  const sweeper = strictFake<JobSweeper>('sweeper', { sweep: jest.fn(opts.sweep ?? (async () => 0)) });
  const runner = new ScheduleRunner(
    schedules,
    backups,
    strictFake<SchedulerRegistry>('registry'),
    strictFake<BackupEvents>('events'),
    audit,
    notifications,
    strictFake<Transactions>('tx'),
    strictFake<AppConfig>('config'),
    sweeper,
    scheduleRepo,
    backupRepo,
  );
  return { runner, scheduleRepo, schedules, backups, audited, notifications, sweeper };
}

describe('ScheduleRunner.tick', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('does nothing when another instance claimed the fire time', async () => {
    const { runner, scheduleRepo, backups, sweeper, audited } = setup({ claimed: false });

    expect(await runner.tick('s1', FIRE)).toBe('not-claimed');
    expect(scheduleRepo.claimFire).toHaveBeenCalledWith('s1', FIRE);
    expect(sweeper.sweep).not.toHaveBeenCalled();
    expect(backups.start).not.toHaveBeenCalled();
    expect(audited).toEqual([]);
  });

  it("starts the schedule's backup as the system and records the start on the schedule", async () => {
    let startedAs: Actor | null = null;
    const { runner, backups, schedules } = setup({
      start: async () => {
        startedAs = currentActor();
        return { id: 'b-new' } as BackupView;
      },
    });

    // Even when the tick fires inside a request's scope (a cron job registered during a schedule edit).
    const admin: Actor = { type: 'api-key', keyId: 'k1', name: 'alice', role: 'admin' };
    const fired = runInRequestScope({ actor: admin } as RequestWithContext, () => runner.tick('s1', FIRE));
    expect(await fired).toBe('started');
    expect(backups.start).toHaveBeenCalledWith({
      type: 'tables',
      tables: ['users'],
      trigger: 'scheduled',
      scheduleId: 's1',
    });
    expect(startedAs).toMatchObject({ type: 'system', name: 'strongroom' });
    expect(schedules.recordStart).toHaveBeenCalledWith('s1', 'b-new');
  });

  it('skips (audited, never queued) while its previous run is still running', async () => {
    const { runner, backups, audited } = setup({
      s: schedule({ lastBackupId: 'b-prev', lastStatus: null }),
      previousStatus: 'running',
    });

    expect(await runner.tick('s1', FIRE)).toBe('skipped');
    expect(backups.start).not.toHaveBeenCalled();
    expect(audited).toEqual([
      expect.objectContaining({
        action: 'schedule.skipped',
        resourceId: 's1',
        outcome: 'failure',
        details: { fireAt: FIRE.toISOString(), reason: 'previous run b-prev is still running' },
      }),
    ]);
  });

  it('skips when the data is locked by another backup or restore (409), naming the holder', async () => {
    const locked = new DomainError(
      ErrorCode.Conflict,
      'another backup or restore of this database is running (host:1:x:y)',
    );
    const { runner, scheduleRepo, audited, notifications } = setup({ start: () => Promise.reject(locked) });

    expect(await runner.tick('s1', FIRE)).toBe('skipped');
    expect(audited).toEqual([
      expect.objectContaining({
        action: 'schedule.skipped',
        details: { fireAt: FIRE.toISOString(), reason: locked.message },
      }),
    ]);
    expect(scheduleRepo.recordFailedStart).not.toHaveBeenCalled();
    expect(notifications.notify).not.toHaveBeenCalled();
  });

  it('a start that fails otherwise is recorded on the schedule and alerts', async () => {
    const { runner, scheduleRepo, notifications, audited } = setup({
      start: () => Promise.reject(new Error('target unreachable')),
    });

    expect(await runner.tick('s1', FIRE)).toBe('failed');
    expect(scheduleRepo.recordFailedStart).toHaveBeenCalledWith('s1', FIRE.toISOString(), 'target unreachable');
    expect(notifications.notify).toHaveBeenCalledWith(
      expect.objectContaining({
        type: 'backup.failed',
        severity: 'error',
        details: { scheduleId: 's1', scheduleName: 'nightly', fireAt: FIRE.toISOString() },
        // An alert of the schedule, resolved by its next completed run.
        key: 'schedule:s1:failed',
      }),
    );
    expect(audited).toEqual([]);
  });

  it('a previous run that ended does not skip, and a failed sweep does not stop the tick', async () => {
    const { runner, backups } = setup({
      s: schedule({ lastBackupId: 'b-prev', lastStatus: null }),
      previousStatus: 'failed',
      sweep: () => Promise.reject(new Error('catalog down')),
    });

    expect(await runner.tick('s1', FIRE)).toBe('started');
    expect(backups.start).toHaveBeenCalledTimes(1);
  });
});
