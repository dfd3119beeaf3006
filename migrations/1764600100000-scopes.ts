import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Saved scopes (ScopeEntity), and the scope of scoped backups and recoveries (a JSON column
 * each, null for every other backup and recovery). SQLite adds the columns in place.
 */
export class Scopes1764600100000 implements MigrationInterface {
  name = 'Scopes1764600100000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `CREATE TABLE "strongroom_scopes" ("name" character varying(64) NOT NULL, "root_table" character varying(200) NOT NULL, "exclude" text NOT NULL, "files_column" character varying(300), "created_at" character varying(32) NOT NULL, "updated_at" character varying(32) NOT NULL, CONSTRAINT "PK_6fbc4b945edb049b2acf3aa4ed5" PRIMARY KEY ("name"))`,
        `ALTER TABLE "strongroom_backups" ADD "scope" text`,
        `ALTER TABLE "strongroom_recoveries" ADD "scope" text`,
      ],
      sqlite: [
        `CREATE TABLE "strongroom_scopes" ("name" varchar(64) PRIMARY KEY NOT NULL, "root_table" varchar(200) NOT NULL, "exclude" text NOT NULL, "files_column" varchar(300), "created_at" varchar(32) NOT NULL, "updated_at" varchar(32) NOT NULL)`,
        `ALTER TABLE "strongroom_backups" ADD COLUMN "scope" text`,
        `ALTER TABLE "strongroom_recoveries" ADD COLUMN "scope" text`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_recoveries" DROP COLUMN "scope"`);
    await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "scope"`);
    await q.query(`DROP TABLE "strongroom_scopes"`);
  }
}
