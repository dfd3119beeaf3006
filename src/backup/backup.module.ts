import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupArchiveService } from './backup-archive.service';
import { BackupCatalogService } from './backup-catalog.service';
import { BackupEntity } from './backup.entity';
import { BackupsController } from './backups.controller';
import { BackupsService } from './backups.service';
import { TargetDatabase } from './target-database';

@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity])],
  controllers: [BackupsController],
  providers: [BackupsService, BackupCatalogService, BackupArchiveService, TargetDatabase],
  exports: [BackupsService, BackupCatalogService, BackupArchiveService, TargetDatabase],
})
export class BackupModule {}
