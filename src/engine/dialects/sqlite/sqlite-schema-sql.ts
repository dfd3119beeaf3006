/**
 * The schema part of a backup: SQLite's own CREATE statements from sqlite_master for the
 * tables in scope, their indexes and triggers, and the views that can be built from those
 * tables alone. SQLite does not check a view's references when it is created, so a scratch
 * in-memory database decides which views survive, and the finished script is applied to a
 * second scratch database before it is handed out: a schema that cannot be replayed fails
 * the backup instead of the disaster recovery.
 */
import Database from 'better-sqlite3';
import type { SqliteDb } from './sqlite-connection';
import { quoteIdent } from './sqlite-connection';

interface MasterRow { type: string; name: string; tbl_name: string; sql: string }

const key = (name: string): string => name.toLowerCase();

function statement(sql: string): string {
  return `${sql.trim().replace(/;$/, '')};\n`;
}

function viewsBuildableFrom(baseSql: string, views: MasterRow[]): MasterRow[] {
  const scratch = new Database(':memory:');
  try {
    scratch.exec(baseSql);
    for (const v of views) scratch.exec(v.sql);
    let alive = [...views];
    // Dropping one view can break another built on it, so repeat until nothing changes.
    for (let changed = true; changed; ) {
      changed = false;
      for (const v of alive) {
        try {
          scratch.prepare(`SELECT * FROM ${quoteIdent(v.name)}`);
        } catch {
          scratch.exec(`DROP VIEW ${quoteIdent(v.name)}`);
          alive = alive.filter((x) => x !== v);
          changed = true;
          break;
        }
      }
    }
    return alive;
  } finally {
    scratch.close();
  }
}

/** `tableOrder` is the snapshot's table order (parents first); all names must exist. */
export function buildSchemaSql(db: SqliteDb, tableOrder: string[]): string {
  const master = db
    .prepare(`SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid`)
    .all() as MasterRow[];
  const tableSql = new Map(master.filter((r) => r.type === 'table').map((r) => [key(r.name), r.sql]));
  const inScope = new Set(tableOrder.map(key));

  let base = '';
  for (const name of tableOrder) {
    const sql = tableSql.get(key(name));
    if (!sql) throw new Error(`SQLite table ${name} has no CREATE statement in sqlite_master`);
    base += statement(sql);
  }
  for (const r of master) {
    if (r.type === 'index' && inScope.has(key(r.tbl_name))) base += statement(r.sql);
  }

  const views = viewsBuildableFrom(base, master.filter((r) => r.type === 'view'));
  const onto = new Set([...inScope, ...views.map((v) => key(v.name))]);
  let out = base;
  for (const v of views) out += statement(v.sql);
  for (const r of master) {
    if (r.type === 'trigger' && onto.has(key(r.tbl_name))) out += statement(r.sql);
  }

  const check = new Database(':memory:');
  try {
    check.exec(out);
  } catch (err) {
    throw new Error(`SQLite schema for the backup does not replay on an empty database: ${(err as Error).message}`);
  } finally {
    check.close();
  }
  return out;
}
