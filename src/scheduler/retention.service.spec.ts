/**
 * Unit spec of retention's apply (no database, no Nest app): what it does when a backup the
 * plan deletes went away (404) or became undeletable (409, pinned or running) between the
 * plan and the delete. The catalog's deletion itself runs for real in test/scheduler.
 */
import { Logger, type LoggerService } from '@nestjs/common';
import type { AuditInput, AuditService } from '../audit/audit.service';
import type { BackupCatalogService } from '../backup/backup-catalog.service';
import type { BackupEntity } from '../backup/backup.entity';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { Actor } from '../common/request-context';
import { runAs } from '../common/request-scope';
import { strictFake } from '../common/strict-fake.fixture';
import type { AppConfig } from '../config/app-config';
import type { NotificationsService } from '../notifications/notifications.service';
import type { Repository } from 'typeorm';
import type { Transactions } from '../database/transactions';
import type { RetentionDecisionEntity } from './retention-decision.entity';
import { RetentionService } from './retention.service';
import type { SchedulesService } from './schedules.service';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const ACTOR: Actor = { type: 'system', keyId: null, name: 'test', role: null };
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

function backup(id: string, createdAt: string): BackupEntity {
  return {
    id,
    status: 'completed',
    trigger: 'manual',
    scheduleId: null,
    createdAt,
    finishedAt: createdAt,
    sizeBytes: 10,
    pinned: false,
  } as BackupEntity;
}

function setup(deleteOutcome: Record<string, Error>) {
  const rows = [
    backup('newest', daysAgo(1)),
    // Recent ones so that the deletions stay within half the group (more would wait for a confirmation).
    ...[2, 3, 4, 5].map((d) => backup(`recent-${d}`, daysAgo(d))),
    backup('old', daysAgo(30)),
    backup('gone', daysAgo(31)),
    backup('pinned-since', daysAgo(32)),
    backup('broken', daysAgo(33)),
  ];
  const catalog = strictFake<BackupCatalogService>('catalog', {
    all: jest.fn(async () => rows),
    delete: jest.fn(async (id: string) => {
      if (deleteOutcome[id]) throw deleteOutcome[id];
    }),
  });
  const audited: AuditInput[] = [];
  const audit = strictFake<AuditService>('audit', {
    record: jest.fn(async (e: AuditInput) => void audited.push(e)) as unknown as AuditService['record'],
  });
  const notifications = strictFake<NotificationsService>('notifications', { notify: jest.fn() });
  const config = strictFake<AppConfig>('config', { ADHOC_RETENTION_DAYS: 7, FAILED_BACKUP_TTL_HOURS: 24 });
  const decisions = strictFake<Repository<RetentionDecisionEntity>>('decisions', { find: jest.fn(async () => []) });
  const service = new RetentionService(
    decisions,
    catalog,
    strictFake<SchedulesService>('schedules', { all: jest.fn(async () => []) }),
    audit,
    notifications,
    strictFake<Transactions>('tx', {}),
    config,
  );
  return { service, catalog, audited, notifications };
}

describe('RetentionService.apply', () => {
  const errors: string[] = [];
  const capture: LoggerService = {
    log: () => undefined,
    warn: () => undefined,
    error: (m: unknown) => void errors.push(String(m)),
  };
  beforeAll(() => Logger.overrideLogger(capture));
  beforeEach(() => (errors.length = 0));

  it('skips a backup deleted (404) or made undeletable (409) since the plan, deletes the rest, and says so', async () => {
    const { service, catalog, audited, notifications } = setup({
      gone: DomainError.notFound('backup', 'gone'),
      'pinned-since': new DomainError(ErrorCode.Conflict, 'backup pinned-since is pinned: unpin it first'),
    });

    const result = await runAs(ACTOR, () => service.apply(NOW));

    expect(catalog.delete).toHaveBeenCalledTimes(4);
    expect(catalog.delete).not.toHaveBeenCalledWith('newest', expect.anything());
    expect(result.deleted.sort()).toEqual(['broken', 'old']);
    expect(audited).toEqual([
      expect.objectContaining({
        // Recorded as whoever runAs names (the scheduler's system actor, or the CLI's operator).
        actor: ACTOR,
        action: 'retention.apply',
        outcome: 'failure',
        details: expect.objectContaining({
          deleted: expect.arrayContaining(['old', 'broken']),
          skipped: expect.arrayContaining([
            { id: 'gone', reason: 'backup gone not found' },
            { id: 'pinned-since', reason: 'backup pinned-since is pinned: unpin it first' },
          ]),
        }),
      }),
    ]);
    // An expected race is not an error worth an alert in the log.
    expect(errors).toEqual([]);
    expect(notifications.notify).toHaveBeenCalledWith(
      expect.objectContaining({
        type: 'retention.deleted',
        details: expect.objectContaining({ deleted: expect.arrayContaining(['old', 'broken']) }),
      }),
    );
  });

  it('skips a backup whose delete failed for another reason too, but logs it as an error', async () => {
    const { service, audited } = setup({ broken: new Error('storage unreachable') });

    const result = await runAs(ACTOR, () => service.apply(NOW));

    expect(result.deleted.sort()).toEqual(['gone', 'old', 'pinned-since']);
    expect(audited[0]).toMatchObject({
      outcome: 'failure',
      details: { skipped: [{ id: 'broken', reason: 'storage unreachable' }] },
    });
    expect(errors).toEqual([expect.stringContaining('retention could not delete backup broken: storage unreachable')]);
  });

  it('with nothing skipped the run is a success', async () => {
    const { service, audited } = setup({});

    expect((await runAs(ACTOR, () => service.apply(NOW))).deleted).toHaveLength(4);
    expect(audited[0]).toMatchObject({
      action: 'retention.apply',
      outcome: 'success',
      details: { skipped: [], kept: 5 },
    });
  });
});
