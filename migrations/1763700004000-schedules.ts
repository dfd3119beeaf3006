import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/** Backup schedules and the claims of service-wide cron ticks (generated from ScheduleEntity and JobClaimEntity). */
export class Schedules1763700004000 implements MigrationInterface {
  name = 'Schedules1763700004000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_job_claims" ("name" character varying(100) NOT NULL, "last_fire_at" character varying(32) NOT NULL, CONSTRAINT "PK_921efd9bfddd489f4eabb24135b" PRIMARY KEY ("name"))`,
        `CREATE TABLE "strongroom_schedules" ("id" character varying(36) NOT NULL, "name" character varying(200) NOT NULL, "cron" character varying(200) NOT NULL, "timezone" character varying(64) NOT NULL, "type" character varying(16) NOT NULL, "tables" text NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "retention" text NOT NULL, "created_at" character varying(32) NOT NULL, "updated_at" character varying(32) NOT NULL, "last_fire_at" character varying(32), "last_run_at" character varying(32), "last_status" character varying(16), "last_backup_id" character varying(36), CONSTRAINT "PK_0a4628ddfc63754420ed611fab8" PRIMARY KEY ("id"))`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_job_claims" ("name" varchar(100) PRIMARY KEY NOT NULL, "last_fire_at" varchar(32) NOT NULL)`,
        `CREATE TABLE "strongroom_schedules" ("id" varchar(36) PRIMARY KEY NOT NULL, "name" varchar(200) NOT NULL, "cron" varchar(200) NOT NULL, "timezone" varchar(64) NOT NULL, "type" varchar(16) NOT NULL, "tables" text NOT NULL, "enabled" boolean NOT NULL DEFAULT (1), "retention" text NOT NULL, "created_at" varchar(32) NOT NULL, "updated_at" varchar(32) NOT NULL, "last_fire_at" varchar(32), "last_run_at" varchar(32), "last_status" varchar(16), "last_backup_id" varchar(36))`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "strongroom_schedules"`);
    await q.query(`DROP TABLE "strongroom_job_claims"`);
  }
}
