/** A manual full backup's spec for engine specs: fields a test does not care about at fixed values. */
import { randomUUID } from 'node:crypto';
import type { KeySource } from './backup-keys';
import type { WriteBackupSpec } from './write-backup';

export function fullBackupSpec(
  tables: string[],
  keys: KeySource,
  over: Partial<WriteBackupSpec> = {},
): WriteBackupSpec {
  const id = randomUUID();
  return {
    id,
    dir: `backups/${id}`,
    type: 'full',
    trigger: 'manual',
    description: null,
    tags: [],
    scheduleId: null,
    tables,
    fileRoots: [],
    compression: 'zstd',
    keys,
    appVersion: 'test',
    migrations: [],
    auditHead: null,
    parallel: 2,
    ...over,
  };
}
