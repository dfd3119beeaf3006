/**
 * The status route's catalog totals (catalog-totals.ts) on a real catalog, both engines: kept
 * for the configured time, dropped by this process's own inserts, deletes and status or size
 * changes (also inside a transaction, and again when it commits), not by progress updates.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createTestDatabase, ENGINES, TestDatabase } from '../../test/support/databases';
import type { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from '../database/data-source-options';
import { BackupEntity } from './backup.entity';
import { CatalogTotals } from './catalog-totals';

function backup(sizeBytes: number): BackupEntity {
  const id = randomUUID();
  const now = new Date().toISOString();
  return {
    id,
    type: 'full',
    trigger: 'manual',
    status: 'running',
    scheduleId: null,
    description: null,
    tags: [],
    pinned: false,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    sizeBytes,
    rowCount: 0,
    tables: [],
    requestedTables: [],
    files: { count: 0, bytes: 0 },
    compression: 'zstd',
    encrypted: false,
    keyId: null,
    checksum: null,
    verifiedAt: null,
    error: null,
    progress: null,
    storageDir: `backups/${id}`,
    engine: 'sqlite',
    owner: null,
    heartbeatAt: null,
  };
}

describe.each(ENGINES)('CatalogTotals (%s)', (engine) => {
  let db: TestDatabase;
  let ds: DataSource;
  let totals: CatalogTotals;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    ds = new DataSource(buildDataSourceOptions(db.url, { migrationsRun: true }));
    await ds.initialize();
    totals = new CatalogTotals(ds, { STATUS_TOTALS_CACHE_SECONDS: 300 } as AppConfig);
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('keeps the totals until this process changes a backup, and sees such a change at once', async () => {
    const repo = ds.getRepository(BackupEntity);
    expect(await totals.get()).toEqual({ count: 0, totalBytes: 0 });

    const a = backup(1000);
    await repo.save(a);
    expect(await totals.get()).toEqual({ count: 1, totalBytes: 1000 });

    // A change this process did not make (another instance, plain SQL) waits for the time bound.
    await ds.query(`UPDATE strongroom_backups SET size_bytes = 5000 WHERE id = '${a.id}'`);
    expect(await totals.get()).toEqual({ count: 1, totalBytes: 1000 });

    // Progress and heartbeats do not drop the totals; a size or status change does.
    await repo.update(
      { id: a.id },
      { progress: { phase: 'tables', tablesDone: 1, tablesTotal: 2, rows: 1, bytes: 1 } },
    );
    expect(await totals.get()).toEqual({ count: 1, totalBytes: 1000 });
    await repo.update({ id: a.id }, { status: 'completed', sizeBytes: 7000 });
    expect(await totals.get()).toEqual({ count: 1, totalBytes: 7000 });

    // Inside a transaction: a read between the change and the commit is not what stays.
    const b = backup(300);
    await ds.transaction(async (m) => {
      await m.save(BackupEntity, b);
      await totals.get();
    });
    expect(await totals.get()).toEqual({ count: 2, totalBytes: 7300 });

    await repo.delete({ id: a.id });
    expect(await totals.get()).toEqual({ count: 1, totalBytes: 300 });
  });
});
