import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Heartbeats of running backups and recoveries (renewed with their lease, so any instance can
 * tell a job nobody runs any more), and what a recovery needs to learn after a crash whether
 * its restore committed (generated from BackupEntity and RecoveryEntity; SQLite adds the
 * columns in place instead of rebuilding the tables).
 */
export class JobHeartbeats1763700005300 implements MigrationInterface {
  name = 'JobHeartbeats1763700005300';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `ALTER TABLE "strongroom_backups" ADD "heartbeat_at" character varying(32)`,
        `ALTER TABLE "strongroom_recoveries" ADD "heartbeat_at" character varying(32)`,
        `ALTER TABLE "strongroom_recoveries" ADD "commit_token" character varying(64)`,
        `ALTER TABLE "strongroom_recoveries" ADD "note" text`,
      ],
      sqlite: [
        `ALTER TABLE "strongroom_backups" ADD COLUMN "heartbeat_at" varchar(32)`,
        `ALTER TABLE "strongroom_recoveries" ADD COLUMN "heartbeat_at" varchar(32)`,
        `ALTER TABLE "strongroom_recoveries" ADD COLUMN "commit_token" varchar(64)`,
        `ALTER TABLE "strongroom_recoveries" ADD COLUMN "note" text`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_recoveries" DROP COLUMN "note"`);
    await q.query(`ALTER TABLE "strongroom_recoveries" DROP COLUMN "commit_token"`);
    await q.query(`ALTER TABLE "strongroom_recoveries" DROP COLUMN "heartbeat_at"`);
    await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "heartbeat_at"`);
  }
}
