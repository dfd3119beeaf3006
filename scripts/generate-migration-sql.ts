/**
 * Prints the SQL that brings an empty (or migrated) database in line with the entities,
 * for each engine: the source of every migration in migrations/.
 * Usage: npx ts-node --transpile-only scripts/generate-migration-sql.ts sqlite:/tmp/x.db postgres://…/empty_db
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';

async function main(): Promise<void> {
  for (const url of process.argv.slice(2)) {
    const ds = new DataSource(buildDataSourceOptions(url, { migrationsRun: true }));
    await ds.initialize();
    const sql = await ds.driver.createSchemaBuilder().log();
    process.stdout.write(`-- ${url.split(':')[0]}: ${sql.upQueries.length} statements\n`);
    for (const q of sql.upQueries) process.stdout.write(`${q.query};\n`);
    await ds.destroy();
  }
}

void main();
