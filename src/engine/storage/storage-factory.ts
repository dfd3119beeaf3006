/** Picks the storage driver from configuration, so callers depend only on BackupStorage. */
import { LocalStorage } from './local-storage';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import type { BackupStorage } from './storage';

export interface StorageConfig {
  driver: 'local' | 's3';
  /** Root directory for the local driver. */
  localDir: string;
  /** Required when driver is 's3'. */
  s3?: S3StorageOptions;
}

export function createStorage(config: StorageConfig): BackupStorage {
  switch (config.driver) {
    case 'local':
      return new LocalStorage(config.localDir);
    case 's3':
      if (!config.s3) throw new Error('storage: driver "s3" needs S3 settings (bucket, region, ...)');
      return new S3Storage(config.s3);
    default:
      throw new Error(`storage: unknown driver ${JSON.stringify(config.driver)}; expected "local" or "s3"`);
  }
}
