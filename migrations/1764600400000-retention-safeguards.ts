import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Retention safeguards: when a backup's verification last failed (so retention can tell a
 * newest backup whose last check failed), and the cleanups that wait for an admin's
 * confirmation (generated from BackupEntity and RetentionDecisionEntity; SQLite adds the
 * column in place instead of rebuilding the table).
 */
export class RetentionSafeguards1764600400000 implements MigrationInterface {
  name = 'RetentionSafeguards1764600400000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_retention_decisions" ("id" character varying(36) NOT NULL, "group_key" character varying(36) NOT NULL, "group_name" character varying(200) NOT NULL, "status" character varying(16) NOT NULL, "backup_ids" text NOT NULL, "completed" integer NOT NULL, "reason" text NOT NULL, "created_at" character varying(32) NOT NULL, "decided_at" character varying(32), "decided_by" character varying(200), CONSTRAINT "PK_758b1071e0a31fcdad66fad1fe8" PRIMARY KEY ("id"))`,
        `CREATE INDEX "ix_strongroom_retention_decisions_status" ON "strongroom_retention_decisions" ("status", "created_at")`,
        `ALTER TABLE "strongroom_backups" ADD "verify_failed_at" character varying(32)`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_retention_decisions" ("id" varchar(36) PRIMARY KEY NOT NULL, "group_key" varchar(36) NOT NULL, "group_name" varchar(200) NOT NULL, "status" varchar(16) NOT NULL, "backup_ids" text NOT NULL, "completed" integer NOT NULL, "reason" text NOT NULL, "created_at" varchar(32) NOT NULL, "decided_at" varchar(32), "decided_by" varchar(200))`,
        `CREATE INDEX "ix_strongroom_retention_decisions_status" ON "strongroom_retention_decisions" ("status", "created_at")`,
        `ALTER TABLE "strongroom_backups" ADD COLUMN "verify_failed_at" varchar(32)`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "verify_failed_at"`);
    await q.query(`DROP INDEX "ix_strongroom_retention_decisions_status"`);
    await q.query(`DROP TABLE "strongroom_retention_decisions"`);
  }
}
