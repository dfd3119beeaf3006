import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Cancelling a running backup or recovery from any instance: the request is recorded on the
 * job's row (who, when), the instance running the job polls for it, and the job claims its
 * commit point on the same row (`committing_at`), so a cancel and a commit can never both win
 * (generated from BackupEntity and RecoveryEntity; SQLite adds the columns in place).
 */
export class JobCancel1764600200000 implements MigrationInterface {
  name = 'JobCancel1764600200000';

  async up(q: QueryRunner): Promise<void> {
    const tables = ['strongroom_backups', 'strongroom_recoveries'];
    await runEngineSql(q, {
      postgres: tables.flatMap((t) => [
        `ALTER TABLE "${t}" ADD "cancel_requested_at" character varying(32)`,
        `ALTER TABLE "${t}" ADD "cancel_requested_by" character varying(200)`,
        `ALTER TABLE "${t}" ADD "committing_at" character varying(32)`,
      ]),
      sqlite: tables.flatMap((t) => [
        `ALTER TABLE "${t}" ADD COLUMN "cancel_requested_at" varchar(32)`,
        `ALTER TABLE "${t}" ADD COLUMN "cancel_requested_by" varchar(200)`,
        `ALTER TABLE "${t}" ADD COLUMN "committing_at" varchar(32)`,
      ]),
    });
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['strongroom_recoveries', 'strongroom_backups']) {
      await q.query(`ALTER TABLE "${t}" DROP COLUMN "committing_at"`);
      await q.query(`ALTER TABLE "${t}" DROP COLUMN "cancel_requested_by"`);
      await q.query(`ALTER TABLE "${t}" DROP COLUMN "cancel_requested_at"`);
    }
  }
}
