/**
 * The schema part of a backup: the file's own settings as PRAGMAs, then SQLite's own CREATE
 * statements from sqlite_master for the tables in scope, the virtual tables over them, their
 * indexes and triggers, and the views. Views and triggers are replayed as written; a view is
 * left out only when the backup's scope (not the source itself) lacks what it reads: SQLite
 * does not check a view's references when it is created, so scratch in-memory databases
 * decide that. The finished script is replayed on an empty in-memory database and its
 * objects compared with the source's: an object that does not come back fails the backup,
 * named, instead of the disaster recovery.
 */
import Database from 'better-sqlite3';
import type { SqliteDb } from './sqlite-connection';
import { quoteIdent } from './sqlite-connection';
import { firstObjectDifference, listObjects, readFilePragmas, type SqliteObjects } from './sqlite-inventory';
import { listVirtualTables, moduleOwnedShadows, type VirtualTable } from './sqlite-virtual';

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string;
}

const key = (name: string): string => name.toLowerCase();

function statement(sql: string): string {
  return `${sql.trim().replace(/;$/, '')};\n`;
}

/** Pragmas that only take effect on a new, empty file: `applySchema` runs them before anything else. */
const FILE_SETUP = new Set(['encoding', 'page_size', 'auto_vacuum', 'journal_mode']);

function pragmaSql(db: SqliteDb): string {
  const p = readFilePragmas(db);
  let out = `PRAGMA encoding = '${String(p.encoding)}';\nPRAGMA page_size = ${Number(p.page_size)};\nPRAGMA auto_vacuum = ${Number(p.auto_vacuum)};\n`;
  // Only WAL is a lasting property of the file; the rollback modes are per connection.
  if (p.journal_mode === 'wal') out += `PRAGMA journal_mode = WAL;\n`;
  out += `PRAGMA user_version = ${Number(p.user_version)};\nPRAGMA application_id = ${Number(p.application_id)};\n`;
  return out;
}

/**
 * Splits a schema script into the leading file-setup PRAGMAs (run outside any transaction,
 * before the file has pages) and the rest.
 */
export function splitFileSetup(sql: string): { setup: string[]; rest: string } {
  const setup: string[] = [];
  let rest = sql;
  for (;;) {
    const m = /^\s*PRAGMA\s+([a-z_]+)\s*=\s*([^;\n]*);[^\S\n]*\n?/i.exec(rest);
    if (!m || !FILE_SETUP.has(m[1].toLowerCase())) break;
    setup.push(m[0].trim());
    rest = rest.slice(m[0].length);
  }
  return { setup, rest };
}

function buildableViews(baseSql: string, views: MasterRow[]): Set<string> {
  // Building the tables costs about 50 ms on a file of 500 tables: not done when there is no view to try.
  if (!views.length) return new Set();
  const scratch = new Database(':memory:');
  try {
    scratch.exec(baseSql);
    for (const v of views) scratch.exec(v.sql);
    let alive = [...views];
    // Dropping one view can break another built on it, so repeat until nothing changes.
    for (let changed = true; changed;) {
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
    return new Set(alive.map((v) => key(v.name)));
  } finally {
    scratch.close();
  }
}

/** Virtual tables that belong to a backup of these tables (see sqlite-virtual for the kinds). */
function virtualsInScope(virtuals: VirtualTable[], inScope: Set<string>): VirtualTable[] {
  return virtuals.filter(
    (v) =>
      inScope.has(key(v.name)) ||
      v.carriedShadows.some((s) => inScope.has(key(s))) ||
      (v.kind === 'external' && v.content !== undefined && inScope.has(key(v.content))),
  );
}

export interface SchemaSqlResult {
  sql: string;
  /** The source's objects within the backup's scope (the inventory's definitions). */
  objects: SqliteObjects;
}

/**
 * `tables` are the data tables in scope; all must exist. Statements keep the source's own
 * order (sqlite_master rowid): every object was created after what it needs, and triggers on
 * the same event fire in an order that depends on it.
 */
export function buildSchemaSql(db: SqliteDb, tables: string[]): SchemaSqlResult {
  const master = db
    .prepare(`SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid`)
    .all() as MasterRow[];
  const virtuals = listVirtualTables(db);
  // Their modules create the shadow tables, which must not exist beforehand.
  const shadows = moduleOwnedShadows(db);
  const known = new Set(master.filter((r) => r.type === 'table').map((r) => key(r.name)));
  for (const t of tables) {
    if (!known.has(key(t))) throw new Error(`SQLite table ${t} has no CREATE statement in sqlite_master`);
  }
  const vInScope = virtualsInScope(virtuals, new Set(tables.map(key)));
  const scope = new Set([...tables.map(key).filter((t) => !shadows.has(t)), ...vInScope.map((v) => key(v.name))]);
  const isUserTable = (r: MasterRow) =>
    r.type === 'table' && !r.name.startsWith('sqlite_') && !shadows.has(key(r.name));

  const baseOf = (tableScope: Set<string>): string => {
    let out = '';
    for (const r of master) {
      if ((isUserTable(r) && tableScope.has(key(r.name))) || (r.type === 'index' && tableScope.has(key(r.tbl_name))))
        out += statement(r.sql);
    }
    return out;
  };
  const base = baseOf(scope);

  // A view is left out only when the scope lacks what it reads, not when it is broken in the source.
  const views = master.filter((r) => r.type === 'view');
  const inScopeViews = buildableViews(base, views);
  const allScope = new Set(master.filter(isUserTable).map((r) => key(r.name)));
  // A backup of every table (the usual case) has nothing out of scope: no second build.
  const whole = [...allScope].every((t) => scope.has(t));
  const outOfScope = whole ? [] : [...buildableViews(baseOf(allScope), views)].filter((v) => !inScopeViews.has(v));
  const keptNames = new Set(views.filter((v) => !outOfScope.includes(key(v.name))).map((v) => key(v.name)));
  let out = pragmaSql(db);
  for (const r of master) {
    const keep =
      (isUserTable(r) && scope.has(key(r.name))) ||
      (r.type === 'index' && scope.has(key(r.tbl_name))) ||
      (r.type === 'view' && keptNames.has(key(r.name))) ||
      (r.type === 'trigger' && (scope.has(key(r.tbl_name)) || keptNames.has(key(r.tbl_name))));
    if (keep) out += statement(r.sql);
  }

  const objects = listObjects(db, { scope, views: keptNames });
  const check = new Database(':memory:');
  try {
    check.exec(splitFileSetup(out).rest);
    const replayed = listObjects(check, { pragmas: false });
    const withoutPragmas = new Map([...objects].filter(([k]) => k !== 'pragma'));
    const diff = firstObjectDifference(withoutPragmas, replayed, { expected: 'the database', actual: 'the backup' });
    if (diff) throw new Error(`SQLite backup cannot capture the whole database: ${diff}`);
  } catch (err) {
    if ((err as Error).message.startsWith('SQLite backup cannot capture')) throw err;
    throw new Error(`SQLite schema for the backup does not replay on an empty database: ${(err as Error).message}`);
  } finally {
    check.close();
  }
  return { sql: out, objects };
}
