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
 * A table without a primary key is matched on its carried rowid (replace); without either,
 * rows cannot be matched: every live row counts as deleted and every backup row as inserted.
 */
import type { DryRunResult, PlanTableResult, RestoreInput } from '../dialect';
import {
  DEFAULT_BATCH_ROWS,
  openConnection,
  quoteIdent,
  type SqliteDb,
  type SqliteDialectOptions,
} from './sqlite-connection';
import { describeTable } from './sqlite-introspect';
import { forEachRow, RowInserter } from './sqlite-row-reader';
import { assertEncoding, resolveTargets, type RestoreTarget } from './sqlite-restore-targets';
import { catalogChecks, rowChecks, type StageLayout } from './sqlite-restore-checks';

interface IndexListRow {
  name: string;
  origin: string;
}
interface IndexXInfoRow {
  name: string | null;
  coll: string;
  key: number;
}

/** Collation of each primary key column, so staged keys compare exactly as the live key does. */
function keyCollations(db: SqliteDb, table: string): Map<string, string> {
  const out = new Map<string, string>();
  const pkIndex = (db.prepare(`PRAGMA main.index_list(${quoteIdent(table)})`).all() as IndexListRow[]).find(
    (i) => i.origin === 'pk',
  );
  if (!pkIndex) return out; // INTEGER PRIMARY KEY: the rowid itself, always BINARY.
  for (const r of db.prepare(`PRAGMA main.index_xinfo(${quoteIdent(pkIndex.name)})`).all() as IndexXInfoRow[]) {
    if (r.key === 1 && r.name !== null) out.set(r.name.toLowerCase(), r.coll);
  }
  return out;
}

/** Staged column of the i-th encoded column; `r` holds a carried rowid. Positional, so no name can clash. */
const stageCol = (i: number): string => `c${i}`;

function createStage(db: SqliteDb, t: RestoreTarget, stage: string): void {
  const live = new Map(describeTable(db, t.name).columns.map((c) => [c.name.toLowerCase(), c]));
  const colls = keyCollations(db, t.name);
  const defs = t.columns.map((c, i) => {
    // The live declared type gives the staged value the same affinity conversion an INSERT would.
    const type = live.get(c.toLowerCase())?.type ?? '';
    const coll = colls.get(c.toLowerCase());
    return `${stageCol(i)} ${type}${coll ? ` COLLATE ${quoteIdent(coll)}` : ''}`;
  });
  if (t.rowidColumn) defs.unshift('r INTEGER');
  db.exec(`CREATE TEMP TABLE ${quoteIdent(stage)} (${defs.join(', ')})`);
  const key = matchKey(t);
  if (key.length > 0) {
    db.exec(
      `CREATE INDEX temp.${quoteIdent(`${stage}_key`)} ON ${quoteIdent(stage)} (${key.map(([, s]) => s).join(', ')})`,
    );
  }
}

/** What rows are matched on: [live expression, staged column] pairs; the primary key, else a carried rowid. */
function matchKey(t: RestoreTarget): [string, string][] {
  const pkAt = t.primaryKey.map((k) => t.columns.findIndex((c) => c.toLowerCase() === k.toLowerCase()));
  if (pkAt.length > 0 && pkAt.every((i) => i >= 0))
    return t.primaryKey.map((k, n) => [quoteIdent(k), stageCol(pkAt[n])]);
  return t.rowidColumn ? [[t.rowidColumn, 'r']] : [];
}

function count(db: SqliteDb, sql: string): number {
  return Number((db.prepare(sql).get() as { n: number | null }).n ?? 0);
}

function compare(db: SqliteDb, t: RestoreTarget, stage: string, staged: number): PlanTableResult {
  const live = `main.${quoteIdent(t.name)}`;
  const liveRows = count(db, `SELECT count(*) AS n FROM ${live}`);
  const key = matchKey(t);
  if (key.length === 0) return { name: t.input.name, insert: staged, update: 0, delete: liveRows, unchanged: 0 };
  const s = `temp.${quoteIdent(stage)}`;
  // The live column on the left makes each key comparison use the live key's collation.
  const on = key.map(([l, st]) => `l.${l} = s.${st}`).join(' AND ');
  const pk = new Set(t.primaryKey.map((k) => k.toLowerCase()));
  const pairs: [string, string][] = t.columns.map((c, i) => [quoteIdent(c), stageCol(i)]);
  // A replace writes the carried rowid too: a row that moved to another rowid is an update.
  if (t.rowidColumn) pairs.unshift([t.rowidColumn, 'r']);
  const compared =
    t.mode === 'replace' ? pairs : pairs.filter(([, st], i) => !pk.has(t.columns[i]?.toLowerCase()) && st !== 'r');
  const same =
    compared.length === 0 ? '1' : compared.map(([l, st]) => `l.${l} IS s.${st} COLLATE BINARY`).join(' AND ');
  const r = db
    .prepare(
      `SELECT count(*) AS matched, sum(CASE WHEN ${same} THEN 1 ELSE 0 END) AS same FROM ${s} AS s JOIN ${live} AS l ON ${on}`,
    )
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
      return {
        name: t.input.name,
        insert,
        update: matched - unchangedSame,
        delete: liveRows - matched,
        unchanged: unchangedSame,
      };
  }
}

function layoutOf(t: RestoreTarget): StageLayout {
  const at = new Map(t.columns.map((c, i) => [c.toLowerCase(), stageCol(i)]));
  return { col: (name) => at.get(name.toLowerCase()), key: matchKey(t) };
}

export async function planSqlite(
  path: string,
  input: RestoreInput,
  opts: SqliteDialectOptions = {},
): Promise<PlanTableResult[]> {
  return (await dryRunSqlite(path, input, opts, false)).tables;
}

/**
 * The plan, and with `checked` the dry run's checks too (sqlite-restore-checks.ts): tables a
 * catalog blocker keeps from being read are left out of the plan, the rest are checked row by
 * row on their staged copies.
 */
export async function dryRunSqlite(
  path: string,
  input: RestoreInput,
  opts: SqliteDialectOptions = {},
  checked = true,
): Promise<DryRunResult> {
  assertEncoding(input);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const db = openConnection(path, opts);
  try {
    // Staging may be far larger than memory: keep temp pages in a file.
    db.pragma('temp_store = FILE');
    db.exec('BEGIN');
    try {
      const found = checked ? catalogChecks(db, input) : null;
      const checks = { blockers: found?.blockers ?? [], warnings: found?.warnings ?? [] };
      const targets = resolveTargets(
        db,
        found ? input.tables.filter((t) => found.readable.has(t.name.toLowerCase())) : input.tables,
      );
      const scope = new Set(input.tables.map((t) => t.name.toLowerCase()));
      const results: PlanTableResult[] = [];
      for (const [i, t] of targets.entries()) {
        const stage = `strongroom_plan_${i}`;
        createStage(db, t, stage);
        const insert = new RowInserter(
          db,
          (params) => `INSERT INTO temp.${quoteIdent(stage)} VALUES (${params.join(', ')})`,
        );
        const staged = await forEachRow(
          t,
          { batchRows, signal: input.signal, onProgress: input.onProgress },
          (values) => {
            insert.run(values);
          },
        );
        results.push(compare(db, t, stage, staged));
        if (found) rowChecks(db, t, `temp.${quoteIdent(stage)}`, layoutOf(t), scope, checks);
      }
      return { tables: results, ...checks };
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
  } finally {
    db.close();
  }
}
