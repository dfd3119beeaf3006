/**
 * Virtual tables and the shadow tables their modules keep their data in. How a virtual table
 * travels in a backup depends on where its data really lives:
 *
 *   rows         FTS3/4/5 with their own content, R*Tree, Geopoly: read and written through
 *                the virtual table itself (rowid included), so the module rebuilds its index
 *                from the restored rows and index and content can never disagree. Merge and
 *                missing-only match rows by rowid (an R*Tree's id), also through the module.
 *   external     FTS with `content=<table>`: the rows are the content table's, which is backed
 *                up as a table; every restore that writes the content table (in any mode)
 *                rebuilds the index ('rebuild' command) before it commits.
 *   contentless  FTS with `content=''`: the index is the only copy of the data, so its shadow
 *                tables are backed up and restored as they are, together and in replace mode
 *                only (merging two indexes' segments row by row would corrupt them).
 *   unsupported  any other module: the backup fails naming the table.
 *
 * An FTS5 table's `_config` shadow table (rank function, merge settings) is carried as a table
 * in every case. Other shadow tables are never backed up: the module recreates them.
 */
import { type SqliteDb } from './sqlite-connection';

export type VirtualKind = 'rows' | 'external' | 'contentless' | 'unsupported';

export interface VirtualTable {
  name: string;
  /** Module name, lower case (fts5, rtree...). */
  module: string;
  kind: VirtualKind;
  /** External content table or view (kind `external`). */
  content?: string;
  /** Shadow tables that are backed up as tables. */
  carriedShadows: string[];
  /** Whether rows carry their rowid (R*Tree's first column already is the rowid). */
  carriesRowid: boolean;
}

const FTS = new Set(['fts3', 'fts4', 'fts5']);
const ROWS_MODULES = new Set(['rtree', 'rtree_i32', 'geopoly']);
const SHADOW_SUFFIXES: Record<string, string[]> = {
  fts5: ['data', 'idx', 'content', 'docsize', 'config'],
  fts4: ['content', 'segments', 'segdir', 'docsize', 'stat'],
  fts3: ['content', 'segments', 'segdir', 'docsize', 'stat'],
};

interface TableListRow {
  schema: string;
  name: string;
  type: string;
}

/** Splits a module argument list at top-level commas (quotes and brackets respected). */
export function splitModuleArgs(args: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let depth = 0;
  for (const ch of args) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '[') quote = ']';
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  const f = t[0];
  if ((f === "'" || f === '"' || f === '`') && t.endsWith(f))
    return t
      .slice(1, -1)
      .split(f + f)
      .join(f);
  if (f === '[' && t.endsWith(']')) return t.slice(1, -1);
  return t;
}

/** Module and arguments of a `CREATE VIRTUAL TABLE` statement. */
export function parseVirtualTableSql(sql: string): { module: string; args: string[] } {
  const m = /\bUSING\s+([A-Za-z0-9_]+)\s*(?:\(([\s\S]*)\))?\s*;?\s*$/i.exec(sql);
  if (!m) return { module: '', args: [] };
  return { module: m[1].toLowerCase(), args: m[2] ? splitModuleArgs(m[2]) : [] };
}

export function classifyVirtualTable(name: string, sql: string, shadowNames: string[]): VirtualTable {
  const { module, args } = parseVirtualTableSql(sql);
  const shadows = shadowNames.filter((s) =>
    (SHADOW_SUFFIXES[module] ?? []).some((suffix) => s.toLowerCase() === `${name}_${suffix}`.toLowerCase()),
  );
  const configShadow =
    module === 'fts5' ? shadows.filter((s) => s.toLowerCase() === `${name}_config`.toLowerCase()) : [];
  if (FTS.has(module)) {
    const contentArg = args.map((a) => /^content\s*=\s*([\s\S]*)$/i.exec(a)).find((m) => m !== null);
    if (!contentArg) return { name, module, kind: 'rows', carriedShadows: configShadow, carriesRowid: true };
    const content = unquote(contentArg[1]);
    if (content === '') return { name, module, kind: 'contentless', carriedShadows: shadows, carriesRowid: false };
    return { name, module, kind: 'external', content, carriedShadows: configShadow, carriesRowid: false };
  }
  if (ROWS_MODULES.has(module))
    return { name, module, kind: 'rows', carriedShadows: [], carriesRowid: module === 'geopoly' };
  return { name, module, kind: 'unsupported', carriedShadows: [], carriesRowid: false };
}

/** Every virtual table of the main schema, classified. */
export function listVirtualTables(db: SqliteDb): VirtualTable[] {
  const list = db.prepare('PRAGMA main.table_list').all() as TableListRow[];
  const shadowNames = list.filter((r) => r.schema === 'main' && r.type === 'shadow').map((r) => r.name);
  const sqlOf = db.prepare(`SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?`).pluck();
  return list
    .filter((r) => r.schema === 'main' && r.type === 'virtual')
    .map((r) => classifyVirtualTable(r.name, String(sqlOf.get(r.name) ?? ''), shadowNames))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Shadow tables the module recreates itself (not backed up, not part of the inventory). */
export function moduleOwnedShadows(db: SqliteDb): Set<string> {
  const list = db.prepare('PRAGMA main.table_list').all() as TableListRow[];
  return new Set(list.filter((r) => r.schema === 'main' && r.type === 'shadow').map((r) => r.name.toLowerCase()));
}

export function unsupportedMessage(v: VirtualTable): string {
  return `SQLite virtual table ${v.name} uses module ${v.module || '(unknown)'}, whose data Strongroom cannot back up (supported: fts3, fts4, fts5, rtree, geopoly); exclude it or drop it`;
}
