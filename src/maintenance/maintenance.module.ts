import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupModule } from '../backup/backup.module';
import { RecoveryEntity } from '../recovery/recovery.entity';
import { RecoveryModule } from '../recovery/recovery.module';
import { MaintenanceController } from './maintenance.controller';
import { MaintenanceEntity } from './maintenance.entity';
import { MaintenanceGuard } from './maintenance.guard';
import { MaintenanceService } from './maintenance.service';

@Module({
  imports: [TypeOrmModule.forFeature([MaintenanceEntity, RecoveryEntity]), BackupModule, RecoveryModule],
  controllers: [MaintenanceController],
  providers: [MaintenanceService, MaintenanceGuard],
  exports: [MaintenanceService, MaintenanceGuard],
})
export class MaintenanceModule {}
