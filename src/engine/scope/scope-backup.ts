/**
 * What a scoped backup reads inside its snapshot: the closure of the scope, then per table the
 * SQL filter that keeps the members (or the context rows) for the export, the member keys (a
 * part of their own, encrypted like the rows: a restore needs them to tell which live rows of
 * the scope the backup no longer holds) and the files the scope's file column names.
 */
import type { EngineName, Snapshot, TableInfo } from '../dialects/dialect';
import {
  computeClosure,
  countRows,
  findTable,
  ScopeError,
  type ScopeClosure,
  type ScopeDefinition,
} from './scope-closure';
import { scopeSqlFor, type ScopeSql } from './scope-sql';

export interface ScopeRequest extends ScopeDefinition {
  /** `<table>.<column>` naming files (paths relative to a file root) the scope carries. */
  filesColumn?: string | null;
  /** The saved scope this came from, if any. */
  name?: string | null;
}

export interface ScopedExport {
  closure: ScopeClosure;
  /** Tables the scope can hold rows of (the root and every table below it), parents first. */
  memberTables: TableInfo[];
  memberFilter: Map<string, string>;
  contextTables: TableInfo[];
  contextFilter: Map<string, string>;
  /** NDJSON: one `{"table","key"}` per member row (key: the column literals). */
  keysNdjson: string;
  /** Paths named by the files column on member rows, sorted, without duplicates. */
  files: string[];
}

const FILTER_BATCH = 1000;

/** A filter matching `tuples` on the primary key; `1 = 0` for none. */
export function keyFilter(sql: ScopeSql, pk: string[], tuples: string[][]): string {
  if (!tuples.length) return '1 = 0';
  const parts: string[] = [];
  for (let i = 0; i < tuples.length; i += FILTER_BATCH) parts.push(sql.keyIn(pk, tuples.slice(i, i + FILTER_BATCH)));
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

/** The root and every table that references a table of the scope, transitively (excluded ones left out). */
export function scopeTableSet(tables: TableInfo[], root: string, exclude: string[]): TableInfo[] {
  const out = new Set(exclude.map((e) => findTable(tables, e)?.name ?? e));
  const inScope = new Set<string>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const t of tables)
      if (!inScope.has(t.name) && !out.has(t.name) && t.foreignKeys.some((fk) => inScope.has(fk.refTable))) {
        inScope.add(t.name);
        grew = true;
      }
  }
  // The snapshot's order is parents first; keep it.
  return tables.filter((t) => inScope.has(t.name));
}

export function parseFilesColumn(tables: TableInfo[], spec: string): { table: TableInfo; column: string } {
  const dot = spec.lastIndexOf('.');
  const table = dot > 0 ? findTable(tables, spec.slice(0, dot)) : undefined;
  const column = spec.slice(dot + 1);
  if (!table || !table.columns.some((c) => c.name === column))
    throw new ScopeError(
      `scope.filesColumn: "${spec}" is not <table>.<column> of an existing table`,
      'scope.filesColumn',
    );
  return { table, column };
}

export async function exportScope(engine: EngineName, snap: Snapshot, def: ScopeRequest): Promise<ScopedExport> {
  if (!snap.query) throw new Error(`the ${engine} snapshot cannot run a scope's queries`);
  const sql = scopeSqlFor(engine);
  const query = snap.query.bind(snap);
  const closure = await computeClosure(sql, query, snap.tables, def);
  const memberTables = scopeTableSet(snap.tables, closure.root, def.exclude ?? []);
  const memberFilter = new Map(
    memberTables.map((t) => [t.name, keyFilter(sql, t.primaryKey, [...(closure.members.get(t.name)?.values() ?? [])])]),
  );
  const contextTables = snap.tables.filter((t) => closure.context.get(t.name)?.size);
  const contextFilter = new Map(
    contextTables.map((t) => [t.name, keyFilter(sql, t.primaryKey, [...closure.context.get(t.name)!.values()])]),
  );
  const lines: string[] = [];
  for (const [table, keys] of closure.members)
    for (const key of keys.values()) lines.push(JSON.stringify({ table, key }));
  let files: string[] = [];
  if (def.filesColumn) {
    const { table, column } = parseFilesColumn(snap.tables, def.filesColumn);
    const keys = [...(closure.members.get(table.name)?.values() ?? [])];
    const paths = new Set<string>();
    for (let i = 0; i < keys.length; i += FILTER_BATCH) {
      const rows = await query(
        `SELECT ${sql.ident(column)} AS p FROM ${sql.table(table.name)} WHERE ${sql.keyIn(table.primaryKey, keys.slice(i, i + FILTER_BATCH))}`,
      );
      for (const r of rows) if (typeof r.p === 'string' && r.p) paths.add(r.p);
    }
    files = [...paths].sort();
  }
  return {
    closure,
    memberTables,
    memberFilter,
    contextTables,
    contextFilter,
    keysNdjson: lines.length ? `${lines.join('\n')}\n` : '',
    files,
  };
}

/** The files part of a scoped backup: one JSON string (a path the files column names) per line. */
export function scopeFilesNdjson(paths: string[]): string {
  return paths.map((p) => `${JSON.stringify(p)}\n`).join('');
}

export function parseScopeFiles(ndjson: string): string[] {
  return ndjson
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown)
    .filter((p): p is string => typeof p === 'string');
}

/** Member keys per table from a backup's keys part. */
export function parseScopeKeys(ndjson: string): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const line of ndjson.split('\n')) {
    if (!line) continue;
    const { table, key } = JSON.parse(line) as { table: string; key: string[] };
    const list = out.get(table) ?? [];
    list.push(key);
    out.set(table, list);
  }
  return out;
}

export { countRows };
