import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/** Persistent, de-duplicated alerts (generated from AlertEntity). */
export class Alerts1764700200000 implements MigrationInterface {
  name = 'Alerts1764700200000';

  async up(q: QueryRunner): Promise<void> {
    const indexes = [
      `CREATE UNIQUE INDEX "ux_strongroom_alerts_open_key" ON "strongroom_alerts" ("open_key") `,
      `CREATE INDEX "ix_strongroom_alerts_created_id" ON "strongroom_alerts" ("created_at", "id") `,
    ];
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_alerts" ("id" character varying(36) NOT NULL, "alert_key" character varying(200) NOT NULL, "open_key" character varying(200), "type" character varying(64) NOT NULL, "severity" character varying(16) NOT NULL, "state" character varying(16) NOT NULL, "message" text NOT NULL, "details" text NOT NULL, "created_at" character varying(32) NOT NULL, "last_seen_at" character varying(32) NOT NULL, "occurrences" integer NOT NULL, "notified_at" character varying(32) NOT NULL, "resolved_at" character varying(32), "resolution" text, CONSTRAINT "PK_147d51bcc98940f757c2af44297" PRIMARY KEY ("id"))`,
        ...indexes,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_alerts" ("id" varchar(36) PRIMARY KEY NOT NULL, "alert_key" varchar(200) NOT NULL, "open_key" varchar(200), "type" varchar(64) NOT NULL, "severity" varchar(16) NOT NULL, "state" varchar(16) NOT NULL, "message" text NOT NULL, "details" text NOT NULL, "created_at" varchar(32) NOT NULL, "last_seen_at" varchar(32) NOT NULL, "occurrences" integer NOT NULL, "notified_at" varchar(32) NOT NULL, "resolved_at" varchar(32), "resolution" text)`,
        ...indexes,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_strongroom_alerts_created_id"`);
    await q.query(`DROP INDEX "ux_strongroom_alerts_open_key"`);
    await q.query(`DROP TABLE "strongroom_alerts"`);
  }
}
