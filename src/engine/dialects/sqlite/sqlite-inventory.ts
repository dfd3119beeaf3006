/**
 * What a SQLite database holds, object by object, as the manifest's inventory records it:
 * per kind (table, virtual-table, index, view, trigger, pragma) a count and a fingerprint of
 * the normalized definitions from sqlite_schema, plus row counts. The same function runs on
 * the source at the snapshot, on the backup's schema replayed in memory (a backup that
 * cannot give an object back fails, naming it) and on a deep verify's scratch restore.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../../jcs';
import type { SqliteDb } from './sqlite-connection';

export type ObjectKind = 'table' | 'virtual-table' | 'index' | 'view' | 'trigger' | 'pragma';

/** kind -> object name -> normalized definition. */
export type SqliteObjects = Map<ObjectKind, Map<string, string>>;

export interface KindSummary {
  count: number;
  fingerprint: string;
}

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Whitespace carries no meaning in a definition; its text otherwise stays as written. */
export function normalizeSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().replace(/\s*;$/, '');
}

/** The values a restore into a new file gives back (the file's own settings and the application's stamps). */
export const FILE_PRAGMAS = ['encoding', 'page_size', 'auto_vacuum', 'user_version', 'application_id'] as const;

export function readFilePragmas(db: SqliteDb): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const p of FILE_PRAGMAS) out[p] = db.pragma(p, { simple: true }) as string | number;
  out.journal_mode = String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal' ? 'wal' : 'rollback';
  return out;
}

/**
 * Objects of the main schema. `scope` (lower-case table names) keeps tables, virtual tables
 * and the indexes and triggers on them, and `views` the views; undefined keeps everything.
 * Shadow tables belong to their virtual table and internal sqlite_ objects to SQLite.
 */
export function listObjects(
  db: SqliteDb,
  opts: { scope?: Set<string>; views?: Set<string>; pragmas?: boolean } = {},
): SqliteObjects {
  const shadows = new Set(
    (db.prepare('PRAGMA main.table_list').all() as { schema: string; name: string; type: string }[])
      .filter((r) => r.schema === 'main' && r.type === 'shadow')
      .map((r) => r.name.toLowerCase()),
  );
  const rows = db
    .prepare(`SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql IS NOT NULL`)
    .all() as MasterRow[];
  const objects: SqliteObjects = new Map();
  const add = (kind: ObjectKind, name: string, def: string): void => {
    if (!objects.has(kind)) objects.set(kind, new Map());
    (objects.get(kind) as Map<string, string>).set(name, def);
  };
  const inScope = (name: string): boolean => !opts.scope || opts.scope.has(name.toLowerCase());
  for (const r of rows) {
    const sql = normalizeSql(r.sql as string);
    if (r.name.startsWith('sqlite_') || shadows.has(r.name.toLowerCase())) continue;
    if (r.type === 'table') {
      const isVirtual = /^CREATE\s+VIRTUAL\s+TABLE/i.test(sql);
      if (inScope(r.name)) add(isVirtual ? 'virtual-table' : 'table', r.name, sql);
    } else if (r.type === 'view') {
      if (!opts.views || opts.views.has(r.name.toLowerCase())) add('view', r.name, sql);
    } else if (r.type === 'index' || r.type === 'trigger') {
      const onView = opts.views?.has(r.tbl_name.toLowerCase()) ?? false;
      if (inScope(r.tbl_name) || onView) add(r.type, r.name, sql);
    }
  }
  if (opts.pragmas !== false) {
    for (const [k, v] of Object.entries(readFilePragmas(db))) add('pragma', k, String(v));
  }
  return objects;
}

export function summarize(objects: SqliteObjects): Record<string, KindSummary> {
  const out: Record<string, KindSummary> = {};
  for (const kind of [...objects.keys()].sort()) {
    const defs = [...(objects.get(kind) as Map<string, string>).entries()].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    out[kind] = { count: defs.length, fingerprint: createHash('sha256').update(canonicalize(defs)).digest('hex') };
  }
  return out;
}

/** The first object present or defined differently in one but not the other, in words; null when equal. */
export function firstObjectDifference(
  expected: SqliteObjects,
  actual: SqliteObjects,
  what: { expected: string; actual: string },
): string | null {
  const kinds = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  for (const kind of kinds) {
    const e = expected.get(kind) ?? new Map<string, string>();
    const a = actual.get(kind) ?? new Map<string, string>();
    for (const name of [...new Set([...e.keys(), ...a.keys()])].sort()) {
      const ed = e.get(name);
      const ad = a.get(name);
      if (ed === ad) continue;
      if (ad === undefined) return `${kind} ${name} is missing from ${what.actual}`;
      if (ed === undefined) return `${kind} ${name} is in ${what.actual} but not in ${what.expected}`;
      return `${kind} ${name} differs: ${what.expected} has ${JSON.stringify(ed.slice(0, 200))}, ${what.actual} has ${JSON.stringify(ad.slice(0, 200))}`;
    }
  }
  return null;
}
