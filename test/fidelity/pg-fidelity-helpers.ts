/** Shared by the fidelity specs: a test key and a full backup taken as the backup service takes it. */
import { randomUUID } from 'node:crypto';
import type { Manifest } from '../../src/engine/archive/manifest.types';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { writeBackup } from '../../src/engine/backup/write-backup';
import type { Dialect } from '../../src/engine/dialects/dialect';
import type { LocalStorage } from '../../src/engine/storage/local-storage';

export const keys = keySourceFromConfig({ keys: `k:${Buffer.alloc(32, 7).toString('base64')}` });

/** A full backup of `tables` (default: every table the dialect lists). */
export async function fullBackup(dialect: Dialect, storage: LocalStorage, tables?: string[]): Promise<Manifest> {
  const id = randomUUID();
  return writeBackup(dialect, storage, {
    id,
    dir: `backups/${id}`,
    type: 'full',
    trigger: 'manual',
    description: null,
    tags: [],
    scheduleId: null,
    tables: tables ?? (await dialect.listTables()).map((t) => t.name),
    fileRoots: [],
    compression: 'gzip',
    keys,
    appVersion: 'test',
    migrations: [],
    auditHead: null,
    parallel: 2,
  });
}
