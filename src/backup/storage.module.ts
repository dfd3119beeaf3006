import { Global, Module } from '@nestjs/common';
import { BACKUP_STORAGE, OFFSITE_STORAGE, offsiteStorageProvider, storageProvider } from './storage.provider';

@Global()
@Module({ providers: [storageProvider, offsiteStorageProvider], exports: [BACKUP_STORAGE, OFFSITE_STORAGE] })
export class StorageModule {}
