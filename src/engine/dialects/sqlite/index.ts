export { createSqliteDialect, SqliteDialect } from './sqlite.dialect';
export type { SqliteDialectOptions } from './sqlite-connection';
