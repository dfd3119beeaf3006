import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupModule } from '../backup/backup.module';
import { ScopesModule } from '../scopes/scopes.module';
import { RetentionDecisionEntity } from './retention-decision.entity';
import { RetentionController } from './retention.controller';
import { RetentionService } from './retention.service';
import { ScheduleRunner } from './schedule-runner.service';
import { ScheduleEntity } from './schedule.entity';
import { ScheduleRepository } from './schedule.repository';
import { SchedulesController } from './schedules.controller';
import { SchedulesService } from './schedules.service';
import { ServiceJobs } from './service-jobs.service';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    TypeOrmModule.forFeature([ScheduleEntity, RetentionDecisionEntity]),
    BackupModule,
    ScopesModule,
  ],
  controllers: [SchedulesController, RetentionController],
  providers: [SchedulesService, ScheduleRunner, ScheduleRepository, RetentionService, ServiceJobs],
  exports: [SchedulesService, ScheduleRunner, RetentionService, ServiceJobs],
})
export class SchedulerModule {}
