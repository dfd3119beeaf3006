import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { TargetDatabase } from '../backup/target-database';
import { DomainError, ErrorCode } from '../common/domain-error';
import { newestFirstPage, Page } from '../common/pagination';
import { currentActor } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { validateCron } from './cron-schedule';
import { checkScopeRequest } from '../backup/scope-request';
import type { ScopeRequestDto } from '../scopes/dto/scope.dto';
import { ScopesService } from '../scopes/scopes.service';
import type { CreateScheduleDto, RetentionDto, UpdateScheduleDto } from './dto/schedule.dto';
import { DEFAULT_RETENTION, ScheduleEntity, ScheduleRetention, type ScheduleScope } from './schedule.entity';
import { toScheduleView, ScheduleView } from './schedule.view';

/** Schedule rows: validation, CRUD and run bookkeeping. Registering cron jobs is ScheduleRunner's business. */
@Injectable()
export class SchedulesService {
  constructor(
    @InjectRepository(ScheduleEntity) private readonly repo: Repository<ScheduleEntity>,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly target: TargetDatabase,
    private readonly config: AppConfig,
    private readonly scopes: ScopesService,
  ) {}

  async list(limit = 50, cursor?: string): Promise<Page<ScheduleView>> {
    const { rows, nextCursor } = await newestFirstPage(this.repo.createQueryBuilder('s'), 's', limit, cursor);
    const now = new Date();
    return { items: rows.map((s) => toScheduleView(s, now)), nextCursor };
  }

  all(): Promise<ScheduleEntity[]> {
    return this.repo.find({ order: { createdAt: 'ASC' } });
  }

  find(id: string): Promise<ScheduleEntity | null> {
    return this.repo.findOne({ where: { id } });
  }

  async entity(id: string): Promise<ScheduleEntity> {
    const row = await this.find(id);
    if (!row) throw DomainError.notFound('schedule', id);
    return row;
  }

  /** Audited as whoever the scope names (request-scope.ts). */
  async create(dto: CreateScheduleDto): Promise<ScheduleEntity> {
    const actor = currentActor();
    const now = nowIso();
    const row = this.repo.create({
      id: randomUUID(),
      name: dto.name,
      cron: dto.cron.trim(),
      timezone: dto.timezone ?? this.config.BACKUP_TIMEZONE,
      type: dto.type ?? 'full',
      tables: dto.tables ?? [],
      scope: dto.scope ? plainScope(dto.scope) : null,
      enabled: dto.enabled ?? true,
      retention: mergeRetention(DEFAULT_RETENTION, dto.retention),
      createdAt: now,
      updatedAt: now,
      lastFireAt: null,
      lastRunAt: null,
      lastStatus: null,
      lastBackupId: null,
    });
    await this.check(row);
    await this.tx.run(async (m) => {
      await m.save(ScheduleEntity, row);
      await this.audit.record(
        {
          actor,
          action: 'schedule.create',
          resource: 'schedule',
          resourceId: row.id,
          outcome: 'success',
          details: describe(row),
        },
        m,
      );
    });
    return row;
  }

  async update(id: string, dto: UpdateScheduleDto): Promise<ScheduleEntity> {
    const actor = currentActor();
    const row = await this.entity(id);
    const next: ScheduleEntity = {
      ...row,
      name: dto.name ?? row.name,
      cron: dto.cron?.trim() ?? row.cron,
      timezone: dto.timezone ?? row.timezone,
      type: dto.type ?? row.type,
      tables: dto.tables ?? row.tables,
      // A schedule turned into another type drops its scope unless the request names one (a 400 then).
      scope: dto.scope ? plainScope(dto.scope) : (dto.type ?? row.type) === 'scope' ? row.scope : null,
      enabled: dto.enabled ?? row.enabled,
      retention: mergeRetention(row.retention, dto.retention),
      updatedAt: nowIso(),
    };
    await this.check(next);
    await this.tx.run(async (m) => {
      await m.update(
        ScheduleEntity,
        { id },
        {
          name: next.name,
          cron: next.cron,
          timezone: next.timezone,
          type: next.type,
          tables: next.tables,
          scope: next.scope,
          enabled: next.enabled,
          retention: next.retention,
          updatedAt: next.updatedAt,
        },
      );
      await this.audit.record(
        {
          actor,
          action: 'schedule.update',
          resource: 'schedule',
          resourceId: id,
          outcome: 'success',
          details: { before: describe(row), after: describe(next) },
        },
        m,
      );
    });
    return next;
  }

  async delete(id: string): Promise<void> {
    const actor = currentActor();
    const row = await this.entity(id);
    await this.tx.run(async (m) => {
      await m.delete(ScheduleEntity, { id });
      await this.audit.record(
        {
          actor,
          action: 'schedule.delete',
          resource: 'schedule',
          resourceId: id,
          outcome: 'success',
          details: { before: describe(row) },
        },
        m,
      );
    });
  }

  /** A run started: the status of the previous one no longer describes the schedule. */
  async recordStart(id: string, backupId: string): Promise<void> {
    await this.tx.run((m) =>
      m.update(ScheduleEntity, { id }, { lastRunAt: nowIso(), lastBackupId: backupId, lastStatus: null }),
    );
  }

  /** A run ended; only the schedule's latest run may set its status (an older one finishing late must not). */
  async recordEnd(id: string, backupId: string | null, status: 'completed' | 'failed' | 'cancelled'): Promise<void> {
    await this.tx.run((m) => {
      const qb = m.createQueryBuilder().update(ScheduleEntity).set({ lastStatus: status }).where('id = :id', { id });
      if (backupId) qb.andWhere('last_backup_id = :backupId', { backupId });
      return qb.execute();
    });
  }

  /** 400s that name the field: the cron expression, the zone, the tables. */
  private async check(s: ScheduleEntity): Promise<void> {
    const problem = validateCron(s.cron, s.timezone);
    if (problem) throw new DomainError(ErrorCode.InvalidInput, problem);
    if (s.type === 'tables') {
      if (!s.tables.length)
        throw new DomainError(ErrorCode.InvalidInput, 'tables: type "tables" needs a non-empty tables list');
      const dialect = this.target.dialect(s.type);
      try {
        await this.target.resolveTables(dialect, s.type, s.tables);
      } finally {
        await dialect.close().catch(() => undefined);
      }
    } else if (s.tables.length) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        `tables: only a schedule of type "tables" takes a tables list (this one is "${s.type}")`,
      );
    }
    if (s.type !== 'scope' && s.scope)
      throw new DomainError(
        ErrorCode.InvalidInput,
        `scope: only a schedule of type "scope" takes a scope (this one is "${s.type}")`,
      );
    if (s.type === 'scope') {
      if (!s.scope)
        throw new DomainError(
          ErrorCode.InvalidInput,
          'scope: type "scope" needs a scope (a saved scope name and keys, e.g. {"name": "engagement", "keys": [{"id": 42}]})',
        );
      // Checked as a backup would check it now: a wrong name, table or key is a 400 here, not a failed run later.
      const scope = await this.scopes.resolve(s.scope);
      const dialect = this.target.dialect(s.type);
      try {
        await checkScopeRequest(dialect, await this.target.resolveTables(dialect, s.type, undefined), scope);
      } finally {
        await dialect.close().catch(() => undefined);
      }
    }
  }
}

/** The request's scope as stored: only the fields it gave. */
function plainScope(dto: ScopeRequestDto): ScheduleScope {
  return {
    ...(dto.name !== undefined ? { name: dto.name } : {}),
    ...(dto.table !== undefined ? { table: dto.table } : {}),
    // Checked against the root's key by checkScopeRequest: strings and numbers only.
    keys: dto.keys as Record<string, string | number>[],
    ...(dto.exclude !== undefined ? { exclude: dto.exclude } : {}),
    ...(dto.filesColumn !== undefined ? { filesColumn: dto.filesColumn } : {}),
  };
}

function mergeRetention(base: ScheduleRetention, patch: RetentionDto | undefined): ScheduleRetention {
  const out = { ...DEFAULT_RETENTION, ...base };
  if (!patch) return out;
  for (const key of Object.keys(DEFAULT_RETENTION) as (keyof ScheduleRetention)[]) {
    const v = patch[key];
    if (v !== undefined) (out as Record<string, number | null>)[key] = v;
  }
  return out;
}

function describe(s: ScheduleEntity): Record<string, unknown> {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    type: s.type,
    tables: s.tables,
    ...(s.scope ? { scope: s.scope } : {}),
    enabled: s.enabled,
    retention: s.retention,
  };
}
