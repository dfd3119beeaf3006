/** Shared by the fidelity specs: a test key and a full backup taken as the backup service takes it. */
import type { Manifest } from '../../src/engine/archive/manifest.types';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { writeBackup } from '../../src/engine/backup/write-backup';
import type { Dialect } from '../../src/engine/dialects/dialect';
import type { LocalStorage } from '../../src/engine/storage/local-storage';
import { fullBackupSpec } from '../../src/engine/backup/write-backup.fixture';

export const keys = keySourceFromConfig({ keys: `k:${Buffer.alloc(32, 7).toString('base64')}` });

/** A full backup of `tables` (default: every table the dialect lists). */
export async function fullBackup(dialect: Dialect, storage: LocalStorage, tables?: string[]): Promise<Manifest> {
  const all = tables ?? (await dialect.listTables()).map((t) => t.name);
  return writeBackup(dialect, storage, fullBackupSpec(all, keys, { compression: 'gzip' }));
}
