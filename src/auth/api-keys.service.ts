import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { ENV_ADMIN_KEY_NAME, generateApiKey, hashApiKey } from './api-key-secret';
import { ApiKeyEntity } from './api-key.entity';
import type { Role } from './roles';

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly tx: Transactions,
  ) {}

  async create(name: string, role: Role): Promise<ApiKeyView & { key: string }> {
    // That name marks the key ADMIN_API_KEY provides, which boot may revoke when the variable changes.
    if (name.trim() === ENV_ADMIN_KEY_NAME) throw new DomainError(ErrorCode.InvalidInput, `name: "${ENV_ADMIN_KEY_NAME}" is reserved for the key set by ADMIN_API_KEY`);
    const key = generateApiKey();
    const saved = await this.repo.save(this.entity(name, role, key));
    return { ...toView(saved), key };
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.repo.find({ order: { createdAt: 'DESC', id: 'DESC' } });
    return rows.map(toView);
  }

  async revoke(id: string): Promise<void> {
    const row = await this.repo.findOne({ where: { id } });
    if (!row || row.revokedAt) throw DomainError.notFound('API key', id);
    await this.repo.update({ id }, { revokedAt: nowIso() });
  }

  async authenticate(presented: string): Promise<ApiKeyEntity | null> {
    if (presented.length > 512) return null;
    const row = await this.repo.findOne({ where: { keyHash: hashApiKey(presented), revokedAt: IsNull() } });
    if (!row) return null;
    // Best effort and at most once a minute: a read-only request should not write on every call.
    const now = Date.now();
    if (!row.lastUsedAt || now - Date.parse(row.lastUsedAt) > 60_000) {
      void this.tx.run((m) => m.update(ApiKeyEntity, { id: row.id }, { lastUsedAt: new Date(now).toISOString() })).catch(() => undefined);
    }
    return row;
  }

  private entity(name: string, role: Role, key: string): ApiKeyEntity {
    return this.repo.create({ id: randomUUID(), name, role, keyHash: hashApiKey(key), createdAt: nowIso(), revokedAt: null, lastUsedAt: null });
  }
}

function toView(e: ApiKeyEntity): ApiKeyView {
  return { id: e.id, name: e.name, role: e.role, createdAt: e.createdAt, revokedAt: e.revokedAt, lastUsedAt: e.lastUsedAt };
}
