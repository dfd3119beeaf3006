/**
 * Reads table structure from SQLite's own catalog pragmas. Works on any connection, including
 * a snapshot's, so the structure recorded in a backup is the one its rows were read under.
 */
import type { ColumnInfo, ForeignKeyInfo, TableInfo } from '../dialect';
import { COMMIT_MARKER_TABLE } from './sqlite-commit-marker';
import { quoteIdent, type SqliteDb } from './sqlite-connection';
import { listVirtualTables, unsupportedMessage, type VirtualTable } from './sqlite-virtual';

interface TableListRow {
  schema: string;
  name: string;
  type: string;
}
interface XInfoRow {
  cid: number;
  name: string;
  type: string;
  notnull: number;
  pk: number;
  hidden: number;
}
interface FkRow {
  id: number;
  seq: number;
  table: string;
  from: string;
  to: string | null;
}

/** Ordinary tables of the main schema (no virtual or shadow tables). */
export function listOrdinaryTables(db: SqliteDb): string[] {
  const rows = db.prepare('PRAGMA main.table_list').all() as TableListRow[];
  return rows
    .filter(
      (r) =>
        r.schema === 'main' && r.type === 'table' && !r.name.startsWith('sqlite_') && r.name !== COMMIT_MARKER_TABLE,
    )
    .map((r) => r.name)
    .sort();
}

/**
 * Tables whose rows a backup carries: ordinary tables, virtual tables read through the module
 * (and those no supported module can read, so that a backup of them fails naming them), and
 * the shadow tables that hold data no module can rebuild (see sqlite-virtual).
 */
export function listTableNames(db: SqliteDb): string[] {
  const names = listOrdinaryTables(db);
  for (const v of listVirtualTables(db)) {
    if (v.kind === 'rows' || v.kind === 'unsupported') names.push(v.name);
    names.push(...v.carriedShadows);
  }
  return names.sort();
}

/** The virtual table of this name, if it is one. */
export function virtualTable(db: SqliteDb, name: string): VirtualTable | undefined {
  return listVirtualTables(db).find((v) => v.name.toLowerCase() === name.toLowerCase());
}

interface IndexListRow {
  name: string;
  origin: string;
}

/**
 * Whether `table` is a WITHOUT ROWID table. Asked of the one table (PRAGMA table_list with an
 * argument): filtering pragma_table_list instead lists every table for each one asked about,
 * which on a file of 500 tables cost a backup about half a second before it read a page.
 */
export function isWithoutRowid(db: SqliteDb, table: string): boolean {
  const rows = db.prepare(`PRAGMA main.table_list(${quoteIdent(table)})`).all() as { wr: number }[];
  return rows[0]?.wr === 1;
}

/**
 * A rowid table whose rowid is not a column (no INTEGER PRIMARY KEY): its rowids are data
 * (other tables or the application may keep them) and must be carried. An INTEGER PRIMARY
 * KEY is the only primary key without an index of origin 'pk'.
 */
function hasImplicitRowid(db: SqliteDb, table: string, columns: ColumnInfo[], primaryKey: string[]): boolean {
  if (isWithoutRowid(db, table)) return false;
  if (primaryKey.length === 1) {
    const pkIndex = (db.prepare(`PRAGMA main.index_list(${quoteIdent(table)})`).all() as IndexListRow[]).some(
      (i) => i.origin === 'pk',
    );
    if (!pkIndex) return false;
  }
  return rowidAlias(columns) !== null;
}

/** A name that reaches the rowid of a table with these columns, or null when all three are columns. */
export function rowidAlias(columns: { name: string }[]): string | null {
  const names = new Set(columns.map((c) => c.name.toLowerCase()));
  return ['rowid', '_rowid_', 'oid'].find((n) => !names.has(n)) ?? null;
}

function readColumns(db: SqliteDb, table: string): { columns: ColumnInfo[]; primaryKey: string[] } {
  const rows = db.prepare(`PRAGMA main.table_xinfo(${quoteIdent(table)})`).all() as XInfoRow[];
  if (rows.length === 0) throw new Error(`SQLite table ${table} does not exist`);
  const columns = rows
    // hidden = 1 marks virtual-table internals; 2 and 3 are VIRTUAL and STORED generated columns.
    .filter((r) => r.hidden !== 1)
    .map((r) => ({
      name: r.name,
      type: r.type,
      nullable: r.notnull === 0,
      generated: r.hidden === 2 || r.hidden === 3,
    }));
  const primaryKey = rows
    .filter((r) => r.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((r) => r.name);
  return { columns, primaryKey };
}

function readForeignKeys(db: SqliteDb, table: string): ForeignKeyInfo[] {
  const rows = db.prepare(`PRAGMA main.foreign_key_list(${quoteIdent(table)})`).all() as FkRow[];
  const byId = new Map<number, FkRow[]>();
  for (const r of rows) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  return [...byId.values()]
    .map((parts) => parts.sort((a, b) => a.seq - b.seq))
    .map((parts) => {
      const refTable = parts[0].table;
      let refColumns = parts.map((p) => p.to ?? '');
      // `REFERENCES parent` without columns means the parent's primary key.
      if (refColumns.some((c) => c === '')) {
        try {
          refColumns = readColumns(db, refTable).primaryKey;
        } catch {
          refColumns = [];
        }
      }
      const columns = parts.map((p) => p.from);
      return { name: `${table}_${columns.join('_')}_fkey`, columns, refTable, refColumns };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** sqlite_sequence exists once any table uses AUTOINCREMENT; it holds those tables' counters. */
export function hasAutoincrementCounters(db: SqliteDb): boolean {
  return (
    db.prepare(`SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).get() !== undefined
  );
}

/** `virtuals` (from listVirtualTables) saves reading the catalog again when describing many tables. */
export function describeTable(
  db: SqliteDb,
  table: string,
  virtuals: VirtualTable[] = listVirtualTables(db),
): TableInfo {
  const vt = virtuals.find((v) => v.name.toLowerCase() === table.toLowerCase());
  if (vt?.kind === 'unsupported') throw new Error(unsupportedMessage(vt));
  const { columns, primaryKey } = readColumns(db, table);
  if (vt)
    return {
      name: table,
      columns,
      primaryKey: [],
      foreignKeys: [],
      ...(vt.carriesRowid ? { rowid: true } : {}),
      virtual: vt.module,
    };
  const rowid = hasImplicitRowid(db, table, columns, primaryKey);
  const index = virtuals.find(
    (v) => v.kind === 'contentless' && v.carriedShadows.some((s) => s.toLowerCase() === table.toLowerCase()),
  );
  return {
    name: table,
    columns,
    primaryKey,
    foreignKeys: readForeignKeys(db, table),
    ...(rowid ? { rowid: true } : {}),
    ...(index ? { contentlessIndex: index.name } : {}),
  };
}

/** Parents before children where possible; cycles and self-references are broken by name order. */
export function orderByDependencies(tables: TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: TableInfo[] = [];
  const visit = (t: TableInfo): void => {
    if (done.has(t.name) || visiting.has(t.name)) return;
    visiting.add(t.name);
    for (const fk of t.foreignKeys) {
      const parent = byName.get(fk.refTable);
      if (parent && parent.name !== t.name) visit(parent);
    }
    visiting.delete(t.name);
    done.add(t.name);
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(t);
  return out;
}

/** `lenient`: a virtual table no supported module reads is listed without columns instead of failing (the snapshot fails on it). */
export function describeTables(db: SqliteDb, names: string[], opts: { lenient?: boolean } = {}): TableInfo[] {
  const virtuals = listVirtualTables(db);
  const unsupported = new Set(opts.lenient ? virtuals.filter((v) => v.kind === 'unsupported').map((v) => v.name) : []);
  return orderByDependencies(
    names.map((n) =>
      unsupported.has(n) ? { name: n, columns: [], primaryKey: [], foreignKeys: [] } : describeTable(db, n, virtuals),
    ),
  );
}

/** Columns that travel in the row encoding: generated ones are recomputed by the database. */
export function storedColumns(table: TableInfo): ColumnInfo[] {
  return table.columns.filter((c) => !c.generated);
}
