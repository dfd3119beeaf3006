import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupModule } from '../backup/backup.module';
import { BackupEntity } from '../backup/backup.entity';
import { OffsiteCopier } from './offsite-copier.service';
import { OffsiteLagService } from './offsite-lag.service';

/**
 * The background copier of offsite copies and the lag status reads. Not part of the command
 * line's module: a CLI run copies nothing (the server picks its backups up).
 */
@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity]), BackupModule],
  providers: [OffsiteCopier, OffsiteLagService],
  exports: [OffsiteCopier, OffsiteLagService],
})
export class OffsiteModule {}
