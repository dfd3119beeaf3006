import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../common/domain-error';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
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

/** Keys are 256-bit random tokens, so one SHA-256 is the right hash: no salt or KDF needed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `sr_${randomBytes(32).toString('base64url')}`;
}

@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger('ApiKeys');

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly config: AppConfig,
    private readonly tx: Transactions,
  ) {}

  /** First start: make sure an admin can get in (ADMIN_API_KEY, or a generated key printed once). */
  async onApplicationBootstrap(): Promise<void> {
    await this.ensureAdminKey();
  }

  async ensureAdminKey(): Promise<string | null> {
    const admins = await this.repo.count({ where: { role: 'admin', revokedAt: IsNull() } });
    if (admins > 0) return null;
    const supplied = this.config.ADMIN_API_KEY;
    const key = supplied ?? generateApiKey();
    await this.repo.save(this.entity('bootstrap admin', 'admin', key));
    if (supplied) {
      this.logger.log('created the bootstrap admin key from ADMIN_API_KEY');
    } else {
      // Printed once, on purpose: this is the only way into a fresh installation.
      this.logger.warn(`no admin key existed: generated one, shown only this once: ${key}`);
    }
    return key;
  }

  async create(name: string, role: Role): Promise<ApiKeyView & { key: string }> {
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
