import type { Provider } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { createStorage } from '../engine/storage/storage-factory';
import type { BackupStorage } from '../engine/storage/storage';

export const BACKUP_STORAGE = Symbol('BACKUP_STORAGE');
/** The offsite storage (a BackupStorage), or null when OFFSITE_STORAGE is unset. */
export const OFFSITE_STORAGE = Symbol('OFFSITE_STORAGE');

/** Backup storage (local directory or S3) chosen by BACKUP_STORAGE. */
export function storageFromConfig(config: AppConfig): BackupStorage {
  return createStorage({
    driver: config.BACKUP_STORAGE as 'local' | 's3',
    localDir: config.BACKUP_DIR,
    s3:
      config.BACKUP_STORAGE === 's3'
        ? {
            bucket: config.S3_BUCKET ?? '',
            prefix: config.S3_PREFIX,
            region: config.S3_REGION,
            endpoint: config.S3_ENDPOINT,
            forcePathStyle: config.S3_FORCE_PATH_STYLE,
            accessKeyId: config.S3_ACCESS_KEY_ID,
            secretAccessKey: config.S3_SECRET_ACCESS_KEY,
          }
        : undefined,
  });
}

/** The second storage every completed backup is copied to (OFFSITE_*, mirroring the S3_* settings); null when off. */
export function offsiteStorageFromConfig(config: AppConfig): BackupStorage | null {
  if (!config.OFFSITE_STORAGE) return null;
  return createStorage({
    driver: config.OFFSITE_STORAGE,
    localDir: config.OFFSITE_DIR ?? '',
    s3:
      config.OFFSITE_STORAGE === 's3'
        ? {
            bucket: config.OFFSITE_S3_BUCKET ?? '',
            prefix: config.OFFSITE_S3_PREFIX,
            region: config.OFFSITE_S3_REGION,
            endpoint: config.OFFSITE_S3_ENDPOINT,
            forcePathStyle: config.OFFSITE_S3_FORCE_PATH_STYLE,
            accessKeyId: config.OFFSITE_S3_ACCESS_KEY_ID,
            secretAccessKey: config.OFFSITE_S3_SECRET_ACCESS_KEY,
          }
        : undefined,
  });
}

export const storageProvider: Provider = {
  provide: BACKUP_STORAGE,
  inject: [AppConfig],
  useFactory: storageFromConfig,
};

export const offsiteStorageProvider: Provider = {
  provide: OFFSITE_STORAGE,
  inject: [AppConfig],
  useFactory: offsiteStorageFromConfig,
};
