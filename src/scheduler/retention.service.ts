import { Injectable, Logger } from '@nestjs/common';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import type { BackupEntity } from '../backup/backup.entity';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { Actor } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import {
  combineRetention,
  planAdHocRetention,
  planRetention,
  RetentionBackup,
  RetentionPlan,
} from './retention-policy';
import { SchedulesService } from './schedules.service';

/**
 * Retention over the whole catalog: each schedule's backups under its own policy, manual,
 * imported and pre-restore backups under the ad-hoc window, failed ones after their TTL,
 * then the global protections (newest completed backup overall, pinned backups).
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('Retention');

  constructor(
    private readonly catalog: BackupCatalogService,
    private readonly schedules: SchedulesService,
    private readonly audit: AuditService,
    private readonly notifications: NotificationsService,
    private readonly config: AppConfig,
  ) {}

  async preview(now = new Date()): Promise<RetentionPlan> {
    const rows = (await this.catalog.all()).map(toRetentionBackup);
    const schedules = new Map((await this.schedules.all()).map((s) => [s.id, s]));
    const bySchedule = new Map<string, RetentionBackup[]>();
    const adHoc: RetentionBackup[] = [];
    for (const b of rows) {
      // A scheduled backup whose schedule was deleted falls back to the ad-hoc window rather than living forever.
      if (b.trigger === 'scheduled' && b.scheduleId && schedules.has(b.scheduleId)) {
        const group = bySchedule.get(b.scheduleId) ?? [];
        group.push(b);
        bySchedule.set(b.scheduleId, group);
      } else {
        adHoc.push(b);
      }
    }
    const failedTtlHours = this.config.FAILED_BACKUP_TTL_HOURS;
    const plans: RetentionPlan[] = [
      planAdHocRetention(adHoc, { keepDays: this.config.ADHOC_RETENTION_DAYS, failedTtlHours }, now),
    ];
    for (const [id, group] of bySchedule) {
      const s = schedules.get(id)!;
      const plan = planRetention(group, { ...s.retention, timezone: s.timezone }, now, { failedTtlHours });
      plans.push(prefixReasons(plan, `schedule "${s.name}"`));
    }
    return combineRetention(plans, rows);
  }

  /**
   * Deletes exactly what preview() says now, each through the catalog (storage first, then
   * the row; each audited). A backup pinned or started in between is left alone.
   */
  async apply(actor: Actor, now = new Date()): Promise<{ deleted: string[] }> {
    const plan = await this.preview(now);
    const deleted: string[] = [];
    const skipped: { id: string; reason: string }[] = [];
    for (const d of plan.delete) {
      try {
        await this.catalog.delete(d.id, actor, { reason: `retention: ${d.reasons.join('; ')}` });
        deleted.push(d.id);
      } catch (e) {
        if (e instanceof DomainError && (e.code === ErrorCode.NotFound || e.code === ErrorCode.Conflict)) {
          skipped.push({ id: d.id, reason: e.message });
          continue;
        }
        this.logger.error(`retention could not delete backup ${d.id}: ${(e as Error).message}`);
        skipped.push({ id: d.id, reason: (e as Error).message });
      }
    }
    if (deleted.length || skipped.length) {
      await this.audit.record({
        actor,
        action: 'retention.apply',
        resource: 'backup',
        outcome: skipped.length ? 'failure' : 'success',
        details: { deleted, skipped, kept: plan.keep.length },
      });
    }
    if (deleted.length) {
      this.notifications.notify({
        type: 'retention.deleted',
        severity: 'info',
        message: `Retention deleted ${deleted.length} backup(s)`,
        details: { deleted, skipped },
      });
    }
    return { deleted };
  }
}

function toRetentionBackup(b: BackupEntity): RetentionBackup {
  return {
    id: b.id,
    status: b.status,
    trigger: b.trigger,
    scheduleId: b.scheduleId,
    createdAt: new Date(b.createdAt),
    finishedAt: b.finishedAt ? new Date(b.finishedAt) : null,
    sizeBytes: b.sizeBytes,
    pinned: b.pinned,
  };
}

function prefixReasons(plan: RetentionPlan, label: string): RetentionPlan {
  const tag = (d: { id: string; reasons: string[] }) => ({ id: d.id, reasons: d.reasons.map((r) => `${label}: ${r}`) });
  return { keep: plan.keep.map(tag), delete: plan.delete.map(tag) };
}
