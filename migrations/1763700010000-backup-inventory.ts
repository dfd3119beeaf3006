import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * A completed backup's inventory and exclusions in the catalog (generated from BackupEntity;
 * SQLite adds the columns in place instead of rebuilding the table). Backups catalogued before
 * keep null: the manifest in storage still holds them.
 */
export class BackupInventory1763700010000 implements MigrationInterface {
  name = 'BackupInventory1763700010000';

  async up(q: QueryRunner): Promise<void> {
    await runEngineSql(q, {
      postgres: [
        `ALTER TABLE "strongroom_backups" ADD "inventory" text`,
        `ALTER TABLE "strongroom_backups" ADD "excluded" text`,
      ],
      sqlite: [
        `ALTER TABLE "strongroom_backups" ADD COLUMN "inventory" text`,
        `ALTER TABLE "strongroom_backups" ADD COLUMN "excluded" text`,
      ],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "excluded"`);
    await q.query(`ALTER TABLE "strongroom_backups" DROP COLUMN "inventory"`);
  }
}
