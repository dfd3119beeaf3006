import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/** The backup catalog (generated from BackupEntity by scripts/generate-migration-sql.ts). */
export class Backups1763700001000 implements MigrationInterface {
  name = 'Backups1763700001000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_backups" ("id" character varying(36) NOT NULL, "type" character varying(16) NOT NULL, "trigger" character varying(16) NOT NULL, "status" character varying(16) NOT NULL, "schedule_id" character varying(36), "description" character varying(1000), "tags" text NOT NULL, "pinned" boolean NOT NULL DEFAULT false, "created_at" character varying(32) NOT NULL, "started_at" character varying(32), "finished_at" character varying(32), "size_bytes" bigint NOT NULL DEFAULT '0', "row_count" bigint NOT NULL DEFAULT '0', "tables" text NOT NULL, "requested_tables" text NOT NULL, "files" text NOT NULL, "compression" character varying(16) NOT NULL, "encrypted" boolean NOT NULL DEFAULT false, "key_id" character varying(64), "checksum" character varying(64), "verified_at" character varying(32), "error" text, "progress" text, "storage_dir" character varying(300) NOT NULL, "engine" character varying(16), "owner" character varying(200), CONSTRAINT "PK_ebe9b8bc6f2eb3a6a6e3148f12c" PRIMARY KEY ("id"))`,
        `CREATE INDEX "ix_strongroom_backups_status" ON "strongroom_backups" ("status")`,
        `CREATE INDEX "ix_strongroom_backups_created" ON "strongroom_backups" ("created_at")`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_backups" ("id" varchar(36) PRIMARY KEY NOT NULL, "type" varchar(16) NOT NULL, "trigger" varchar(16) NOT NULL, "status" varchar(16) NOT NULL, "schedule_id" varchar(36), "description" varchar(1000), "tags" text NOT NULL, "pinned" boolean NOT NULL DEFAULT (0), "created_at" varchar(32) NOT NULL, "started_at" varchar(32), "finished_at" varchar(32), "size_bytes" bigint NOT NULL DEFAULT (0), "row_count" bigint NOT NULL DEFAULT (0), "tables" text NOT NULL, "requested_tables" text NOT NULL, "files" text NOT NULL, "compression" varchar(16) NOT NULL, "encrypted" boolean NOT NULL DEFAULT (0), "key_id" varchar(64), "checksum" varchar(64), "verified_at" varchar(32), "error" text, "progress" text, "storage_dir" varchar(300) NOT NULL, "engine" varchar(16), "owner" varchar(200))`,
        `CREATE INDEX "ix_strongroom_backups_status" ON "strongroom_backups" ("status")`,
        `CREATE INDEX "ix_strongroom_backups_created" ON "strongroom_backups" ("created_at")`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "strongroom_backups"`);
  }
}
