import { randomUUID } from 'node:crypto';
import { BackupEntity } from '../../src/backup/backup.entity';
import type { TestApp } from '../support/test-app';

/** A catalog row written directly (no stored parts), for retention and status scenarios with past dates. */
export async function insertBackup(
  t: TestApp,
  fields: Partial<BackupEntity> & { createdAt: string },
): Promise<BackupEntity> {
  const id = fields.id ?? randomUUID();
  const row: BackupEntity = {
    id,
    type: 'full',
    trigger: 'manual',
    status: 'completed',
    scheduleId: null,
    description: null,
    tags: [],
    pinned: false,
    startedAt: fields.createdAt,
    finishedAt: fields.createdAt,
    sizeBytes: 1000,
    rowCount: 10,
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
    engine: t.db.engine,
    owner: null,
    heartbeatAt: null,
    ...fields,
  };
  await t.dataSource.getRepository(BackupEntity).save(row);
  return row;
}

export const daysAgo = (n: number, from = Date.now()): string => new Date(from - n * 86_400_000).toISOString();
