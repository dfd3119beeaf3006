import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupArchiveService } from './backup-archive.service';
import { BackupCatalogService } from './backup-catalog.service';
import { BackupEntity } from './backup.entity';
import { BackupEvents } from './backup-events';
import { BackupsController } from './backups.controller';
import { BackupsService } from './backups.service';
import { JobSweeper } from './job-sweeper';
import { TargetDatabase } from './target-database';

@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity])],
  controllers: [BackupsController],
  providers: [BackupsService, BackupCatalogService, BackupArchiveService, TargetDatabase, BackupEvents, JobSweeper],
  exports: [BackupsService, BackupCatalogService, BackupArchiveService, TargetDatabase, BackupEvents, JobSweeper],
})
export class BackupModule {}
