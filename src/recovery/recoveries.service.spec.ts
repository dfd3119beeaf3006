import type { ScopesService } from '../scopes/scopes.service';
/**
 * Unit spec of what a boot does with recoveries nobody runs any more (no database, no Nest
 * app): the service against strict fakes of its own ports. Whether a restore committed is the
 * target's answer (Dialect.restoreCommitted, proved against real databases in the dialects'
 * specs and test/jobs); here, what the service makes of each answer.
 */
import { Logger } from '@nestjs/common';
import type { AuditInput } from '../audit/audit.service';
import type { BackupCatalogService } from '../backup/backup-catalog.service';
import type { BackupCopies } from '../backup/backup-copies.service';
import type { BackupEntity } from '../backup/backup.entity';
import type { BackupsService } from '../backup/backups.service';
import type { EnginePort } from '../backup/engine.port';
import type { JobSweeper } from '../backup/job-sweeper';
import type { TargetDatabase } from '../backup/target-database';
import { strictFake } from '../common/strict-fake.fixture';
import type { AppConfig } from '../config/app-config';
import type { LeaseService } from '../database/lease.service';
import type { Transactions } from '../database/transactions';
import type { Dialect } from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';
import { JobCancelCatalog } from '../backup/job-cancel-catalog';
import { RecoveriesService } from './recoveries.service';
import type { RecoveryEntity } from './recovery.entity';
import type { RecoveryRepository } from './recovery.repository';

const STALE_BEFORE = '2026-01-01T12:00:00.000Z';
const ELSEWHERE = 'other-host:4242:abcd1234:tok00001';

function openRecovery(id: string, over: Partial<RecoveryEntity> = {}): RecoveryEntity {
  return {
    id,
    backupId: 'b1',
    mode: 'replace',
    tables: ['users'],
    status: 'running',
    safetyBackupId: null,
    rowsWritten: 0,
    createdAt: '2026-01-01T10:00:00.000Z',
    startedAt: '2026-01-01T10:00:01.000Z',
    finishedAt: null,
    error: null,
    options: { safetyBackup: false, allowSchemaMismatch: false, files: false, requestedTables: null },
    rollbackOf: null,
    rolledBackBy: null,
    requestedBy: 'admin',
    owner: ELSEWHERE,
    heartbeatAt: '2026-01-01T11:00:00.000Z',
    commitToken: '1234',
    note: null,
    ...over,
  };
}

/** `committed`: what the target says of each recovery's restore (an Error: it cannot say). */
function setup(rows: RecoveryEntity[], committed: Record<string, boolean | null | Error>) {
  const ended: { row: RecoveryEntity; patch: Partial<RecoveryEntity>; event: AuditInput }[] = [];
  const repo = strictFake<RecoveryRepository>('repo', {
    openJobs: jest.fn(async () => rows),
    endIfUnchanged: jest.fn(async (row: RecoveryEntity, patch: Partial<RecoveryEntity>, event: AuditInput) => {
      ended.push({ row, patch, event });
      return true;
    }),
  });
  const closed: string[] = [];
  const engine = strictFake<EnginePort>('engine', {
    openDialect: jest.fn((url: string) =>
      strictFake<Dialect>('dialect', {
        restoreCommitted: jest.fn(async ({ id }: { id: string }) => {
          const answer = committed[id];
          if (answer instanceof Error) throw answer;
          return answer;
        }),
        close: jest.fn(async () => void closed.push(url)),
      }),
    ),
  });
  const catalog = strictFake<BackupCatalogService>('catalog', {
    entity: jest.fn(async () => ({ id: 'b1', type: 'full' }) as BackupEntity),
  });
  const target = strictFake<TargetDatabase>('target', { sourceUrl: (type: string) => `sqlite:/target-of-${type}.db` });
  const leases = strictFake<LeaseService>('leases', { releaseOwner: jest.fn(async () => 1) });
  const sweeper = strictFake<JobSweeper>('sweeper', { register: jest.fn(), staleBefore: () => STALE_BEFORE });
  const service = new RecoveriesService(
    repo,
    strictFake<BackupStorage>('storage'),
    catalog,
    strictFake<BackupsService>('backups'),
    target,
    leases,
    strictFake<Transactions>('tx'),
    strictFake<AppConfig>('config'),
    sweeper,
    engine,
    strictFake<BackupCopies>('copies'),
    strictFake<JobCancelCatalog>('cancels'),
    strictFake<ScopesService>('scopes'),
  );
  return { service, ended, leases, closed };
}

describe('RecoveriesService: recoveries nobody runs any more', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('a restore the target shows committed is completed, with a note saying how that was established', async () => {
    const { service, ended, leases, closed } = setup([openRecovery('r1')], { r1: true });

    expect(await service.failInterrupted(STALE_BEFORE)).toBe(1);
    expect(ended[0].patch).toMatchObject({
      status: 'completed',
      error: null,
      note: expect.stringMatching(/commit proof/),
    });
    expect(ended[0].event).toMatchObject({
      action: 'recovery.completed',
      outcome: 'success',
      details: { tablesCommitted: true },
    });
    expect(leases.releaseOwner).toHaveBeenCalledWith(ELSEWHERE);
    expect(closed).toEqual(['sqlite:/target-of-full.db']);
  });

  it('a restore that did not commit is failed, saying the tables hold what they held', async () => {
    const { service, ended } = setup([openRecovery('r2')], { r2: false });

    await service.failInterrupted(STALE_BEFORE);
    expect(ended[0].patch).toMatchObject({
      status: 'failed',
      note: null,
      error: expect.stringMatching(/^interrupted: .*before its restore committed/),
    });
    expect(ended[0].event).toMatchObject({
      action: 'recovery.failed',
      outcome: 'failure',
      details: { tablesCommitted: false },
    });
  });

  it('when the target cannot say, it is failed and the error tells why and what to check', async () => {
    const { service, ended, closed } = setup([openRecovery('r3')], {
      r3: new Error('connect ECONNREFUSED postgres://app:s3cret@db/x'),
    });

    await service.failInterrupted(STALE_BEFORE);
    expect(ended[0].patch.status).toBe('failed');
    expect(ended[0].patch.error).toMatch(
      /could not be determined: connect ECONNREFUSED postgres:\/\/app:\*\*\*@db\/x\. Check the tables in scope against backup b1/,
    );
    expect(ended[0].patch.error).not.toContain('s3cret');
    expect(closed).toHaveLength(1);
  });

  it('a committed restore that was to restore files too is completed: its staged files follow the commit from their journal', async () => {
    const { service, ended } = setup(
      [
        openRecovery('r4', {
          options: { safetyBackup: false, allowSchemaMismatch: false, files: true, requestedTables: null },
        }),
      ],
      { r4: true },
    );

    await service.failInterrupted(STALE_BEFORE);
    expect(ended[0].patch).toMatchObject({
      status: 'completed',
      error: null,
      note: expect.stringMatching(/file artefacts, staged before that commit, are swapped in from their journal/),
    });
  });

  it('leaves a recovery with a fresh heartbeat alone, without asking the target', async () => {
    const { service, ended, leases } = setup([openRecovery('r5', { heartbeatAt: '2026-01-01T12:00:01.000Z' })], {});

    expect(await service.failInterrupted(STALE_BEFORE)).toBe(0);
    expect(ended).toEqual([]);
    expect(leases.releaseOwner).not.toHaveBeenCalled();
  });
});
