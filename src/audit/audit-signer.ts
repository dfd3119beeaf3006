import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { generateSigningSeed, SigningKey, signingKeyFromSeed } from '../engine/audit/checkpoint';
import { AuditSigningKeyEntity } from './audit-signing-key.entity';

const KEY_ROW = 1;

/**
 * The Ed25519 key that signs audit checkpoints: AUDIT_SIGNING_KEY when set (then it is
 * never stored), else one generated at the first start, kept in the catalog so every
 * instance and restart signs with it, and shown once in the start-up banner, like a
 * generated admin key. Its public half is what auditors pin. Generating it is logged, not
 * audited: the trail's first events stay the ones a deployment's actions produce.
 */
@Injectable()
export class AuditSigner {
  private readonly logger = new Logger('AuditSigner');
  private loading: Promise<SigningKey> | null = null;
  private generated: string | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly tx: Transactions,
  ) {}

  key(): Promise<SigningKey> {
    this.loading ??= this.load().catch((e: unknown) => {
      this.loading = null; // a catalog outage at boot must not disable signing for good
      throw e;
    });
    return this.loading;
  }

  /** The seed generated at this start, handed out once (the banner prints it); null otherwise. */
  takeGeneratedSeed(): string | null {
    const seed = this.generated;
    this.generated = null;
    return seed;
  }

  private async load(): Promise<SigningKey> {
    const origin = this.config.AUDIT_ORIGIN;
    if (this.config.AUDIT_SIGNING_KEY) return signingKeyFromSeed(this.config.AUDIT_SIGNING_KEY, origin);
    return this.tx.run(async (m) => {
      // Two instances starting together on one PostgreSQL database must not both generate a key.
      if (this.tx.engine === 'postgres') {
        await m.query(`SELECT pg_advisory_xact_lock(hashtext('strongroom-audit-signing-key'))`);
      }
      const row = await m.findOne(AuditSigningKeyEntity, { where: { id: KEY_ROW } });
      if (row) return signingKeyFromSeed(row.seed, origin);
      const seed = generateSigningSeed();
      const key = signingKeyFromSeed(seed, origin);
      const publicKey = key.publicKey.toString('base64');
      await m.insert(AuditSigningKeyEntity, { id: KEY_ROW, seed, publicKey, createdAt: nowIso() });
      this.generated = seed;
      this.logger.warn(
        `no AUDIT_SIGNING_KEY: generated a checkpoint signing key (public key ${publicKey}); it is shown once, in the start-up banner`,
      );
      return key;
    });
  }
}
