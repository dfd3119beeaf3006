import { Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { noteForAudit } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
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

/** Verified keys kept at most; beyond it the oldest entry goes (an installation has a handful of keys). */
const KEY_CACHE_MAX = 1000;

/**
 * API keys: creation, listing, revocation, and the check every request makes.
 *
 * That check is a SHA-256 of the presented key and an indexed lookup; to keep the lookup off
 * the hot path, an *active* key found in the catalog is remembered (by its hash, never the key)
 * for API_KEY_CACHE_SECONDS. Revocation through this process drops the entry at once;
 * a key revoked by another instance (or at another instance's boot, ADMIN_API_KEY changed)
 * stops working here within API_KEY_CACHE_SECONDS: that bound is the price, and 0 turns the
 * cache off. Unknown or revoked keys are never cached, so a key just created elsewhere works
 * at once and a refused key is looked up every time (the throttler bounds that).
 */
@Injectable()
export class ApiKeysService {
  private readonly verified = new Map<string, { row: ApiKeyEntity; until: number }>();
  /** Bumped by every revocation here: a lookup that began before one must not remember what it read. */
  private generation = 0;
  private readonly cacheMs: number;

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly tx: Transactions,
    @Optional() config?: AppConfig,
  ) {
    this.cacheMs = (config?.API_KEY_CACHE_SECONDS ?? 0) * 1000;
  }

  async create(name: string, role: Role): Promise<ApiKeyView & { key: string }> {
    // That name marks the key ADMIN_API_KEY provides, which boot may revoke when the variable changes.
    if (name.trim() === ENV_ADMIN_KEY_NAME)
      throw new DomainError(
        ErrorCode.InvalidInput,
        `name: "${ENV_ADMIN_KEY_NAME}" is reserved for the key set by ADMIN_API_KEY`,
      );
    const key = generateApiKey();
    const saved = await this.repo.save(this.entity(name, role, key));
    noteForAudit({ after: { id: saved.id, name: saved.name, role: saved.role } });
    return { ...toView(saved), key };
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.repo.find({ order: { createdAt: 'DESC', id: 'DESC' } });
    return rows.map(toView);
  }

  async revoke(id: string): Promise<void> {
    const row = await this.repo.findOne({ where: { id } });
    if (!row || row.revokedAt) throw DomainError.notFound('API key', id);
    // Dropped before and after the write: no request of this process is let in by a cached entry once the revocation is answered.
    this.forget(row.keyHash);
    const revokedAt = nowIso();
    await this.repo.update({ id }, { revokedAt });
    this.forget(row.keyHash);
    noteForAudit({ before: { name: row.name, role: row.role, revokedAt: null }, after: { revokedAt } });
  }

  /** Drops every remembered key (e.g. after keys were changed outside this service). */
  forgetAll(): void {
    this.generation++;
    this.verified.clear();
  }

  async authenticate(presented: string, now = Date.now()): Promise<ApiKeyEntity | null> {
    if (presented.length > 512) return null;
    const hash = hashApiKey(presented);
    const hit = this.verified.get(hash);
    let row: ApiKeyEntity | null;
    if (hit && hit.until > now) row = hit.row;
    else {
      if (hit) this.verified.delete(hash);
      const generation = this.generation;
      row = await this.repo.findOne({ where: { keyHash: hash, revokedAt: IsNull() } });
      if (!row) return null;
      if (this.cacheMs > 0 && generation === this.generation) this.remember(hash, row, now + this.cacheMs);
    }
    // Best effort and at most once a minute: a read-only request should not write on every call.
    if (!row.lastUsedAt || now - Date.parse(row.lastUsedAt) > 60_000) {
      const at = new Date(now).toISOString();
      // The cached copy says so too, or every request after the first minute would write.
      row.lastUsedAt = at;
      const id = row.id;
      void this.tx.run((m) => m.update(ApiKeyEntity, { id }, { lastUsedAt: at })).catch(() => undefined);
    }
    return row;
  }

  private remember(hash: string, row: ApiKeyEntity, until: number): void {
    if (this.verified.size >= KEY_CACHE_MAX) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(hash, { row, until });
  }

  private forget(hash: string): void {
    this.generation++;
    this.verified.delete(hash);
  }

  private entity(name: string, role: Role, key: string): ApiKeyEntity {
    return this.repo.create({
      id: randomUUID(),
      name,
      role,
      keyHash: hashApiKey(key),
      createdAt: nowIso(),
      revokedAt: null,
      lastUsedAt: null,
    });
  }
}

function toView(e: ApiKeyEntity): ApiKeyView {
  return {
    id: e.id,
    name: e.name,
    role: e.role,
    createdAt: e.createdAt,
    revokedAt: e.revokedAt,
    lastUsedAt: e.lastUsedAt,
  };
}
