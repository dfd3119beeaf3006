import type { EntityManager } from 'typeorm';

export type SqlValue = string | number | null;

/**
 * One multi-row INSERT with bound parameters, for hot append paths (the audit chain and its
 * Merkle nodes). TypeORM's insert builder costs more CPU than the database does there: it
 * looks every parameter name up again for every row (about 40 % of an append's time in a
 * profile of concurrent appends). Callers keep `rows` small enough for the engines'
 * parameter limits (PostgreSQL 65,535; SQLite 32,766).
 */
export async function insertRows(
  m: EntityManager,
  table: string,
  columns: string[],
  rows: SqlValue[][],
): Promise<void> {
  if (!rows.length) return;
  const postgres = m.connection.options.type === 'postgres';
  const params: SqlValue[] = [];
  const tuples = rows.map((row) => {
    if (row.length !== columns.length)
      throw new Error(`insertRows: ${row.length} values for ${columns.length} columns`);
    const marks = row.map((v) => {
      params.push(v);
      return postgres ? `$${params.length}` : '?';
    });
    return `(${marks.join(', ')})`;
  });
  const names = columns.map((c) => `"${c}"`).join(', ');
  await m.query(`INSERT INTO "${table}" (${names}) VALUES ${tuples.join(', ')}`, params);
}
