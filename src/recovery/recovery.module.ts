import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupModule } from '../backup/backup.module';
import { ScopesModule } from '../scopes/scopes.module';
import { RecoveriesController } from './recoveries.controller';
import { RecoveriesService } from './recoveries.service';
import { RecoveryEntity } from './recovery.entity';
import { RecoveryRepository } from './recovery.repository';

@Module({
  imports: [TypeOrmModule.forFeature([RecoveryEntity]), BackupModule, ScopesModule],
  controllers: [RecoveriesController],
  providers: [RecoveriesService, RecoveryRepository],
  exports: [RecoveriesService],
})
export class RecoveryModule {}
