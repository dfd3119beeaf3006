/**
 * The few SQL spellings a scope needs, per engine. A scope works through keyed queries only:
 * every key value travels as an SQL literal produced by the database itself (`quote_nullable`
 * on PostgreSQL, `quote` on SQLite), so it goes back into the next query exactly as it came out,
 * whatever the column's type, and the planner can use the key's index.
 */
import type { EngineName } from '../dialects/dialect';
import { qualify, quoteIdent as pgIdent, quoteLiteral as pgLiteral } from '../dialects/postgres/pg-session';
import { quoteIdent as sqliteIdent } from '../dialects/sqlite/sqlite-connection';

/** Runs one statement (no parameters) and returns its rows. */
export type ScopeQuery = (sql: string) => Promise<Record<string, unknown>[]>;

export interface ScopeSql {
  readonly engine: EngineName;
  table(name: string): string;
  ident(column: string): string;
  /** An expression yielding the column's value as an SQL literal (text), NULL staying `NULL`. */
  literal(columnSql: string): string;
  /** A literal for a key value given in a request (JSON). */
  requestLiteral(value: unknown): string;
  /** `cols` match one of `tuples` (each a list of literals, one per column). */
  keyIn(cols: string[], tuples: string[][]): string;
  /** A statement returning a row when an index of `table` starts with `cols`, in that order. */
  indexLeadsWith(table: string, cols: string[]): string;
}

export const pgScopeSql: ScopeSql = {
  engine: 'postgres',
  table: qualify,
  ident: pgIdent,
  literal: (c) => `quote_nullable(${c})`,
  requestLiteral: (v) => (v === null ? 'NULL' : pgLiteral(typeof v === 'string' ? v : JSON.stringify(v))),
  keyIn(cols, tuples) {
    const lhs = cols.map(pgIdent);
    // Literals stay untyped, so each takes the type of the column it is compared with.
    if (lhs.length === 1) return `${lhs[0]} IN (${tuples.map((t) => t[0]).join(', ')})`;
    return `(${lhs.join(', ')}) IN (${tuples.map((t) => `(${t.join(', ')})`).join(', ')})`;
  },
  indexLeadsWith: (table, cols) =>
    `SELECT 1 AS ok FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
     WHERE i.indrelid = ${pgLiteral(qualify(table))}::regclass AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
       AND i.indnkeyatts >= ${cols.length}
       AND (SELECT array_agg(a.attname::text ORDER BY u.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, n)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
            WHERE u.n <= ${cols.length}) = ARRAY[${cols.map(pgLiteral).join(', ')}]::text[]
     LIMIT 1`,
};

function sqliteText(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

export const sqliteScopeSql: ScopeSql = {
  engine: 'sqlite',
  table: (name) => `main.${sqliteIdent(name)}`,
  ident: sqliteIdent,
  literal: (c) => `quote(${c})`,
  requestLiteral(v) {
    if (v === null) return 'NULL';
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'boolean') return v ? '1' : '0';
    return sqliteText(typeof v === 'string' ? v : JSON.stringify(v));
  },
  keyIn(cols, tuples) {
    const lhs = cols.map(sqliteIdent);
    if (lhs.length === 1) return `${lhs[0]} IN (${tuples.map((t) => t[0]).join(', ')})`;
    // SQLite compares row values with a list only through VALUES.
    return `(${lhs.join(', ')}) IN (VALUES ${tuples.map((t) => `(${t.join(', ')})`).join(', ')})`;
  },
  indexLeadsWith: (table, cols) =>
    `SELECT 1 AS ok FROM pragma_index_list(${sqliteText(table)}) l
     WHERE l.partial = 0 AND (SELECT group_concat(name, char(31)) FROM
       (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno LIMIT ${cols.length})) = ${sqliteText(cols.join('\u001f'))}
     LIMIT 1`,
};

export function scopeSqlFor(engine: EngineName): ScopeSql {
  return engine === 'postgres' ? pgScopeSql : sqliteScopeSql;
}
