import type { QueryRunner } from 'typeorm';

/** Runs the statements written for the connection's engine, in order. */
export async function runEngineSql(q: QueryRunner, sql: { postgres: string[]; sqlite: string[] }): Promise<void> {
  const statements = q.connection.options.type === 'postgres' ? sql.postgres : sql.sqlite;
  for (const s of statements) await q.query(s);
}
