import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * The state of each backup's offsite copy (OFFSITE_STORAGE). SQLite adds the columns in place.
 * Existing backups start with none (null): once offsite copies are turned on, the copier
 * copies every completed backup that has no copy yet.
 */
export class OffsiteCopies1764600300000 implements MigrationInterface {
  name = 'OffsiteCopies1764600300000';

  async up(q: QueryRunner): Promise<void> {
    const columns = [
      `"offsite_status" varchar(16)`,
      `"offsite_at" varchar(32)`,
      `"offsite_attempts" integer NOT NULL DEFAULT (0)`,
      `"offsite_error" text`,
      `"offsite_next_at" varchar(32)`,
    ];
    await runEngineSql(q, {
      postgres: columns.map((c) => `ALTER TABLE "strongroom_backups" ADD ${c.replace('DEFAULT (0)', 'DEFAULT 0')}`),
      sqlite: columns.map((c) => `ALTER TABLE "strongroom_backups" ADD COLUMN ${c}`),
    });
  }

  async down(q: QueryRunner): Promise<void> {
    for (const c of ['offsite_next_at', 'offsite_error', 'offsite_attempts', 'offsite_at', 'offsite_status'])
      await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "${c}"`);
  }
}
