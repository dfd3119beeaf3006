import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { JobSweeper } from '../backup/job-sweeper';
import { TargetDatabase } from '../backup/target-database';
import { safeErrorMessage } from '../common/redact';
import { currentActor } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { setDatabaseReadOnly } from '../engine/dialects/postgres/pg-read-only';
import { NotificationsService } from '../notifications/notifications.service';
import { RecoveryEntity } from '../recovery/recovery.entity';
import { RecoveriesService } from '../recovery/recoveries.service';
import { MAINTENANCE_ROW, MaintenanceEntity } from './maintenance.entity';
import { maintenanceState, MaintenanceView } from './maintenance-state';

// Every instance re-checks this often, so a restore that ended in another instance (or
// crashed and was swept) is announced and its read-only target put back without waiting for a request.
const RECONCILE_EVERY_MS = 15_000;

/**
 * Maintenance mode: on while a restore runs (by "restore") or while an admin says so (by
 * "admin"). The state is read from the catalog on every use (all instances agree); what
 * follows from a change (the webhook, the target's read-only setting) is done by whichever
 * instance notices first, claimed in the catalog so it happens once.
 */
@Injectable()
export class MaintenanceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Maintenance');
  private timer: NodeJS.Timeout | null = null;
  private reconciling: Promise<MaintenanceView> | null = null;
  /** Set when making the target read-only (or back) failed; status shows it. */
  problem: string | null = null;

  constructor(
    @InjectRepository(MaintenanceEntity) private readonly repo: Repository<MaintenanceEntity>,
    @InjectRepository(RecoveryEntity) private readonly recoveries: Repository<RecoveryEntity>,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly notifications: NotificationsService,
    private readonly target: TargetDatabase,
    private readonly config: AppConfig,
    sweeper: JobSweeper,
    restores: RecoveriesService,
  ) {
    // After the recoveries' own sweep: a crashed restore it ended ends its maintenance here.
    sweeper.register(() => this.reconcile().then(() => 0));
    restores.lifecycle.push({ started: () => this.reconcile(), ended: () => this.reconcile() });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reconcile().catch((e: Error) => this.logger.warn(`maintenance check at start failed: ${e.message}`));
    this.timer = setInterval(
      () => void this.reconcile().catch((e: Error) => this.logger.warn(`maintenance check failed: ${e.message}`)),
      RECONCILE_EVERY_MS,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async state(): Promise<MaintenanceView> {
    const [row, open] = await Promise.all([
      this.repo.findOne({ where: { id: MAINTENANCE_ROW } }),
      this.recoveries.find({ where: { status: In(['pending', 'running']) } }),
    ]);
    return maintenanceState(row, open);
  }

  /** An admin turns maintenance on (with a reason) or off; a running restore's maintenance stays until it ends. */
  async set(active: boolean, reason: string | null): Promise<MaintenanceView> {
    const actor = currentActor();
    await this.tx.run(async (m) => {
      await this.ensureRow(m.getRepository(MaintenanceEntity));
      const now = nowIso();
      await m.update(
        MaintenanceEntity,
        { id: MAINTENANCE_ROW },
        active
          ? { adminActive: true, adminReason: reason, adminSince: now, adminBy: actor.name, updatedAt: now }
          : { adminActive: false, adminReason: null, adminSince: null, adminBy: null, updatedAt: now },
      );
      await this.audit.record(
        {
          actor,
          action: active ? 'maintenance.on' : 'maintenance.off',
          resource: 'maintenance',
          outcome: 'success',
          details: { reason },
        },
        m,
      );
    });
    return this.reconcile();
  }

  /**
   * Brings what follows from the state in line with it: the target's read-only setting, and
   * one webhook per change. Safe to call from anywhere and any instance, at any time.
   */
  reconcile(): Promise<MaintenanceView> {
    this.reconciling ??= this.reconcileNow().finally(() => (this.reconciling = null));
    return this.reconciling;
  }

  private async reconcileNow(): Promise<MaintenanceView> {
    const row = await this.ensureRow(this.repo);
    const state = await this.state();
    const wantReadOnly = state.active && this.readOnlyTarget;
    if (row.targetReadOnly !== wantReadOnly) await this.setTargetReadOnly(wantReadOnly);
    const now = state.active ? 'active' : 'inactive';
    if (row.announced !== now) {
      // Conditional: of the instances noticing the change at once, one announces it.
      const res = await this.tx.run((m) =>
        m.update(
          MaintenanceEntity,
          { id: MAINTENANCE_ROW, announced: row.announced },
          { announced: now, updatedAt: nowIso() },
        ),
      );
      if (res.affected) {
        this.notifications.notify({
          type: state.active ? 'maintenance.started' : 'maintenance.ended',
          severity: 'warning',
          message: state.active
            ? `Strongroom is in maintenance (by ${state.by}): ${state.reason ?? 'no reason given'}`
            : 'Strongroom left maintenance',
          details: { ...state },
        });
      }
    }
    return state;
  }

  private get readOnlyTarget(): boolean {
    return this.config.MAINTENANCE_READ_ONLY_TARGET && this.target.url.startsWith('postgres');
  }

  private async setTargetReadOnly(on: boolean): Promise<void> {
    try {
      await setDatabaseReadOnly(this.target.url, on);
      await this.tx.run((m) =>
        m.update(MaintenanceEntity, { id: MAINTENANCE_ROW }, { targetReadOnly: on, updatedAt: nowIso() }),
      );
      this.problem = null;
      this.logger.log(`target database: new sessions are ${on ? 'read-only' : 'read-write again'}`);
    } catch (e) {
      this.problem = `could not ${on ? 'make the target database read-only' : 'make the target database writable again'}: ${safeErrorMessage(e)}`;
      this.logger.error(this.problem);
    }
  }

  private async ensureRow(repo: Repository<MaintenanceEntity>): Promise<MaintenanceEntity> {
    const existing = await repo.findOne({ where: { id: MAINTENANCE_ROW } });
    if (existing) return existing;
    await repo
      .createQueryBuilder()
      .insert()
      .values({
        id: MAINTENANCE_ROW,
        adminActive: false,
        announced: 'inactive',
        targetReadOnly: false,
        updatedAt: nowIso(),
      })
      .orIgnore()
      .execute();
    return (await repo.findOne({ where: { id: MAINTENANCE_ROW } }))!;
  }
}
