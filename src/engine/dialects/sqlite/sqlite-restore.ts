/**
 * Restore = one BEGIN IMMEDIATE transaction over every table of the request, so the result
 * becomes visible at once or not at all; an error, an abort or a killed process leaves the
 * file exactly as it was (an uncommitted WAL transaction is simply never seen).
 *
 * - Foreign keys are switched off for the connection before BEGIN (SQLite ignores the pragma
 *   inside a transaction), which lets tables load in any order, with self-references and
 *   cycles; `foreign_key_check` then runs before COMMIT and any violation rolls back.
 * - Triggers on the tables being written are dropped inside the transaction and re-created
 *   before COMMIT (SQLite DDL is transactional, and the write lock keeps every other
 *   connection out meanwhile): restored rows are data as it was, not new events, so they
 *   must not fire side effects such as history rows or touched timestamps. Tables restored
 *   missing-only still only ever receive INSERTs.
 */
import type { RestoreInput, RestoreTableResult, SequenceValue } from '../dialect';
import {
  beginImmediate,
  DEFAULT_BATCH_ROWS,
  openConnection,
  quoteIdent,
  type SqliteDb,
  type SqliteDialectOptions,
} from './sqlite-connection';
import { describeTable, hasAutoincrementCounters, listOrdinaryTables } from './sqlite-introspect';
import { writeCommitMarker } from './sqlite-commit-marker';
import { forEachRow, RowInserter } from './sqlite-row-reader';
import type { SqliteValue } from './sqlite-row-codec';
import { listVirtualTables } from './sqlite-virtual';
import { assertEncoding, resolveTargets, type RestoreTarget } from './sqlite-restore-targets';

/** `params` are the value expressions (see RowInserter); all `?` when omitted. */
export function insertSql(t: RestoreTarget, params?: string[]): string {
  const table = quoteIdent(t.name);
  const cols = [...(t.rowidColumn ? [t.rowidColumn] : []), ...t.columns].map(quoteIdent);
  const base = `INSERT INTO main.${table} (${cols.join(', ')}) VALUES (${(params ?? cols.map(() => '?')).join(', ')})`;
  if (t.mode === 'replace') return base;
  const conflict = ` ON CONFLICT (${t.primaryKey.map(quoteIdent).join(', ')})`;
  const pk = new Set(t.primaryKey.map((c) => c.toLowerCase()));
  const rest = t.columns.filter((c) => !pk.has(c.toLowerCase())).map(quoteIdent);
  if (t.mode === 'missing-only' || rest.length === 0) return `${base}${conflict} DO NOTHING`;
  // Rows that already match are left alone, so rowsWritten counts real changes (as plan() does).
  const differs = rest.map((c) => `${table}.${c} IS excluded.${c} COLLATE BINARY`).join(' AND ');
  return `${base}${conflict} DO UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')} WHERE NOT (${differs})`;
}

/**
 * Merge and missing-only of a virtual table (no UPSERT there): the row's key is its first
 * value (the carried rowid; an R*Tree's id column). `delete` removes a live row with that key
 * whose values differ (merge only); `insert` adds the row unless one with its key is there
 * (its last parameter is the key again). Both go through the module, which updates its index.
 */
export function virtualRowSql(t: RestoreTarget): {
  delete: (params: string[]) => string;
  insert: (params: string[]) => string;
} {
  const table = `main.${quoteIdent(t.name)}`;
  const cols = [...(t.rowidColumn ? [t.rowidColumn] : []), ...t.columns].map(quoteIdent);
  const key = cols[0];
  return {
    delete: (params) => {
      const same = cols.slice(1).map((c, i) => `${c} IS ${params[i + 1]} COLLATE BINARY`);
      return `DELETE FROM ${table} WHERE ${key} = ${params[0]}${same.length ? ` AND NOT (${same.join(' AND ')})` : ' AND 0'}`;
    },
    insert: (params) =>
      `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${params.slice(0, cols.length).join(', ')} WHERE NOT EXISTS (SELECT 1 FROM ${table} WHERE ${key} = ${params[cols.length]})`,
  };
}

/** One row written as the target's mode says; returns the rows changed (as plan() counts them). */
function rowWriter(db: SqliteDb, t: RestoreTarget): (values: SqliteValue[]) => number {
  if (!t.virtualRows || t.mode === 'replace') {
    const inserter = new RowInserter(db, (params) => insertSql(t, params));
    return (values) => inserter.run(values);
  }
  const sql = virtualRowSql(t);
  const remove = t.mode === 'merge' ? new RowInserter(db, sql.delete) : null;
  const insert = new RowInserter(db, sql.insert);
  return (values) => {
    remove?.run(values);
    return insert.run([...values, values[0]]);
  };
}

interface TriggerRow {
  name: string;
  sql: string;
}

/**
 * Triggers on the same event fire in an order that follows their creation order, so the
 * suspended ones and every trigger created after the first of them are dropped and later
 * re-created in their original order: the restore leaves that order as it was.
 */
function suspendTriggers(db: SqliteDb, tables: string[]): TriggerRow[] {
  const scope = new Set(tables.map((t) => t.toLowerCase()));
  const all = db
    .prepare(`SELECT name, tbl_name, sql FROM main.sqlite_master WHERE type = 'trigger' ORDER BY rowid`)
    .all() as (TriggerRow & { tbl_name: string })[];
  const first = all.findIndex((t) => scope.has(t.tbl_name.toLowerCase()));
  const triggers = first === -1 ? [] : all.slice(first);
  for (const t of triggers) db.exec(`DROP TRIGGER main.${quoteIdent(t.name)}`);
  return triggers;
}

interface FkViolation {
  table: string;
  rowid: number | bigint | null;
  parent: string;
  fkid: number;
}

/**
 * Checks the restored tables' own references, and references into them from tables outside
 * the request (a replaced parent may have lost rows that a kept child still points to).
 */
function checkForeignKeys(db: SqliteDb, restored: string[]): void {
  const scope = new Set(restored.map((t) => t.toLowerCase()));
  const problems: string[] = [];
  for (const table of listOrdinaryTables(db)) {
    const inScope = scope.has(table.toLowerCase());
    const refsScope = describeTable(db, table).foreignKeys.some((fk) => scope.has(fk.refTable.toLowerCase()));
    if (!inScope && !refsScope) continue;
    const rows = db.prepare(`PRAGMA main.foreign_key_check(${quoteIdent(table)})`).all() as FkViolation[];
    for (const v of rows) {
      if (!inScope && !scope.has(v.parent.toLowerCase())) continue;
      problems.push(
        `${v.table} ${v.rowid === null ? '(without rowid)' : `rowid ${v.rowid}`} references a missing row in ${v.parent}`,
      );
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    throw new Error(
      `Restore rolled back: ${problems.length} foreign key violation(s): ${shown}${problems.length > 5 ? '; …' : ''}`,
    );
  }
}

export async function restoreSqlite(
  path: string,
  input: RestoreInput,
  opts: SqliteDialectOptions = {},
): Promise<RestoreTableResult[]> {
  assertEncoding(input);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const db = openConnection(path, opts);
  try {
    const foreignKeysWere = db.pragma('foreign_keys', { simple: true }) === 1;
    db.pragma('foreign_keys = OFF');
    try {
      await beginImmediate(db, opts);
      try {
        const targets = resolveTargets(db, input.tables);
        const reader = { query: <T>(sql: string): Promise<T[]> => Promise.resolve(db.prepare(sql).all() as T[]) };
        await input.guard?.beforeLoad(reader);
        // Shadow tables are read-only under SQLite's defensive mode, which better-sqlite3 turns on.
        if (targets.some((t) => t.shadow)) db.unsafeMode(true);
        const triggers = suspendTriggers(
          db,
          targets.map((t) => t.name),
        );
        for (const t of targets) {
          if (t.mode === 'replace') db.prepare(`DELETE FROM main.${quoteIdent(t.name)}`).run();
        }
        const results: RestoreTableResult[] = [];
        for (const t of targets) {
          const write = rowWriter(db, t);
          let written = 0;
          await forEachRow(t, { batchRows, signal: input.signal, onProgress: input.onProgress }, (values) => {
            written += write(values);
          });
          results.push({ name: t.input.name, rowsWritten: written });
        }
        rebuildExternalIndexes(
          db,
          targets.map((t) => t.name),
        );
        for (const tr of triggers) db.exec(tr.sql);
        advanceAutoincrement(
          db,
          input.sequences,
          targets.map((t) => t.name),
        );
        if (foreignKeysWere)
          checkForeignKeys(
            db,
            targets.map((t) => t.name),
          );
        await input.guard?.beforeCommit(reader);
        // Proof of this commit, committed with the data (a crash right after it is told apart).
        if (input.commitMarker) writeCommitMarker(db, input.commitMarker.id);
        input.signal?.throwIfAborted();
        await input.commitGate?.();
        db.exec('COMMIT');
        return results;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      db.pragma(`foreign_keys = ${foreignKeysWere ? 'ON' : 'OFF'}`);
    }
  } finally {
    db.close();
  }
}

/**
 * Full-text indexes over a restored content table are rebuilt from it: the triggers that
 * normally keep them in step were suspended, and the index must match the restored rows
 * (an index out of step reads as "database disk image is malformed"). Content that is a view
 * may draw on any table, so those indexes are always rebuilt.
 */
function rebuildExternalIndexes(db: SqliteDb, restored: string[]): void {
  const scope = new Set(restored.map((t) => t.toLowerCase()));
  const isView = db.prepare(`SELECT 1 FROM main.sqlite_master WHERE type = 'view' AND name = ? COLLATE NOCASE`).pluck();
  for (const v of listVirtualTables(db)) {
    if (v.kind !== 'external' || !v.content) continue;
    if (!scope.has(v.content.toLowerCase()) && isView.get(v.content) === undefined) continue;
    const t = quoteIdent(v.name);
    try {
      db.prepare(`INSERT INTO main.${t} (${t}) VALUES ('rebuild')`).run();
    } catch (err) {
      throw new Error(`Rebuilding the full-text index ${v.name} from ${v.content} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/**
 * Raises each AUTOINCREMENT counter of a restored table to the backup's value when that is
 * higher (inserting the rows already moved it past their rowids). It never lowers one: ids
 * handed out since the backup are not handed out again.
 */
function advanceAutoincrement(db: SqliteDb, sequences: SequenceValue[], tables: string[]): void {
  if (!sequences.length) return;
  if (!hasAutoincrementCounters(db)) return;
  const inScope = new Set(tables);
  const tableSql = db.prepare(`SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?`).pluck();
  const current = db.prepare(`SELECT seq FROM main.sqlite_sequence WHERE name = ?`).pluck().safeIntegers(true);
  for (const s of sequences) {
    if (!inScope.has(s.name) || s.lastValue === null) continue;
    if (!/\bAUTOINCREMENT\b/i.test(String(tableSql.get(s.name) ?? ''))) continue;
    const want = BigInt(s.lastValue);
    const cur = current.get(s.name) as bigint | undefined;
    if (cur === undefined) db.prepare(`INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)`).run(s.name, want);
    else if (cur < want) db.prepare(`UPDATE main.sqlite_sequence SET seq = ? WHERE name = ?`).run(want, s.name);
  }
}
