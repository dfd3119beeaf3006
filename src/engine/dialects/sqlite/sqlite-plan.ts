/**
 * Dry run of a restore. Each table's backup rows are staged in a TEMP table (on disk, private
 * to a dedicated connection) and the database compares them with the live rows by primary
 * key, so memory stays bounded whatever the table size. Everything happens in one read
 * transaction that is rolled back, which also discards the staging tables: the main database
 * is never written and no temp object outlives the call.
 *
 * Counting rules (per table, rows matched by primary key under the key's own collation):
 *   insert    backup rows with no live row
 *   update    replace: matched rows whose stored columns differ (byte-wise);
 *             merge: matched rows whose non-key columns differ; missing-only: always 0
 *   unchanged matched rows that are not updated (missing-only: every matched row, even if different)
 *   delete    replace: live rows with no backup row; merge and missing-only: always 0
 * A replace of a table without a primary key cannot match rows: every live row counts as
 * deleted and every backup row as inserted.
 */
import type { PlanTableResult, RestoreInput } from '../dialect';
import { DEFAULT_BATCH_ROWS, openConnection, quoteIdent, type SqliteDb, type SqliteDialectOptions } from './sqlite-connection';
import { describeTable } from './sqlite-introspect';
import { forEachRow } from './sqlite-row-reader';
import { assertEncoding, resolveTargets, type RestoreTarget } from './sqlite-restore-targets';

interface IndexListRow { name: string; origin: string }
interface IndexXInfoRow { name: string | null; coll: string; key: number }

/** Collation of each primary key column, so staged keys compare exactly as the live key does. */
function keyCollations(db: SqliteDb, table: string): Map<string, string> {
  const out = new Map<string, string>();
  const pkIndex = (db.prepare(`PRAGMA main.index_list(${quoteIdent(table)})`).all() as IndexListRow[]).find((i) => i.origin === 'pk');
  if (!pkIndex) return out; // INTEGER PRIMARY KEY: the rowid itself, always BINARY.
  for (const r of db.prepare(`PRAGMA main.index_xinfo(${quoteIdent(pkIndex.name)})`).all() as IndexXInfoRow[]) {
    if (r.key === 1 && r.name !== null) out.set(r.name.toLowerCase(), r.coll);
  }
  return out;
}

function createStage(db: SqliteDb, t: RestoreTarget, stage: string): void {
  const live = new Map(describeTable(db, t.name).columns.map((c) => [c.name.toLowerCase(), c]));
  const colls = keyCollations(db, t.name);
  const defs = t.columns.map((c) => {
    // The live declared type gives the staged value the same affinity conversion an INSERT would.
    const type = live.get(c.toLowerCase())?.type ?? '';
    const coll = colls.get(c.toLowerCase());
    return `${quoteIdent(c)} ${type}${coll ? ` COLLATE ${quoteIdent(coll)}` : ''}`;
  });
  db.exec(`CREATE TEMP TABLE ${quoteIdent(stage)} (${defs.join(', ')})`);
  if (t.primaryKey.length > 0) {
    db.exec(`CREATE INDEX temp.${quoteIdent(`${stage}_key`)} ON ${quoteIdent(stage)} (${t.primaryKey.map(quoteIdent).join(', ')})`);
  }
}

function count(db: SqliteDb, sql: string): number {
  return Number((db.prepare(sql).get() as { n: number | null }).n ?? 0);
}

function compare(db: SqliteDb, t: RestoreTarget, stage: string, staged: number): PlanTableResult {
  const live = `main.${quoteIdent(t.name)}`;
  const liveRows = count(db, `SELECT count(*) AS n FROM ${live}`);
  if (t.primaryKey.length === 0) return { name: t.input.name, insert: staged, update: 0, delete: liveRows, unchanged: 0 };
  const s = `temp.${quoteIdent(stage)}`;
  // The live column on the left makes each key comparison use the live key's collation.
  const on = t.primaryKey.map((k) => `l.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const pk = new Set(t.primaryKey.map((k) => k.toLowerCase()));
  const compared = t.mode === 'replace' ? t.columns : t.columns.filter((c) => !pk.has(c.toLowerCase()));
  const same = compared.length === 0 ? '1' : compared.map((c) => `l.${quoteIdent(c)} IS s.${quoteIdent(c)} COLLATE BINARY`).join(' AND ');
  const r = db
    .prepare(`SELECT count(*) AS matched, sum(CASE WHEN ${same} THEN 1 ELSE 0 END) AS same FROM ${s} AS s JOIN ${live} AS l ON ${on}`)
    .get() as { matched: number; same: number | null };
  const matched = Number(r.matched);
  const unchangedSame = Number(r.same ?? 0);
  const insert = staged - matched;
  switch (t.mode) {
    case 'missing-only':
      return { name: t.input.name, insert, update: 0, delete: 0, unchanged: matched };
    case 'merge':
      return { name: t.input.name, insert, update: matched - unchangedSame, delete: 0, unchanged: unchangedSame };
    case 'replace':
      return { name: t.input.name, insert, update: matched - unchangedSame, delete: liveRows - matched, unchanged: unchangedSame };
  }
}

export async function planSqlite(path: string, input: RestoreInput, opts: SqliteDialectOptions = {}): Promise<PlanTableResult[]> {
  assertEncoding(input);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const db = openConnection(path, opts);
  try {
    // Staging may be far larger than memory: keep temp pages in a file.
    db.pragma('temp_store = FILE');
    db.exec('BEGIN');
    try {
      const targets = resolveTargets(db, input.tables);
      const results: PlanTableResult[] = [];
      for (const [i, t] of targets.entries()) {
        const stage = `strongroom_plan_${i}`;
        createStage(db, t, stage);
        const insert = db.prepare(`INSERT INTO temp.${quoteIdent(stage)} VALUES (${t.columns.map(() => '?').join(', ')})`);
        const staged = await forEachRow(t, { batchRows, signal: input.signal, onProgress: input.onProgress }, (values) => {
          insert.run(values);
        });
        results.push(compare(db, t, stage, staged));
      }
      return results;
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
  } finally {
    db.close();
  }
}
