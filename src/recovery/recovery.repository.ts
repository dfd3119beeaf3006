import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, IsNull, Repository } from 'typeorm';
import { AuditInput, AuditService } from '../audit/audit.service';
import { newestFirstPage } from '../common/pagination';
import { SYSTEM_ACTOR } from '../common/request-context';
import { LeaseEntity } from '../database/lease.entity';
import type { HeldLease } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import { RecoveryEntity } from './recovery.entity';

/**
 * The catalog queries of recoveries, so that the service's branches (a recovery's end, the
 * reconciliation of interrupted ones) can be unit-tested with a fake of this class; the
 * queries themselves run in the integration tests. Each end is one transaction with its
 * audit event.
 */
@Injectable()
export class RecoveryRepository {
  constructor(
    @InjectRepository(RecoveryEntity) private readonly repo: Repository<RecoveryEntity>,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
  ) {}

  find(id: string): Promise<RecoveryEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  async page(
    filter: { status?: string; backupId?: string },
    limit: number,
    cursor?: string,
  ): Promise<{ rows: RecoveryEntity[]; nextCursor: string | null }> {
    const qb = this.repo.createQueryBuilder('r');
    if (filter.status) qb.andWhere('r.status = :status', { status: filter.status });
    if (filter.backupId) qb.andWhere('r.backup_id = :backupId', { backupId: filter.backupId });
    return newestFirstPage(qb, 'r', limit, cursor);
  }

  /** Recoveries that have not recorded an end (pending or running). */
  openJobs(): Promise<RecoveryEntity[]> {
    return this.repo.find({ where: { status: In(['pending', 'running']) } });
  }

  /** Records a new recovery and its start event together. */
  async create(row: RecoveryEntity, started: AuditInput): Promise<void> {
    await this.tx.run(async (m) => {
      await m.save(RecoveryEntity, row);
      await this.audit.record(started, m);
    });
  }

  async update(id: string, patch: Partial<RecoveryEntity>): Promise<void> {
    await this.tx.run((m) => m.update(RecoveryEntity, { id }, patch));
  }

  /**
   * A job's own end: frees its lease and writes its end and event, in one transaction; unless
   * the row is no longer this job's (a sweep ended it meanwhile): then false, and that
   * outcome stands. A completed rollback marks the recovery it undid.
   */
  endOwn(row: RecoveryEntity, lease: HeldLease, patch: Partial<RecoveryEntity>, event: AuditInput): Promise<boolean> {
    return this.tx.run(async (m) => {
      await m.delete(LeaseEntity, { name: lease.name, owner: lease.owner });
      const res = await m.update(
        RecoveryEntity,
        { id: row.id, owner: lease.owner, status: In(['pending', 'running']) },
        patch,
      );
      if (!res.affected) return false;
      await this.audit.record(event, m);
      if (patch.status === 'completed' && row.rollbackOf) await this.markRolledBack(m, row);
      return true;
    });
  }

  /**
   * Ends a recovery nobody runs any more, only if its row is still as it was read (two
   * instances sweeping at once end it once); false when someone else ended or renewed it.
   */
  endIfUnchanged(row: RecoveryEntity, patch: Partial<RecoveryEntity>, event: AuditInput): Promise<boolean> {
    return this.tx.run(async (m) => {
      const res = await m.update(
        RecoveryEntity,
        { id: row.id, status: row.status, heartbeatAt: row.heartbeatAt ?? IsNull() },
        { ...patch, owner: null },
      );
      if (!res.affected) return false;
      await this.audit.record(event, m);
      if (patch.status === 'completed' && row.rollbackOf) await this.markRolledBack(m, row);
      return true;
    });
  }

  private async markRolledBack(m: EntityManager, row: RecoveryEntity): Promise<void> {
    await m.update(RecoveryEntity, { id: row.rollbackOf! }, { status: 'rolled_back', rolledBackBy: row.id });
    await this.audit.record(
      {
        actor: SYSTEM_ACTOR,
        action: 'recovery.rolled-back',
        resource: 'recovery',
        resourceId: row.rollbackOf,
        outcome: 'success',
        details: { rollback: row.id },
      },
      m,
    );
  }
}
