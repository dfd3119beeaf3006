import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { AuthModule } from '../auth/auth.module';
import { BackupModule } from '../backup/backup.module';
import { BackupEntity } from '../backup/backup.entity';
import { AppConfig } from '../config/app-config';
import { OffsiteModule } from '../offsite/offsite.module';
import { SchedulerModule } from '../scheduler/scheduler.module';
import { ServiceJobs } from '../scheduler/service-jobs.service';
import { VerificationModule } from '../verification/verification.module';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsService } from './metrics.service';
import { StatusController } from './status.controller';
import { StatusService } from './status.service';

// Catches a backup growing stale between requests, so the alert does not wait for someone to look.
const STATUS_WATCH_CRON = '*/5 * * * *';

@Module({
  imports: [
    TypeOrmModule.forFeature([BackupEntity, AuditEventEntity]),
    BackupModule,
    SchedulerModule,
    AuthModule,
    OffsiteModule,
    VerificationModule,
  ],
  controllers: [StatusController],
  providers: [StatusService, MetricsService, MetricsAccessGuard],
  exports: [StatusService, MetricsService],
})
export class StatusModule implements OnApplicationBootstrap {
  constructor(
    private readonly jobs: ServiceJobs,
    private readonly status: StatusService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.add({
      name: 'status-watch',
      cron: STATUS_WATCH_CRON,
      timezone: this.config.BACKUP_TIMEZONE,
      run: () => this.status.check().then(() => undefined),
    });
  }
}
