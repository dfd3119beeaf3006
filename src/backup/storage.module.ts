import { Global, Module } from '@nestjs/common';
import { BACKUP_STORAGE, storageProvider } from './storage.provider';

@Global()
@Module({ providers: [storageProvider], exports: [BACKUP_STORAGE] })
export class StorageModule {}
