import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { nowIso } from '../database/columns';
import type { ScopeRequest } from '../engine/scope/scope-backup';
import { ScopeEntity } from './scope.entity';
import type { CreateScopeDto, ScopeRequestDto, UpdateScopeDto } from './dto/scope.dto';

/** Saved scope definitions, and turning a request's scope (saved name or inline) into one definition. */
@Injectable()
export class ScopesService {
  constructor(@InjectRepository(ScopeEntity) private readonly repo: Repository<ScopeEntity>) {}

  list(): Promise<ScopeEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async get(name: string): Promise<ScopeEntity> {
    const row = await this.repo.findOne({ where: { name } });
    if (!row) throw DomainError.notFound('scope', name);
    return row;
  }

  async create(dto: CreateScopeDto): Promise<ScopeEntity> {
    if (await this.repo.findOne({ where: { name: dto.name } }))
      throw new DomainError(ErrorCode.Conflict, `name: a scope named ${dto.name} already exists`);
    const now = nowIso();
    const row: ScopeEntity = {
      name: dto.name,
      table: dto.table,
      exclude: dto.exclude ?? [],
      filesColumn: dto.filesColumn ?? null,
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.insert(row);
    return row;
  }

  async update(name: string, dto: UpdateScopeDto): Promise<ScopeEntity> {
    const row = await this.get(name);
    if (dto.table !== undefined) row.table = dto.table;
    if (dto.exclude !== undefined) row.exclude = dto.exclude;
    if (dto.filesColumn !== undefined) row.filesColumn = dto.filesColumn;
    row.updatedAt = nowIso();
    await this.repo.save(row);
    return row;
  }

  async delete(name: string): Promise<void> {
    await this.get(name);
    await this.repo.delete({ name });
  }

  /** A request's scope as one definition: a saved scope's fields, or the inline ones. 400 names what is missing. */
  async resolve(req: ScopeRequestDto | undefined, field = 'scope'): Promise<ScopeRequest> {
    if (!req) throw new DomainError(ErrorCode.InvalidInput, `${field}: type "scope" needs a scope`);
    if (req.name !== undefined) {
      const saved = await this.repo.findOne({ where: { name: req.name } });
      if (!saved) throw new DomainError(ErrorCode.InvalidInput, `${field}.name: no saved scope named ${req.name}`);
      return {
        name: saved.name,
        table: saved.table,
        keys: req.keys,
        exclude: req.exclude ?? saved.exclude,
        filesColumn: req.filesColumn ?? saved.filesColumn,
      };
    }
    if (!req.table)
      throw new DomainError(ErrorCode.InvalidInput, `${field}.table: a table or a saved scope name is needed`);
    return {
      name: null,
      table: req.table,
      keys: req.keys,
      exclude: req.exclude ?? [],
      filesColumn: req.filesColumn ?? null,
    };
  }
}

export function toScopeView(e: ScopeEntity) {
  return {
    name: e.name,
    table: e.table,
    exclude: e.exclude,
    filesColumn: e.filesColumn,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}
