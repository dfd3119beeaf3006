/**
 * Reads table structure from the PostgreSQL catalog (every user schema; names as
 * displayName gives them): columns with their formatted types, primary keys, foreign keys,
 * and the sequences tied to columns.
 */
import type { Client } from 'pg';
import type { ColumnInfo, ForeignKeyInfo, TableInfo } from '../dialect';
import { displayName, displayNameSql, qualify } from './pg-session';

/**
 * The table's own rows as SQL: ONLY, so an inheritance parent never reads or writes its
 * children's rows; a partitioned table has none of its own, so it goes without.
 */
export function relationSql(t: Pick<TableInfo, 'name' | 'partitioned'>): string {
  return `${t.partitioned ? '' : 'ONLY '}${qualify(t.name)}`;
}

/**
 * Schemas that are never user data: PostgreSQL's own, and the shadow schemas of Strongroom's
 * restores (pg-shadow-prepare.ts). A predicate over a pg_namespace alias.
 */
export function userSchemaSql(n: string): string {
  return `(${n}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${n}.nspname NOT LIKE 'pg\\_toast%'
    AND ${n}.nspname NOT LIKE 'pg\\_temp\\_%' AND ${n}.nspname NOT LIKE 'strongroom\\_restore\\_%')`;
}

/** Relations an extension created: its own script recreates them, pg_dump leaves them out. */
export function notExtensionMemberSql(c: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = ${c}.oid AND e.deptype = 'e')`;
}

/** Anything that can run a query: a Client, or a snapshot's transaction. */
export type Queryable = Pick<Client, 'query'>;

interface ColumnRow {
  table: string;
  relkind: 'r' | 'p';
  /** Null for a table without columns. */
  column: string | null;
  type: string;
  notnull: boolean;
  generated: boolean;
}

interface KeyRow {
  table: string;
  name: string;
  contype: 'p' | 'f';
  columns: string[];
  ref_table: string | null;
  ref_columns: string[] | null;
}

/**
 * Ordinary and partitioned tables, unlogged ones included; partitions are read and written
 * through their root, which routes each row to the partition its bounds pick. Inheritance
 * children are tables of their own (read with ONLY). A table without columns still holds rows.
 */
const TABLES_SQL = `
  SELECT ${displayNameSql('n', 'c')} AS table, c.relkind, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
         a.attnotnull AS notnull, a.attgenerated <> '' AS generated
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE ${userSchemaSql('n')} AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${notExtensionMemberSql('c')}
  ORDER BY 1, a.attnum`;

const KEYS_SQL = `
  SELECT ${displayNameSql('n', 'c')} AS table, k.conname AS name, k.contype,
         array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i)::text[] AS columns,
         CASE WHEN r.oid IS NOT NULL THEN ${displayNameSql('rn', 'r')} END AS ref_table,
         CASE WHEN k.contype = 'f' THEN
           array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                 JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)::text[]
         END AS ref_columns
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class r ON r.oid = k.confrelid
  LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
  WHERE ${userSchemaSql('n')} AND k.contype IN ('p', 'f') AND k.conparentid = 0
  ORDER BY 1, k.conname`;

export async function readTables(db: Queryable, exclude: string[] = []): Promise<TableInfo[]> {
  const skip = new Set(exclude);
  const cols = (await db.query<ColumnRow>(TABLES_SQL)).rows;
  const keys = (await db.query<KeyRow>(KEYS_SQL)).rows;
  const byName = new Map<string, TableInfo>();
  for (const r of cols) {
    if (skip.has(r.table)) continue;
    let t = byName.get(r.table);
    if (!t) {
      t = { name: r.table, columns: [], primaryKey: [], foreignKeys: [] };
      if (r.relkind === 'p') t.partitioned = true;
      byName.set(r.table, t);
    }
    if (r.column === null) continue;
    const col: ColumnInfo = { name: r.column, type: r.type, nullable: !r.notnull, generated: r.generated };
    t.columns.push(col);
  }
  for (const k of keys) {
    const t = byName.get(k.table);
    if (!t) continue;
    if (k.contype === 'p') t.primaryKey = k.columns;
    else if (k.ref_table) {
      const fk: ForeignKeyInfo = {
        name: k.name,
        columns: k.columns,
        refTable: k.ref_table,
        refColumns: k.ref_columns ?? [],
      };
      t.foreignKeys.push(fk);
    }
  }
  return orderParentsFirst([...byName.values()]);
}

/**
 * Topological order over foreign keys, parents first, ties by name. A cycle has no
 * parent-first order: the alphabetically first table still waiting is taken next, so the
 * order is the same on every run. Restore does not rely on it (it lifts FKs in scope).
 */
export function orderParentsFirst(tables: TableInfo[]): TableInfo[] {
  const names = new Set(tables.map((t) => t.name));
  const parents = new Map<string, Set<string>>();
  for (const t of tables) {
    parents.set(t.name, new Set(t.foreignKeys.map((f) => f.refTable).filter((p) => p !== t.name && names.has(p))));
  }
  const remaining = new Map(tables.map((t) => [t.name, t]));
  const out: TableInfo[] = [];
  while (remaining.size) {
    const sorted = [...remaining.keys()].sort();
    const ready = sorted.find((n) => [...parents.get(n)!].every((p) => !remaining.has(p))) ?? sorted[0];
    out.push(remaining.get(ready)!);
    remaining.delete(ready);
  }
  return out;
}

export interface SequenceLink {
  /** As displayName gives it. */
  sequence: string;
  schema: string;
  relname: string;
  table: string;
  column: string;
}

/** Sequences owned by (serial, identity) or used in defaults of columns of `tables`. */
export async function readSequenceLinks(db: Queryable, tables: string[]): Promise<SequenceLink[]> {
  const { rows } = await db.query<Omit<SequenceLink, 'sequence'>>(
    `SELECT DISTINCT sn.nspname AS schema, s.relname, t.relname AS table, a.attname AS column
     FROM (
       SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS attnum
       FROM pg_depend d
       WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
         AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
       UNION
       SELECT d.refobjid, ad.adrelid, ad.adnum
       FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
       WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
     ) l
     JOIN pg_class s ON s.oid = l.seq AND s.relkind = 'S'
     JOIN pg_namespace sn ON sn.oid = s.relnamespace
     JOIN pg_class t ON t.oid = l.rel
     JOIN pg_namespace tn ON tn.oid = t.relnamespace
     JOIN pg_attribute a ON a.attrelid = l.rel AND a.attnum = l.attnum
     WHERE ${displayNameSql('tn', 't')} = ANY($1::text[])
     ORDER BY 1, 2, 3, 4`,
    [tables],
  );
  return rows.map((r) => ({ ...r, sequence: displayName(r.schema, r.relname) }));
}

export function sequenceRegclass(link: { schema: string; relname: string }): string {
  return `${quote(link.schema)}.${quote(link.relname)}`;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A foreign key lifted for a restore, as it is re-added after it. */
export interface ForeignKeyDef {
  table: string;
  name: string;
  def: string;
  comment: string | null;
  /** The referenced table (in scope). */
  refTable?: string;
  /** The referencing columns, in key order. */
  columns: string[];
}

/** Select-list item giving the referencing columns of foreign key `k` as ForeignKeyDef.columns. */
export const FK_COLUMNS_SQL = `(SELECT array_agg(a.attname::text ORDER BY u.n) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, n)
   JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns`;
