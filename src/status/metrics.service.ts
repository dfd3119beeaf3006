import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Counter, Gauge, Registry } from 'prom-client';
import { IsNull, Repository } from 'typeorm';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { AuditService } from '../audit/audit.service';
import { BackupEvents } from '../backup/backup-events';
import { BackupEntity } from '../backup/backup.entity';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { AlertStore } from '../notifications/alert-store';
import { NotificationsService } from '../notifications/notifications.service';
import { OffsiteCopier } from '../offsite/offsite-copier.service';
import { OffsiteLagService } from '../offsite/offsite-lag.service';
import { registerOffsiteMetrics } from '../offsite/offsite-metrics';
import { SchedulesService } from '../scheduler/schedules.service';
import { StatusService } from './status.service';
import { BACKUP_TRIGGERS } from '../engine/archive/manifest.types';
import { registerVerificationMetrics } from '../verification/verification-metrics';
import { VerificationState } from '../verification/verification-state.service';

const AD_HOC = 'none';

/**
 * Prometheus metrics in this app's own registry (so several apps in one process, as in tests,
 * never share series). Catalog-derived series are read from the database at scrape time, so
 * every instance reports the same truth and a restart loses nothing; job counters are this
 * process's own.
 */
@Injectable()
export class MetricsService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly registry = new Registry();
  private unsubscribe: (() => void) | null = null;
  private readonly jobs: Counter<'result' | 'trigger'>;

  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(AuditEventEntity) private readonly auditEvents: Repository<AuditEventEntity>,
    private readonly catalog: BackupCatalogService,
    private readonly schedules: SchedulesService,
    private readonly audit: AuditService,
    private readonly status: StatusService,
    private readonly notifications: NotificationsService,
    private readonly events: BackupEvents,
    private readonly alerts: AlertStore,
    offsiteLag: OffsiteLagService,
    offsiteCopier: OffsiteCopier,
    verification: VerificationState,
  ) {
    const registers = [this.registry];
    registerOffsiteMetrics(this.registry, offsiteLag, offsiteCopier);
    registerVerificationMetrics(this.registry, verification);
    this.jobs = new Counter({
      name: 'strongroom_backup_jobs_total',
      help: 'Backup jobs this process finished, by result and trigger',
      labelNames: ['result', 'trigger'],
      registers,
    });
    const lastSuccess = new Gauge({
      name: 'strongroom_backup_last_success_timestamp_seconds',
      help: 'When the newest completed backup of each schedule finished (schedule="none": not scheduled)',
      labelNames: ['schedule', 'schedule_name'],
      registers,
    });
    const lastDuration = new Gauge({
      name: 'strongroom_backup_last_duration_seconds',
      help: 'How long the newest completed backup of each schedule took',
      labelNames: ['schedule', 'schedule_name'],
      registers,
    });
    const lastSize = new Gauge({
      name: 'strongroom_backup_last_size_bytes',
      help: 'Stored size of the newest completed backup of each schedule',
      labelNames: ['schedule', 'schedule_name'],
      registers,
    });
    const byStatus = new Gauge({
      name: 'strongroom_backups',
      help: 'Backups in the catalog by status',
      labelNames: ['status'],
      registers,
    });
    const storageBytes = new Gauge({
      name: 'strongroom_storage_bytes',
      help: 'Bytes of all backups in the catalog',
      registers,
    });
    const failures = new Gauge({
      name: 'strongroom_backup_failures',
      help: 'Failed backups in the catalog by trigger (retention removes them after FAILED_BACKUP_TTL_HOURS)',
      labelNames: ['trigger'],
      registers,
    });
    const verifications = new Gauge({
      name: 'strongroom_verifications',
      help: 'Verifications recorded in the audit trail by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const lastVerified = new Gauge({
      name: 'strongroom_backup_last_verified_timestamp_seconds',
      help: 'When the most recently verified completed backup passed verification',
      registers,
    });
    const auditLength = new Gauge({
      name: 'strongroom_audit_chain_length',
      help: 'Events in the audit hash chain (its head sequence number)',
      registers,
    });
    const healthy = new Gauge({
      name: 'strongroom_status_healthy',
      help: '1 when GET /api/status reports healthy',
      registers,
    });
    const rpo = new Gauge({
      name: 'strongroom_rpo_seconds',
      help: 'Age of the newest completed backup (data at risk)',
      registers,
    });
    const webhooks = new Gauge({
      name: 'strongroom_notifications',
      help: 'Webhook deliveries of this process by result',
      labelNames: ['result'],
      registers,
    });

    const alertsOpen = new Gauge({
      name: 'strongroom_alerts_open',
      help: 'Alerts open now (GET /api/alerts), by type and severity; no series when none is open',
      labelNames: ['type', 'severity'],
      registers,
    });

    // One collect() fills every catalog-derived gauge: the scrape reads the database once.
    const collectAll = async (): Promise<void> => {
      for (const g of [lastSuccess, lastDuration, lastSize, byStatus, failures, verifications, alertsOpen]) g.reset();
      const names = new Map((await this.schedules.all()).map((s) => [s.id, s.name]));
      for (const b of await this.newestCompletedPerSchedule()) {
        const labels = {
          schedule: b.scheduleId ?? AD_HOC,
          schedule_name: b.scheduleId ? (names.get(b.scheduleId) ?? 'deleted') : AD_HOC,
        };
        if (b.finishedAt) lastSuccess.set(labels, Date.parse(b.finishedAt) / 1000);
        if (b.finishedAt && b.startedAt)
          lastDuration.set(labels, (Date.parse(b.finishedAt) - Date.parse(b.startedAt)) / 1000);
        lastSize.set(labels, b.sizeBytes);
      }
      const stats = await this.catalog.stats();
      for (const [status, n] of Object.entries(stats.byStatus)) byStatus.set({ status }, n);
      storageBytes.set(stats.totalBytes);
      const failed: { trigger: string; n: string | number }[] = await this.backups
        .createQueryBuilder('b')
        .select('b.trigger', 'trigger')
        .addSelect('COUNT(*)', 'n')
        .where('b.status = :s', { s: 'failed' })
        .groupBy('b.trigger')
        .getRawMany();
      for (const trigger of BACKUP_TRIGGERS) failures.set({ trigger }, 0);
      for (const r of failed) failures.set({ trigger: r.trigger }, Number(r.n));
      // A verification's own event has details {"deep":…,"failed":[…]} (canonical JSON, keys
      // sorted); the HTTP hook's event for a refused or failed request never starts that way.
      // Trails written before one event per action named deep runs 'backup.verify-deep'.
      const verifies: { deep: string | number; outcome: string; n: string | number }[] = await this.auditEvents
        .createQueryBuilder('e')
        .select(`CASE WHEN e.action = 'backup.verify-deep' OR e.details LIKE :deep THEN 1 ELSE 0 END`, 'deep')
        .addSelect('e.outcome', 'outcome')
        .addSelect('COUNT(*)', 'n')
        .where(`(e.action = 'backup.verify' AND (e.details LIKE :own OR e.request_id IS NULL))`)
        .orWhere(`(e.action = 'backup.verify-deep' AND e.request_id IS NULL)`)
        .setParameters({ deep: '{"deep":true%', own: '{"deep":%' })
        .groupBy('deep')
        .addGroupBy('e.outcome')
        .getRawMany();
      for (const r of verifies)
        verifications.set({ kind: Number(r.deep) === 1 ? 'deep' : 'plain', outcome: r.outcome }, Number(r.n));
      const view = await this.status.status();
      lastVerified.set(view.lastVerifiedBackup?.verifiedAt ? Date.parse(view.lastVerifiedBackup.verifiedAt) / 1000 : 0);
      healthy.set(view.healthy ? 1 : 0);
      if (view.rpoSeconds !== null) rpo.set(view.rpoSeconds);
      auditLength.set((await this.audit.head())?.seq ?? 0);
      const c = this.notifications.counters;
      for (const [result, n] of Object.entries(c) as [string, number][]) webhooks.set({ result }, n);
      for (const a of await this.alerts.openCounts()) alertsOpen.set({ type: a.type, severity: a.severity }, a.n);
    };
    // prom-client calls collect() per metric; the first one of a scrape does the work for all.
    let pending: Promise<void> | null = null;
    const collect = async (): Promise<void> => {
      pending ??= collectAll().finally(() => setImmediate(() => (pending = null)));
      await pending;
    };
    for (const g of [
      lastSuccess,
      lastDuration,
      lastSize,
      byStatus,
      storageBytes,
      failures,
      verifications,
      lastVerified,
      auditLength,
      healthy,
      rpo,
      webhooks,
      alertsOpen,
    ]) {
      (g as unknown as { collect: () => Promise<void> }).collect = collect;
    }
  }

  onApplicationBootstrap(): void {
    this.unsubscribe = this.events.subscribe((e) => this.jobs.inc({ result: e.kind, trigger: e.trigger }));
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private async newestCompletedPerSchedule(): Promise<BackupEntity[]> {
    const groups: { scheduleId: string | null; newest: string }[] = await this.backups
      .createQueryBuilder('b')
      .select('b.schedule_id', 'scheduleId')
      .addSelect('MAX(b.created_at)', 'newest')
      .where('b.status = :s', { s: 'completed' })
      .groupBy('b.schedule_id')
      .getRawMany();
    const out: BackupEntity[] = [];
    for (const g of groups) {
      const row = await this.backups.findOne({
        where: { status: 'completed', createdAt: g.newest, scheduleId: g.scheduleId ?? IsNull() },
      });
      if (row) out.push(row);
    }
    return out;
  }
}
