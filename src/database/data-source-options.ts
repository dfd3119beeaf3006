import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';
import { parseDatabaseUrl } from './database-url';

export const MIGRATIONS_TABLE = 'strongroom_migrations';

/** TypeORM options for the service database. `synchronize` is never on: migrations own the schema. */
export function buildDataSourceOptions(databaseUrl: string, opts: { migrationsRun?: boolean } = {}): DataSourceOptions {
  const parsed = parseDatabaseUrl(databaseUrl);
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: opts.migrationsRun ?? false,
    synchronize: false,
    logging: false,
  } as const;
  if (parsed.engine === 'sqlite') {
    if (parsed.path !== ':memory:') mkdirSync(dirname(parsed.path), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: parsed.path,
      enableWAL: true,
      // Other processes (CLI, a second instance) share the file: wait for locks instead of failing.
      prepareDatabase: (db: { pragma(s: string): unknown }) => {
        db.pragma('busy_timeout = 15000');
        db.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: parsed.url,
    extra: {
      max: 10,
      application_name: 'strongroom',
      // When the catalog is also the target, maintenance makes new sessions read-only; the catalog's must still write.
      options: '-c default_transaction_read_only=off',
    },
  };
}
