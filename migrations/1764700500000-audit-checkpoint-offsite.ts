import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * When each audit checkpoint reached the offsite storage (OFFSITE_STORAGE), apart from the
 * backup storage: the two are written and retried independently, so an unreachable offsite
 * storage never holds back the primary copy. Existing checkpoints start as not yet written:
 * the checkpointer copies them on its next tick once an offsite storage is configured.
 */
export class AuditCheckpointOffsite1764700500000 implements MigrationInterface {
  name = 'AuditCheckpointOffsite1764700500000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [`ALTER TABLE "strongroom_audit_checkpoints" ADD "offsite_stored_at" character varying(32)`],
      sqlite: [`ALTER TABLE "strongroom_audit_checkpoints" ADD COLUMN "offsite_stored_at" varchar(32)`],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_audit_checkpoints" DROP COLUMN "offsite_stored_at"`);
  }
}
