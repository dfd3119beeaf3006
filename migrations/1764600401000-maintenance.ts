import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/** Maintenance mode's one row: an admin's switch and what was last done about the state (generated from MaintenanceEntity). */
export class Maintenance1764600401000 implements MigrationInterface {
  name = 'Maintenance1764600401000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_maintenance" ("id" character varying(16) NOT NULL, "admin_active" boolean NOT NULL DEFAULT false, "admin_reason" text, "admin_since" character varying(32), "admin_by" character varying(200), "announced" character varying(16) NOT NULL DEFAULT 'inactive', "target_read_only" boolean NOT NULL DEFAULT false, "updated_at" character varying(32) NOT NULL, CONSTRAINT "PK_2bae52bf54105ac22adcf31fbbc" PRIMARY KEY ("id"))`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_maintenance" ("id" varchar(16) PRIMARY KEY NOT NULL, "admin_active" boolean NOT NULL DEFAULT (0), "admin_reason" text, "admin_since" varchar(32), "admin_by" varchar(200), "announced" varchar(16) NOT NULL DEFAULT ('inactive'), "target_read_only" boolean NOT NULL DEFAULT (0), "updated_at" varchar(32) NOT NULL)`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "strongroom_maintenance"`);
  }
}
