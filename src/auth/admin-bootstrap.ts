import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager, IsNull, Not } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { ApiKeyEntity } from './api-key.entity';
import { ENV_ADMIN_KEY_NAME, generateApiKey, GENERATED_ADMIN_KEY_NAME, hashApiKey } from './api-key-secret';

export type BootstrapOutcome =
  | { kind: 'env-created' | 'env-restored' | 'env-present'; revoked: string[] }
  | { kind: 'generated'; key: string }
  | { kind: 'admin-exists' };

/**
 * Makes sure an admin can get in, honestly: ADMIN_API_KEY, while set, is always a working
 * admin key (created, or restored, at boot whatever other keys exist), and a changed value
 * revokes the key the previous value created. Without it, a fresh installation gets a
 * generated key that is shown once (in the start-up banner). Every change is audited.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger('ApiKeys');
  private generated: string | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const outcome = await this.ensureAdminKey();
    if (outcome.kind === 'generated') this.generated = outcome.key;
  }

  /** The key generated at this start, handed out once (the banner prints it); null afterwards. */
  takeGeneratedKey(): string | null {
    const key = this.generated;
    this.generated = null;
    return key;
  }

  ensureAdminKey(): Promise<BootstrapOutcome> {
    return this.tx.run(async (m) => {
      // Two instances starting together on one PostgreSQL database must not both insert the key.
      if (this.tx.engine === 'postgres')
        await m.query(`SELECT pg_advisory_xact_lock(hashtext('strongroom-admin-bootstrap'))`);
      const supplied = this.config.ADMIN_API_KEY;
      return supplied ? this.fromEnvironment(m, supplied) : this.generateIfNoAdmin(m);
    });
  }

  private async fromEnvironment(m: EntityManager, supplied: string): Promise<BootstrapOutcome> {
    const keyHash = hashApiKey(supplied);
    const existing = await m.findOne(ApiKeyEntity, { where: { keyHash } });
    let kind: 'env-created' | 'env-restored' | 'env-present';
    let id: string;
    if (!existing) {
      id = randomUUID();
      await m.insert(ApiKeyEntity, {
        id,
        name: ENV_ADMIN_KEY_NAME,
        role: 'admin',
        keyHash,
        createdAt: nowIso(),
        revokedAt: null,
        lastUsedAt: null,
      });
      kind = 'env-created';
      await this.record(m, 'api-key.env-create', id, { name: ENV_ADMIN_KEY_NAME, role: 'admin' });
      this.logger.log('created the admin key given in ADMIN_API_KEY');
    } else if (existing.revokedAt || existing.role !== 'admin' || existing.name !== ENV_ADMIN_KEY_NAME) {
      // Revoked through the API, or a key that was created before the variable was set: the
      // variable wins while it is set (unset or change it to retire the key), and says so.
      id = existing.id;
      await m.update(ApiKeyEntity, { id }, { name: ENV_ADMIN_KEY_NAME, role: 'admin', revokedAt: null });
      kind = 'env-restored';
      await this.record(m, 'api-key.env-restore', id, {
        name: ENV_ADMIN_KEY_NAME,
        role: 'admin',
        before: { name: existing.name, role: existing.role, revoked: !!existing.revokedAt },
      });
      this.logger.warn(
        'ADMIN_API_KEY names an existing key that was revoked, renamed or not admin: it is an active admin key again',
      );
    } else {
      id = existing.id;
      kind = 'env-present';
    }
    // A different value than last time: the key the old value created stops working.
    const previous = await m.find(ApiKeyEntity, {
      where: { name: ENV_ADMIN_KEY_NAME, revokedAt: IsNull(), id: Not(id) },
    });
    for (const old of previous) {
      await m.update(ApiKeyEntity, { id: old.id }, { revokedAt: nowIso() });
      await this.record(m, 'api-key.env-revoke', old.id, { name: old.name, reason: 'ADMIN_API_KEY changed' });
      this.logger.warn(`ADMIN_API_KEY changed: revoked the key the previous value created (${old.id})`);
    }
    return { kind, revoked: previous.map((p) => p.id) };
  }

  private async generateIfNoAdmin(m: EntityManager): Promise<BootstrapOutcome> {
    const admins = await m.count(ApiKeyEntity, { where: { role: 'admin', revokedAt: IsNull() } });
    if (admins > 0) return { kind: 'admin-exists' };
    const key = generateApiKey();
    const id = randomUUID();
    await m.insert(ApiKeyEntity, {
      id,
      name: GENERATED_ADMIN_KEY_NAME,
      role: 'admin',
      keyHash: hashApiKey(key),
      createdAt: nowIso(),
      revokedAt: null,
      lastUsedAt: null,
    });
    await this.record(m, 'api-key.generate', id, { name: GENERATED_ADMIN_KEY_NAME, role: 'admin' });
    // The key itself goes to the start-up banner only, never into the JSON logs (they get shipped).
    this.logger.warn('no admin key existed: generated one; it is shown once, in the start-up banner on stderr');
    return { kind: 'generated', key };
  }

  private record(m: EntityManager, action: string, resourceId: string, details: Record<string, unknown>) {
    return this.audit.record(
      { actor: SYSTEM_ACTOR, action, resource: 'api-key', resourceId, outcome: 'success', details },
      m,
    );
  }
}
