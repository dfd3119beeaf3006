import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Rolling verification and restore drills (src/verification): the last check of each copy of
 * a backup, on its catalog row (existing backups start unchecked, so the verifier takes them
 * up over its first cycles), and the history of restore drills whose durations are the
 * measured RTO. Generated from BackupEntity and RestoreDrillEntity.
 */
export class RollingVerification1764700300000 implements MigrationInterface {
  name = 'RollingVerification1764700300000';

  async up(q: QueryRunner): Promise<void> {
    const columns = [
      `"primary_checked_at" varchar(32)`,
      `"primary_check_error" text`,
      `"offsite_checked_at" varchar(32)`,
      `"offsite_check_error" text`,
    ];
    await runEngineSql(q, {
      postgres: [
        ...columns.map(
          (c) => `ALTER TABLE "strongroom_backups" ADD ${c.replace('varchar(32)', 'character varying(32)')}`,
        ),
        `CREATE TABLE "strongroom_restore_drills" ("id" character varying(36) NOT NULL, "backup_id" character varying(36) NOT NULL, "started_at" character varying(32) NOT NULL, "finished_at" character varying(32) NOT NULL, "duration_ms" integer NOT NULL, "ok" boolean NOT NULL, "source" character varying(16), "error" text, "baseline_ms" integer, "regressed" boolean NOT NULL DEFAULT false, CONSTRAINT "PK_0f825f77bbe9cda8ee8facd4350" PRIMARY KEY ("id"))`,
        `CREATE INDEX "ix_strongroom_restore_drills_started" ON "strongroom_restore_drills" ("started_at", "id")`,
      ],
      sqlite: [
        ...columns.map((c) => `ALTER TABLE "strongroom_backups" ADD COLUMN ${c}`),
        `CREATE TABLE "strongroom_restore_drills" ("id" varchar(36) PRIMARY KEY NOT NULL, "backup_id" varchar(36) NOT NULL, "started_at" varchar(32) NOT NULL, "finished_at" varchar(32) NOT NULL, "duration_ms" integer NOT NULL, "ok" boolean NOT NULL, "source" varchar(16), "error" text, "baseline_ms" integer, "regressed" boolean NOT NULL DEFAULT (0))`,
        `CREATE INDEX "ix_strongroom_restore_drills_started" ON "strongroom_restore_drills" ("started_at", "id")`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_strongroom_restore_drills_started"`);
    await q.query(`DROP TABLE "strongroom_restore_drills"`);
    for (const c of ['offsite_check_error', 'offsite_checked_at', 'primary_check_error', 'primary_checked_at'])
      await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "${c}"`);
  }
}
