/**
 * The indexes a restore drops before a load and builds again after it, on both paths (in
 * place and through shadow tables): how to read them, whether a rebuild keeps all of each,
 * and what to put back on a rebuilt one.
 */
import type { Client } from 'pg';
import { displayNameSql, qualify, quoteIdent, quoteLiteral, splitName } from './pg-session';

export interface IndexDef {
  table: string;
  /** Ordinary table (not partitioned, not a partition): the only kind whose indexes a restore rebuilds. */
  plain: boolean;
  index: string;
  /** Set when the index backs a primary key, unique or exclusion constraint. */
  constraint: string | null;
  /** pg_get_indexdef, or pg_get_constraintdef for a constraint's index. */
  def: string;
  /** What pg_get_indexdef starts with: "CREATE [UNIQUE] INDEX name ON schema.table USING ". */
  prefix: string;
  clustered: boolean;
  comment: string | null;
  /**
   * Dropping and rebuilding loses nothing: nothing else depends on it (but the foreign keys of
   * tables in `scope`, which the restore lifts and re-adds; internal dependents such as a
   * deferrable key's recheck trigger come back with it), and it carries no setting its
   * definition lacks (replica identity, a tablespace, per-column statistics, storage parameters
   * of a constraint's index, which pg_get_constraintdef leaves out).
   */
  rebuildable: boolean;
}

const INDEXES_SQL = `
  SELECT ${displayNameSql('n', 'c')} AS table, c.relkind = 'r' AND NOT c.relispartition AS plain, ic.relname AS index, k.conname AS constraint,
    CASE WHEN k.oid IS NULL THEN pg_get_indexdef(i.indexrelid) ELSE pg_get_constraintdef(k.oid) END AS def,
    'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(ic.relname)
      || ' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' USING ' AS prefix,
    i.indisclustered AS clustered,
    CASE WHEN k.oid IS NULL THEN obj_description(i.indexrelid, 'pg_class') ELSE obj_description(k.oid, 'pg_constraint') END AS comment,
    (i.indisvalid AND i.indisready AND i.indislive AND NOT i.indisreplident AND ic.reltablespace = 0
      AND (k.oid IS NULL OR ic.reloptions IS NULL)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype <> 'i'
            AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indexrelid)
              OR (d.refclassid = 'pg_constraint'::regclass AND d.refobjid = k.oid))
            AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (
              SELECT 1 FROM pg_constraint f JOIN pg_class fc ON fc.oid = f.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
              WHERE f.oid = d.objid AND f.contype = 'f' AND ${displayNameSql('fn', 'fc')} = ANY($2::text[]))))
      AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget, -1) >= 0)
    ) AS rebuildable
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
  WHERE ${displayNameSql('n', 'c')} = ANY($1::text[])
  ORDER BY 1, (k.contype = 'p') DESC NULLS LAST, ic.relname`;

/** Every index of `tables`, primary keys first. */
export async function readIndexes(
  client: Pick<Client, 'query'>,
  tables: string[],
  scope: string[],
): Promise<IndexDef[]> {
  if (!tables.length) return [];
  return (await client.query<IndexDef>(INDEXES_SQL, [tables, scope])).rows;
}

/** A failed rebuild, naming the index (or constraint) and the table. */
export function rebuildError(table: string, ix: Pick<IndexDef, 'index' | 'constraint'>, err: unknown): Error {
  const what = ix.constraint ? `constraint "${ix.constraint}"` : `index "${ix.index}"`;
  const msg = err instanceof Error ? err.message : String(err);
  return new Error(`rebuilding ${what} on table "${table}" after the restore failed: ${msg}`);
}

type IndexExtras = Pick<IndexDef, 'index' | 'constraint' | 'clustered' | 'comment'>;

/** What a rebuilt index's definition does not carry: clustering and its (or its constraint's) comment. */
export function indexExtrasSql(table: string, ix: IndexExtras): string[] {
  const out: string[] = [];
  if (ix.clustered) out.push(`ALTER TABLE ${qualify(table)} CLUSTER ON ${quoteIdent(ix.index)}`);
  if (ix.comment === null) return out;
  const target = ix.constraint
    ? `CONSTRAINT ${quoteIdent(ix.constraint)} ON ${qualify(table)}`
    : `INDEX ${quoteIdent(splitName(table).schema)}.${quoteIdent(ix.index)}`;
  out.push(`COMMENT ON ${target} IS ${quoteLiteral(ix.comment)}`);
  return out;
}

export async function restoreIndexExtras(client: Client, table: string, ix: IndexExtras): Promise<void> {
  for (const sql of indexExtrasSql(table, ix)) await client.query(sql);
}

/**
 * The most memory a GIN build is given, whatever the restore's maintenance_work_mem. A GIN build
 * gathers its keys in an in-memory tree until that setting is reached, then writes them out; a
 * bigger tree is slower to insert into, and the build is bound by that, not by how often it
 * writes. Measured on the benchmark's shape c (a GIN index on 1.9 million JSONB documents, two
 * cores, 2026-12-03): 44-56 s at 512MB, 43-48 s at 64MB, 29-41 s at 4, 8, 16 or 32MB. Sorts
 * (btree builds, foreign key checks) do gain from memory, so the restore keeps its own setting.
 */
export const GIN_BUILD_WORK_MEM = '16MB';

const MEMORY_UNITS_KB: Record<string, number> = { kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 };

/** A PostgreSQL memory setting in kB ('512MB', '64kB', '1024' = kB), or null if it is not one. */
export function memoryKb(setting: string): number | null {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(setting);
  return m ? Number(m[1]) * MEMORY_UNITS_KB[m[2] ?? 'kB'] : null;
}

/** Whether a CREATE INDEX statement (pg_get_indexdef's or pg_dump's form) builds a GIN index. */
export function isGinIndex(ddl: string): boolean {
  return / USING gin /i.test(ddl);
}

/**
 * The statements that build an index inside an open transaction where maintenance_work_mem is
 * `maintenanceWorkMem`: a GIN index builds with GIN_BUILD_WORK_MEM when that is less, and the
 * setting is put back after it (SET LOCAL: a rollback undoes both). No trailing semicolon.
 */
export function indexBuildSql(ddl: string, maintenanceWorkMem: string): string {
  const stmt = ddl.replace(/;\s*$/, '');
  const given = memoryKb(maintenanceWorkMem);
  if (!isGinIndex(stmt) || given === null || given <= memoryKb(GIN_BUILD_WORK_MEM)!) return stmt;
  return [
    `SET LOCAL maintenance_work_mem = ${quoteLiteral(GIN_BUILD_WORK_MEM)}`,
    stmt,
    `SET LOCAL maintenance_work_mem = ${quoteLiteral(maintenanceWorkMem)}`,
  ].join(';\n');
}
