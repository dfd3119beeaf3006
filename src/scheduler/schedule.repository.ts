import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { SYSTEM_ACTOR } from '../common/request-context';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { claimScheduleFire } from './job-claims';
import { ScheduleEntity } from './schedule.entity';

/**
 * The catalog writes of a schedule's tick, so that the tick's branches can be unit-tested
 * with a fake of this class; the claim's exclusivity across instances is proved for real in
 * test/scheduler/scheduler-instances.e2e.spec.ts.
 */
@Injectable()
export class ScheduleRepository {
  constructor(
    private readonly tx: Transactions,
    private readonly audit: AuditService,
  ) {}

  /** True for exactly one instance per schedule and fire time (job-claims.ts). */
  claimFire(scheduleId: string, fireAt: Date): Promise<boolean> {
    return this.tx.run((m) => claimScheduleFire(m, scheduleId, fireAt));
  }

  /** A tick that could not start its backup: the schedule shows it, and the trail says why. */
  async recordFailedStart(scheduleId: string, fireAt: string, error: string): Promise<void> {
    await this.tx.run(async (m) => {
      await m.update(
        ScheduleEntity,
        { id: scheduleId },
        { lastRunAt: nowIso(), lastStatus: 'failed', lastBackupId: null },
      );
      await this.audit.record(
        {
          actor: SYSTEM_ACTOR,
          action: 'schedule.failed',
          resource: 'schedule',
          resourceId: scheduleId,
          outcome: 'failure',
          details: { fireAt, error },
        },
        m,
      );
    });
  }
}
