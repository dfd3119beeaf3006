import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * A schedule of type "scope" backs up one scope each run: its scope as asked (a saved scope's
 * name and root keys, or an inline definition), as JSON, resolved at every run so a saved
 * scope's later changes apply. Null for every other schedule. SQLite adds the column in place.
 */
export class ScheduleScope1764700400000 implements MigrationInterface {
  name = 'ScheduleScope1764700400000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [`ALTER TABLE "strongroom_schedules" ADD "scope" text`],
      sqlite: [`ALTER TABLE "strongroom_schedules" ADD COLUMN "scope" text`],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_schedules" DROP COLUMN "scope"`);
  }
}
