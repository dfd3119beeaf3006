/**
 * A canonical dump of a SQLite file for fidelity tests: the pragmas that define the file,
 * every sqlite_schema entry sorted, and every table's rows with their rowid and each value's
 * storage class (`typeof`) and exact bytes (hex; REAL as 17 significant digits, so -0.0 and
 * every bit of precision show). Two files with equal dumps hold the same data byte for byte.
 *
 * Virtual tables are dumped through the module (what a query sees). Their shadow tables are
 * dumped only where they are the data (contentless full-text tables) or settings (FTS5
 * `_config`): an index rebuilt from the same rows is laid out differently but answers the
 * same; `integrityProblems` checks each index against its content instead.
 */
import Database from 'better-sqlite3';

const PRAGMAS = ['encoding', 'page_size', 'auto_vacuum', 'user_version', 'application_id', 'journal_mode'];

interface TableListRow {
  schema: string;
  name: string;
  type: string;
  wr: number;
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function valueExpr(c: string): string {
  return `typeof(${c}) || ':' || CASE typeof(${c}) WHEN 'real' THEN printf('%!.17g', ${c}) ELSE hex(${c}) END`;
}

export function virtualTables(db: Database.Database): { name: string; sql: string }[] {
  return db
    .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'`)
    .all() as { name: string; sql: string }[];
}

const isContentless = (sql: string): boolean => /\bcontent\s*=\s*(''|"")/i.test(sql);

/** Table name -> sorted row strings, plus `pragma:` and `schema` entries. */
export function canonicalDump(path: string): Record<string, string[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, string[]> = {};
    out['pragma:'] = PRAGMAS.map((p) => `${p}=${String(db.pragma(p, { simple: true }))}`);
    out.schema = (
      db
        .prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`)
        .raw(true)
        .all() as unknown[][]
    ).map((r) => JSON.stringify(r));
    const vts = virtualTables(db);
    const list = (db.prepare('PRAGMA main.table_list').all() as TableListRow[]).filter((t) => t.schema === 'main');
    for (const t of list) {
      if (t.name.startsWith('sqlite_stat') || t.name === 'sqlite_schema') continue;
      if (t.type === 'shadow') {
        const owner = vts.find((v) => t.name.toLowerCase().startsWith(`${v.name.toLowerCase()}_`));
        if (!owner || !(isContentless(owner.sql) || t.name.toLowerCase() === `${owner.name.toLowerCase()}_config`))
          continue;
      }
      if (t.type === 'view') continue;
      const cols = (db.prepare(`PRAGMA main.table_xinfo(${q(t.name)})`).all() as { name: string; hidden: number }[])
        .filter((c) => c.hidden !== 1)
        .map((c) => q(c.name));
      // sqlite_sequence's rowids are SQLite's bookkeeping (the order counters were first used in).
      const withRowid =
        t.wr === 0 &&
        t.name !== 'sqlite_sequence' &&
        !/USING\s+rtree/i.test(vts.find((v) => v.name === t.name)?.sql ?? '');
      const exprs = [...(withRowid ? ['rowid'] : []), ...cols].map(valueExpr);
      const rows = db
        .prepare(`SELECT ${exprs.join(` || '|' || `)} FROM main.${q(t.name)}`)
        .pluck()
        .all() as string[];
      out[t.name] = rows.sort();
    }
    return out;
  } finally {
    db.close();
  }
}

/** Each full-text index checked against its content ('integrity-check'); problems in words. */
export function integrityProblems(path: string): string[] {
  const db = new Database(path);
  try {
    const problems: string[] = [];
    const ic = String(db.pragma('integrity_check', { simple: true }));
    if (ic !== 'ok') problems.push(`integrity_check: ${ic}`);
    for (const v of virtualTables(db)) {
      if (!/USING\s+fts[45]\b/i.test(v.sql)) continue;
      try {
        // FTS5 compares the index with an external content table only when rank is 1.
        const fts5 = /USING\s+fts5\b/i.test(v.sql);
        db.prepare(
          `INSERT INTO ${q(v.name)} (${q(v.name)}${fts5 ? ', rank' : ''}) VALUES ('integrity-check'${fts5 ? ', 1' : ''})`,
        ).run();
      } catch (e) {
        problems.push(`${v.name}: ${(e as Error).message}`);
      }
    }
    return problems;
  } finally {
    db.close();
  }
}

/**
 * What changed between two dumps of a table, matched on the row's identity (its rowid, or
 * for a WITHOUT ROWID table its primary key given by `keyOf`): the real change a dry run must predict.
 */
export function rowChanges(
  before: string[],
  after: string[],
  keyOf: (row: string) => string = (r) => r.split('|')[0],
): { insert: number; update: number; delete: number; unchanged: number } {
  const b = new Map(before.map((r) => [keyOf(r), r]));
  const a = new Map(after.map((r) => [keyOf(r), r]));
  let insert = 0;
  let update = 0;
  let unchanged = 0;
  for (const [k, row] of a) {
    const old = b.get(k);
    if (old === undefined) insert++;
    else if (old === row) unchanged++;
    else update++;
  }
  const del = [...b.keys()].filter((k) => !a.has(k)).length;
  return { insert, update, delete: del, unchanged };
}
