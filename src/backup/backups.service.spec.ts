import type { ScopesService } from '../scopes/scopes.service';
/**
 * Unit spec of what a boot does with backups nobody runs any more (no database, no Nest app):
 * the service against strict fakes of its own ports. The catalog queries and the engine
 * behind those ports run against real databases and storage in test/backup and test/jobs.
 */
import { Logger } from '@nestjs/common';
import type { AuditInput, AuditService } from '../audit/audit.service';
import { strictFake } from '../common/strict-fake.fixture';
import type { AppConfig } from '../config/app-config';
import type { LeaseService } from '../database/lease.service';
import type { Transactions } from '../database/transactions';
import { sampleManifest } from '../engine/archive/manifest.fixture';
import type { Manifest } from '../engine/archive/manifest.types';
import type { BackupStorage } from '../engine/storage/storage';
import type { BackupCatalogRepository } from './backup-catalog.repository';
import type { BackupCatalogService } from './backup-catalog.service';
import type { BackupEntity } from './backup.entity';
import type { BackupEvents, BackupFinishedEvent } from './backup-events';
import { JobCancelCatalog } from './job-cancel-catalog';
import { BackupsService } from './backups.service';
import type { EnginePort } from './engine.port';
import type { JobSweeper } from './job-sweeper';
import type { TargetDatabase } from './target-database';

const STALE_BEFORE = '2026-01-01T12:00:00.000Z';
// A host that is not this one: only a stale heartbeat can make its job an orphan.
const ELSEWHERE = 'other-host:4242:abcd1234:tok00001';

function openRow(id: string, heartbeatAt: string, over: Partial<BackupEntity> = {}): BackupEntity {
  return {
    id,
    type: 'full',
    trigger: 'manual',
    status: 'running',
    scheduleId: null,
    description: null,
    tags: [],
    pinned: false,
    createdAt: '2026-01-01T10:00:00.000Z',
    startedAt: '2026-01-01T10:00:01.000Z',
    finishedAt: null,
    sizeBytes: 0,
    rowCount: 0,
    tables: [],
    requestedTables: ['users'],
    files: { count: 0, bytes: 0 },
    compression: 'zstd',
    encrypted: false,
    keyId: null,
    checksum: null,
    verifiedAt: null,
    error: null,
    progress: { phase: 'tables', tablesDone: 0, tablesTotal: 1, rows: 0, bytes: 0 },
    storageDir: `backups/${id}`,
    engine: 'sqlite',
    owner: ELSEWHERE,
    heartbeatAt,
    ...over,
  };
}

function setup(rows: BackupEntity[], opts: { manifests?: Record<string, Manifest>; endedElsewhere?: string[] } = {}) {
  const ended: { row: BackupEntity; patch: Partial<BackupEntity>; event: AuditInput }[] = [];
  const catalogRepo = strictFake<BackupCatalogRepository>('catalogRepo', {
    openJobs: jest.fn(async () => rows),
    endIfUnchanged: jest.fn(async (row: BackupEntity, patch: Partial<BackupEntity>, event: AuditInput) => {
      if (opts.endedElsewhere?.includes(row.id)) return false;
      ended.push({ row, patch, event });
      return true;
    }),
  });
  const engine = strictFake<EnginePort>('engine', {
    readManifest: jest.fn(async (_storage: BackupStorage, dir: string) => {
      const m = opts.manifests?.[dir];
      if (!m) throw new Error(`no manifest in ${dir}`);
      return m;
    }),
  });
  const storage = strictFake<BackupStorage>('storage', { deletePrefix: jest.fn(async () => undefined) });
  const leases = strictFake<LeaseService>('leases', {
    releaseStale: jest.fn(async () => 0),
    releaseOwner: jest.fn(async () => 1),
  });
  const catalog = strictFake<BackupCatalogService>('catalog', {
    rescan: jest.fn(async () => ({ added: [], missing: [], skipped: [], offsiteOnly: [] })),
  });
  const sweeper = strictFake<JobSweeper>('sweeper', { register: jest.fn(), staleBefore: () => STALE_BEFORE });
  const emitted: BackupFinishedEvent[] = [];
  const events = strictFake<BackupEvents>('events', { emit: (e: BackupFinishedEvent) => void emitted.push(e) });
  const service = new BackupsService(
    catalogRepo,
    engine,
    storage,
    strictFake<TargetDatabase>('target'),
    leases,
    strictFake<Transactions>('tx'),
    strictFake<AuditService>('audit'),
    catalog,
    strictFake<AppConfig>('config'),
    sweeper,
    strictFake<JobCancelCatalog>('cancels'),
    strictFake<ScopesService>('scopes'),
    events,
  );
  return { service, ended, storage, leases, emitted, engine };
}

describe('BackupsService at boot: backups nobody runs any more', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('marks a stale job whose manifest is stored completed, from the manifest, and frees its lease', async () => {
    const row = openRow('b-stored', '2026-01-01T11:00:00.000Z');
    const manifest = { ...sampleManifest({ id: row.id }), checksum: 'c'.repeat(64) } as Manifest;
    const { service, ended, storage, leases, emitted } = setup([row], { manifests: { [row.storageDir]: manifest } });

    await service.onApplicationBootstrap();

    expect(ended).toHaveLength(1);
    expect(ended[0].patch).toMatchObject({ status: 'completed', rowCount: 2, checksum: 'c'.repeat(64), error: null });
    expect(ended[0].event).toMatchObject({
      action: 'backup.completed',
      outcome: 'success',
      resourceId: row.id,
      details: { reconciled: expect.stringMatching(/heartbeat stopped/) },
    });
    expect(storage.deletePrefix).not.toHaveBeenCalled();
    expect(leases.releaseOwner).toHaveBeenCalledWith(ELSEWHERE);
    expect(emitted).toEqual([expect.objectContaining({ kind: 'completed', backupId: row.id })]);
  });

  it('fails a stale job without a manifest, removes its parts and frees its lease', async () => {
    const row = openRow('b-partial', '2026-01-01T11:30:00.000Z');
    const { service, ended, storage, leases, emitted } = setup([row]);

    await service.onApplicationBootstrap();

    expect(storage.deletePrefix).toHaveBeenCalledWith(row.storageDir);
    expect(ended).toHaveLength(1);
    expect(ended[0].patch).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^interrupted: its heartbeat stopped .* its parts were removed$/),
    });
    expect(ended[0].event).toMatchObject({
      action: 'backup.failed',
      outcome: 'failure',
      details: { error: 'interrupted' },
    });
    expect(leases.releaseOwner).toHaveBeenCalledWith(ELSEWHERE);
    expect(emitted).toEqual([expect.objectContaining({ kind: 'failed', backupId: row.id })]);
  });

  it('leaves a job alone while its heartbeat is fresh (its owner elsewhere may still run it)', async () => {
    const { service, ended, engine, leases } = setup([openRow('b-alive', '2026-01-01T12:00:05.000Z')]);

    expect(await service.failOrphanedJobs(STALE_BEFORE)).toBe(0);
    expect(ended).toEqual([]);
    expect(engine.readManifest).not.toHaveBeenCalled();
    expect(leases.releaseOwner).not.toHaveBeenCalled();
  });

  it('counts and announces only the jobs it ended itself: one ended by another instance meanwhile is left to it', async () => {
    const mine = openRow('b-mine', '2026-01-01T11:00:00.000Z');
    const theirs = openRow('b-theirs', '2026-01-01T11:00:00.000Z', { owner: 'other-host:1:abcd1234:tok00002' });
    const { service, ended, leases, emitted } = setup([mine, theirs], { endedElsewhere: [theirs.id] });

    expect(await service.failOrphanedJobs(STALE_BEFORE)).toBe(1);
    expect(ended.map((e) => e.row.id)).toEqual([mine.id]);
    expect(leases.releaseOwner).toHaveBeenCalledTimes(1);
    expect(emitted.map((e) => e.backupId)).toEqual([mine.id]);
  });
});
