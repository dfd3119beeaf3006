import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BackupModule } from '../backup/backup.module';
import { StorageModule } from '../backup/storage.module';
import { ForegroundModule } from '../common/foreground.module';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { RecoveryModule } from '../recovery/recovery.module';

/** What the command line needs of the service: no HTTP server, no scheduler. */
@Module({
  imports: [ConfigModule, DatabaseModule, StorageModule, ForegroundModule, AuditModule, BackupModule, RecoveryModule],
})
export class CliModule {}
