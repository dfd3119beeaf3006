import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupModule } from '../backup/backup.module';
import { BackupEntity } from '../backup/backup.entity';
import { AppConfig } from '../config/app-config';
import { SchedulerModule } from '../scheduler/scheduler.module';
import { ServiceJobs } from '../scheduler/service-jobs.service';
import { DrillsController } from './drills.controller';
import { RestoreDrillEntity } from './restore-drill.entity';
import { RestoreDrills } from './restore-drills.service';
import { RollingVerifier } from './rolling-verifier.service';
import { VerificationGate } from './verification-gate';
import { VerificationState } from './verification-state.service';

/**
 * Rolling verification of every retained backup's copies and the daily restore drill. Both run
 * as service-wide cron jobs (ServiceJobs): every instance ticks, one claims the fire time.
 */
@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity, RestoreDrillEntity]), BackupModule, SchedulerModule],
  controllers: [DrillsController],
  providers: [RollingVerifier, RestoreDrills, VerificationGate, VerificationState],
  exports: [RollingVerifier, RestoreDrills, VerificationState],
})
export class VerificationModule implements OnApplicationBootstrap {
  constructor(
    private readonly jobs: ServiceJobs,
    private readonly verifier: RollingVerifier,
    private readonly drills: RestoreDrills,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const timezone = this.config.BACKUP_TIMEZONE;
    // The claim name stays 'verify': the job it replaces (verification of the newest backup) had it.
    this.jobs.add({
      name: 'verify',
      cron: this.config.VERIFY_CRON,
      timezone,
      run: (fireAt) => this.verifier.runSlice(fireAt).then(() => undefined),
    });
    if (this.config.DRILL_ENABLED)
      this.jobs.add({
        name: 'restore-drill',
        cron: this.config.DRILL_CRON,
        timezone,
        run: () => this.drills.run().then(() => undefined),
      });
  }
}
