import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupArchiveService } from './backup-archive.service';
import { BackupCopies } from './backup-copies.service';
import { BackupCatalogRepository } from './backup-catalog.repository';
import { BackupCatalogService } from './backup-catalog.service';
import { Engine, EnginePort } from './engine.port';
import { BackupEntity } from './backup.entity';
import { BackupEvents } from './backup-events';
import { BackupsController } from './backups.controller';
import { BackupsService } from './backups.service';
import { CatalogTotals } from './catalog-totals';
import { JobSweeper } from './job-sweeper';
import { JobCancelCatalog } from './job-cancel-catalog';
import { TargetDatabase } from './target-database';
import { ScopesModule } from '../scopes/scopes.module';

@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity]), ScopesModule],
  controllers: [BackupsController],
  providers: [
    BackupsService,
    BackupCopies,
    BackupCatalogService,
    BackupCatalogRepository,
    BackupArchiveService,
    TargetDatabase,
    BackupEvents,
    JobSweeper,
    CatalogTotals,
    JobCancelCatalog,
    { provide: EnginePort, useClass: Engine },
  ],
  exports: [
    BackupsService,
    BackupCopies,
    BackupCatalogService,
    BackupCatalogRepository,
    BackupArchiveService,
    TargetDatabase,
    BackupEvents,
    JobSweeper,
    CatalogTotals,
    JobCancelCatalog,
    EnginePort,
  ],
})
export class BackupModule {}
