import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/** Recoveries (generated from RecoveryEntity by scripts/generate-migration-sql.ts). */
export class Recoveries1763700003100 implements MigrationInterface {
  name = 'Recoveries1763700003100';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_recoveries" ("id" character varying(36) NOT NULL, "backup_id" character varying(36) NOT NULL, "mode" character varying(16) NOT NULL, "tables" text NOT NULL, "status" character varying(16) NOT NULL, "safety_backup_id" character varying(36), "rows_written" bigint NOT NULL DEFAULT '0', "created_at" character varying(32) NOT NULL, "started_at" character varying(32), "finished_at" character varying(32), "error" text, "options" text NOT NULL, "rollback_of" character varying(36), "rolled_back_by" character varying(36), "requested_by" character varying(200) NOT NULL, "owner" character varying(200), CONSTRAINT "PK_fd0c1be1b57729bf516d7709d5b" PRIMARY KEY ("id"))`,
        `CREATE INDEX "ix_strongroom_recoveries_status" ON "strongroom_recoveries" ("status")`,
        `CREATE INDEX "ix_strongroom_recoveries_created" ON "strongroom_recoveries" ("created_at")`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_recoveries" ("id" varchar(36) PRIMARY KEY NOT NULL, "backup_id" varchar(36) NOT NULL, "mode" varchar(16) NOT NULL, "tables" text NOT NULL, "status" varchar(16) NOT NULL, "safety_backup_id" varchar(36), "rows_written" bigint NOT NULL DEFAULT (0), "created_at" varchar(32) NOT NULL, "started_at" varchar(32), "finished_at" varchar(32), "error" text, "options" text NOT NULL, "rollback_of" varchar(36), "rolled_back_by" varchar(36), "requested_by" varchar(200) NOT NULL, "owner" varchar(200))`,
        `CREATE INDEX "ix_strongroom_recoveries_status" ON "strongroom_recoveries" ("status")`,
        `CREATE INDEX "ix_strongroom_recoveries_created" ON "strongroom_recoveries" ("created_at")`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "strongroom_recoveries"`);
  }
}
