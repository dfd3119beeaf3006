import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import type { BackupEntity } from '../backup/backup.entity';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { newestFirstPage, Page } from '../common/pagination';
import { Actor } from '../common/request-context';
import { currentActor } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { NotificationsService } from '../notifications/notifications.service';
import { planCatalogRetention } from './retention-catalog';
import { RetentionDecisionEntity } from './retention-decision.entity';
import type { RetentionDecision } from './retention-policy';
import { AD_HOC_GROUP, type GuardedPlan, type HeldGroup, type VerifiedBackup } from './retention-safeguards';
import { SchedulesService } from './schedules.service';

export interface HeldView {
  decisionId: string | null;
  scheduleId: string | null;
  name: string;
  delete: string[];
  completed: number;
  reason: string;
}

export interface RetentionPreview {
  keep: RetentionDecision[];
  delete: RetentionDecision[];
  held: HeldView[];
  blocked: string | null;
}

export interface RetentionApplyResult {
  deleted: string[];
  held: HeldView[];
  blocked: string | null;
}

export interface DecisionView {
  id: string;
  scheduleId: string | null;
  name: string;
  status: string;
  backupIds: string[];
  completed: number;
  reason: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  confirmPhrase: string;
}

export const confirmDeletionPhrase = (decisionId: string) => `DELETE ${decisionId}`;

/**
 * Retention over the whole catalog (retention-catalog.ts plans it, the safeguards guard it).
 * A group that would lose too much waits for an admin: the run records a pending decision
 * (audited, announced by webhook), deletes everything else it may, and the admin confirms
 * exactly that set through POST /api/retention/decisions/:id/confirm.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('Retention');

  constructor(
    @InjectRepository(RetentionDecisionEntity) private readonly decisions: Repository<RetentionDecisionEntity>,
    private readonly catalog: BackupCatalogService,
    private readonly schedules: SchedulesService,
    private readonly audit: AuditService,
    private readonly notifications: NotificationsService,
    private readonly tx: Transactions,
    private readonly config: AppConfig,
  ) {}

  /** What a cleanup would do now; writes nothing. */
  async preview(now = new Date()): Promise<RetentionPreview> {
    const { plan, names } = await this.plan(now);
    const pending = await this.pendingByGroup();
    return {
      keep: plan.keep,
      delete: plan.delete,
      held: plan.held.map((h) => heldView(h, names, matching(pending.get(h.group), h))),
      blocked: plan.blocked,
    };
  }

  /**
   * Deletes what the guarded plan says now, each through the catalog (storage first, then the
   * row; each audited). Held groups get a pending decision; a backup pinned or started in
   * between is left alone. With `confirming`, that decision's set may go, if the plan still
   * deletes no more of its group than it names (otherwise a 409 and a new decision).
   */
  async apply(now = new Date(), confirming?: RetentionDecisionEntity): Promise<RetentionApplyResult> {
    // Whoever the scope names: an admin's request, or the system's cron tick (runAs).
    const actor = currentActor();
    const confirmed = confirming ? new Map([[confirming.group, new Set(confirming.backupIds)]]) : undefined;
    const { plan, names } = await this.plan(now, confirmed);
    if (confirming && plan.blocked)
      throw new DomainError(ErrorCode.Conflict, `nothing is deleted now: ${plan.blocked}`);
    const held = await this.recordHeld(plan, names, actor, confirming?.id);
    if (confirming) {
      const again = held.find((h) => (h.scheduleId ?? AD_HOC_GROUP) === confirming.group);
      if (again) {
        throw new DomainError(
          ErrorCode.Conflict,
          `the plan changed since decision ${confirming.id}: it would now delete ${again.delete.length} backups of ${again.name}, not those ${confirming.backupIds.length}; confirm decision ${again.decisionId} instead`,
        );
      }
      await this.decide(confirming, 'confirmed', actor);
    }
    const deleted: string[] = [];
    const skipped: { id: string; reason: string }[] = [];
    for (const d of plan.delete) {
      try {
        await this.catalog.delete(d.id, { reason: `retention: ${d.reasons.join('; ')}` });
        deleted.push(d.id);
      } catch (e) {
        if (!(e instanceof DomainError && (e.code === ErrorCode.NotFound || e.code === ErrorCode.Conflict)))
          this.logger.error(`retention could not delete backup ${d.id}: ${(e as Error).message}`);
        skipped.push({ id: d.id, reason: (e as Error).message });
      }
    }
    if (deleted.length || skipped.length || plan.blocked) {
      await this.audit.record({
        actor,
        action: 'retention.apply',
        resource: 'backup',
        outcome: skipped.length ? 'failure' : 'success',
        details: {
          deleted,
          skipped,
          kept: plan.keep.length,
          held: held.map((h) => h.decisionId),
          blocked: plan.blocked,
          decision: confirming?.id ?? null,
        },
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
    return { deleted, held, blocked: plan.blocked };
  }

  async listDecisions(status: string | undefined, limit = 50, cursor?: string): Promise<Page<DecisionView>> {
    const qb = this.decisions.createQueryBuilder('d');
    if (status) qb.andWhere('d.status = :status', { status });
    const { rows, nextCursor } = await newestFirstPage(qb, 'd', limit, cursor);
    return { items: rows.map(decisionView), nextCursor };
  }

  async decision(id: string): Promise<DecisionView> {
    return decisionView(await this.decisionEntity(id));
  }

  /** An admin's yes to a pending decision: its backups are deleted now (with the rest of the plan). */
  async confirm(id: string, phrase: string | undefined): Promise<RetentionApplyResult> {
    const d = await this.decisionEntity(id);
    if (phrase !== confirmDeletionPhrase(id)) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        `confirm: this deletes ${d.backupIds.length} backups; set confirm to exactly "${confirmDeletionPhrase(id)}"`,
      );
    }
    if (d.status !== 'pending') throw new DomainError(ErrorCode.Conflict, `decision ${id} is ${d.status}, not pending`);
    return this.apply(new Date(), d);
  }

  private async decisionEntity(id: string): Promise<RetentionDecisionEntity> {
    const d = await this.decisions.findOne({ where: { id } });
    if (!d) throw DomainError.notFound('retention decision', id);
    return d;
  }

  private async plan(
    now: Date,
    confirmed?: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<{ plan: GuardedPlan; names: Map<string, string> }> {
    const rows = (await this.catalog.all()).map(toVerifiedBackup);
    const schedules = await this.schedules.all();
    const plan = planCatalogRetention(
      rows,
      schedules,
      {
        failedTtlHours: this.config.FAILED_BACKUP_TTL_HOURS,
        adHocKeepDays: this.config.ADHOC_RETENTION_DAYS,
        confirmed,
      },
      now,
    );
    return { plan, names: new Map(schedules.map((s) => [s.id, s.name])) };
  }

  private async pendingByGroup(): Promise<Map<string, RetentionDecisionEntity>> {
    const rows = await this.decisions.find({ where: { status: 'pending' }, order: { createdAt: 'DESC' } });
    const out = new Map<string, RetentionDecisionEntity>();
    for (const r of rows) if (!out.has(r.group)) out.set(r.group, r);
    return out;
  }

  /**
   * One pending decision per held group: an existing one for the same set stands (no second
   * alert), one for another set is superseded by a new one; pending decisions of groups no
   * longer held are superseded (the plan no longer needs them).
   */
  private async recordHeld(
    plan: GuardedPlan,
    names: Map<string, string>,
    actor: Actor,
    confirmingId?: string,
  ): Promise<HeldView[]> {
    const pending = await this.pendingByGroup();
    const out: HeldView[] = [];
    for (const h of plan.held) {
      const current = pending.get(h.group);
      pending.delete(h.group);
      const same = matching(current, h);
      if (same) {
        out.push(heldView(h, names, same));
        continue;
      }
      if (current) await this.decide(current, 'superseded', actor);
      const row: RetentionDecisionEntity = {
        id: randomUUID(),
        group: h.group,
        groupName: groupName(h.group, names),
        status: 'pending',
        backupIds: h.delete,
        completed: h.completed,
        reason: h.reason,
        createdAt: nowIso(),
        decidedAt: null,
        decidedBy: null,
      };
      await this.tx.run(async (m) => {
        await m.save(RetentionDecisionEntity, row);
        await this.audit.record(
          {
            actor,
            action: 'retention.confirmation-required',
            resource: 'retention-decision',
            resourceId: row.id,
            outcome: 'success',
            details: { group: h.group, name: row.groupName, backupIds: h.delete, completed: h.completed },
          },
          m,
        );
      });
      this.notifications.notify({
        type: 'retention.confirmation-required',
        severity: 'warning',
        message: `Retention holds back ${h.delete.length} backup(s) of ${row.groupName}: it ${h.reason}. Confirm with POST /api/retention/decisions/${row.id}/confirm`,
        details: { decisionId: row.id, group: h.group, backupIds: h.delete, completed: h.completed },
      });
      out.push(heldView(h, names, row));
    }
    for (const stale of pending.values()) {
      if (stale.id === confirmingId) continue;
      await this.decide(stale, 'superseded', actor).catch((e: Error) => this.logger.warn(e.message));
    }
    return out;
  }

  private async decide(d: RetentionDecisionEntity, status: 'confirmed' | 'superseded', actor: Actor): Promise<void> {
    await this.tx.run(async (m) => {
      const res = await m.update(
        RetentionDecisionEntity,
        { id: d.id, status: 'pending' },
        { status, decidedAt: nowIso(), decidedBy: actor.name },
      );
      if (!res.affected) throw new DomainError(ErrorCode.Conflict, `decision ${d.id} is no longer pending`);
      await this.audit.record(
        {
          actor,
          action: status === 'confirmed' ? 'retention.confirmed' : 'retention.superseded',
          resource: 'retention-decision',
          resourceId: d.id,
          outcome: 'success',
          details: { group: d.group, backupIds: d.backupIds },
        },
        m,
      );
    });
    d.status = status;
  }
}

function matching(d: RetentionDecisionEntity | undefined, h: HeldGroup): RetentionDecisionEntity | null {
  if (!d) return null;
  const ids = new Set(d.backupIds);
  return d.backupIds.length === h.delete.length && h.delete.every((id) => ids.has(id)) ? d : null;
}

function groupName(group: string, names: Map<string, string>): string {
  return group === AD_HOC_GROUP ? 'the ad-hoc backups' : `schedule "${names.get(group) ?? group}"`;
}

function heldView(h: HeldGroup, names: Map<string, string>, d: RetentionDecisionEntity | null): HeldView {
  return {
    decisionId: d?.id ?? null,
    scheduleId: h.group === AD_HOC_GROUP ? null : h.group,
    name: groupName(h.group, names),
    delete: h.delete,
    completed: h.completed,
    reason: h.reason,
  };
}

function decisionView(d: RetentionDecisionEntity): DecisionView {
  return {
    id: d.id,
    scheduleId: d.group === AD_HOC_GROUP ? null : d.group,
    name: d.groupName,
    status: d.status,
    backupIds: d.backupIds,
    completed: d.completed,
    reason: d.reason,
    createdAt: d.createdAt,
    decidedAt: d.decidedAt,
    decidedBy: d.decidedBy,
    confirmPhrase: confirmDeletionPhrase(d.id),
  };
}

function toVerifiedBackup(b: BackupEntity): VerifiedBackup {
  return {
    id: b.id,
    status: b.status,
    trigger: b.trigger,
    scheduleId: b.scheduleId,
    createdAt: new Date(b.createdAt),
    finishedAt: b.finishedAt ? new Date(b.finishedAt) : null,
    sizeBytes: b.sizeBytes,
    pinned: b.pinned,
    verifiedAt: b.verifiedAt ? new Date(b.verifiedAt) : null,
    verifyFailedAt: b.verifyFailedAt ? new Date(b.verifyFailedAt) : null,
  };
}
