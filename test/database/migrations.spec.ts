import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { createTestDatabase, ENGINES } from '../support/databases';

describe.each(ENGINES)('migrations on %s', (engine) => {
  it('create exactly the schema the entities describe, and roll back cleanly', async () => {
    const db = await createTestDatabase(engine);
    const ds = new DataSource(buildDataSourceOptions(db.url));
    try {
      await ds.initialize();
      const applied = await ds.runMigrations();
      expect(applied.length).toBeGreaterThan(0);
      // Entities and migrations agree: TypeORM finds nothing to change.
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      for (let i = 0; i < applied.length; i++) await ds.undoLastMigration();
      const tables = await ds.query(
        engine === 'postgres'
          ? `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'strongroom_migrations'`
          : `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('strongroom_migrations', 'sqlite_sequence')`,
      );
      expect(tables).toEqual([]);
    } finally {
      if (ds.isInitialized) await ds.destroy();
      await db.drop();
    }
  });
});
