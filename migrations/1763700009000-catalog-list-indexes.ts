import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runEngineSql } from './run-engine-sql';

/**
 * Indexes that serve the catalog's hot reads in their exact order, so a page stops after
 * `limit` rows instead of sorting the whole catalog (measured with 10,000 backups:
 * test/chaos/catalog-queries.ts, docs/reliability.md):
 * - (created_at, id): the list's keyset order, newest first, and its cursor range;
 * - (status, created_at, id, size_bytes): status-filtered pages and the newest completed
 *   backup (GET /api/status) in order; it also covers the per-status stats, which SQLite
 *   then reads from the index alone instead of every (large) catalog row;
 * - (verified_at, id): the newest verified backup (GET /api/status).
 * The two single-column indexes they start with become redundant and go.
 */
export class CatalogListIndexes1763700009000 implements MigrationInterface {
  name = 'CatalogListIndexes1763700009000';

  async up(q: QueryRunner): Promise<void> {
    const sql = [
      `DROP INDEX "ix_strongroom_backups_created"`,
      `DROP INDEX "ix_strongroom_backups_status"`,
      `CREATE INDEX "ix_strongroom_backups_created_id" ON "strongroom_backups" ("created_at", "id")`,
      `CREATE INDEX "ix_strongroom_backups_status_created" ON "strongroom_backups" ("status", "created_at", "id", "size_bytes")`,
      `CREATE INDEX "ix_strongroom_backups_verified" ON "strongroom_backups" ("verified_at", "id")`,
    ];
    await runEngineSql(q, { postgres: sql, sqlite: sql });
  }

  async down(q: QueryRunner): Promise<void> {
    const sql = [
      `DROP INDEX "ix_strongroom_backups_verified"`,
      `DROP INDEX "ix_strongroom_backups_status_created"`,
      `DROP INDEX "ix_strongroom_backups_created_id"`,
      `CREATE INDEX "ix_strongroom_backups_status" ON "strongroom_backups" ("status")`,
      `CREATE INDEX "ix_strongroom_backups_created" ON "strongroom_backups" ("created_at")`,
    ];
    await runEngineSql(q, { postgres: sql, sqlite: sql });
  }
}
