/**
 * What would stop a restore into a live SQLite database, found before it writes anything (the
 * PostgreSQL counterpart is pg-restore-checks.ts; the same two levels and the same meaning of
 * "written" and "stays").
 *
 * `catalogChecks` reads only the catalog pragmas: missing tables and columns, and NOT NULL
 * columns without a default that the backup has no value for. `rowChecks` runs in a dry run on
 * the rows the plan staged (sqlite-plan.ts), set-based: NOT NULL, unique keys besides the
 * primary key, and foreign keys to and from tables outside the restore (the restore checks
 * them before its commit when the connection enforces foreign keys, as better-sqlite3's do;
 * otherwise they are warnings). CHECK constraints are not evaluated: SQLite keeps them only as
 * text inside CREATE TABLE; a violation still rolls the whole restore back.
 */
import { RESTORE_ISSUE_EXAMPLES, type RestoreChecks, type RestoreInput, type RestoreIssue } from '../dialect';
import { quoteIdent, type SqliteDb } from './sqlite-connection';
import { describeTable, listOrdinaryTables, listTableNames, storedColumns } from './sqlite-introspect';
import type { RestoreTarget } from './sqlite-restore-targets';
import { missingTableIssue, nullValuesIssue, requiredColumnIssue, uniqueCollisionIssue } from '../restore-issues';

interface XInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

export interface CatalogCheckResult extends RestoreChecks {
  /** Tables whose rows can be read into the target at all (lower-case names). */
  readable: Set<string>;
}

const xinfo = (db: SqliteDb, table: string): XInfo[] =>
  db.prepare(`PRAGMA main.table_xinfo(${quoteIdent(table)})`).all() as XInfo[];

/** The column that is the table's rowid (INTEGER PRIMARY KEY): NULL there means "a new rowid", never a violation. */
function rowidColumn(cols: XInfo[]): string | null {
  const pk = cols.filter((c) => c.pk > 0);
  return pk.length === 1 && pk[0].type.toUpperCase() === 'INTEGER' ? pk[0].name.toLowerCase() : null;
}

export function catalogChecks(db: SqliteDb, input: RestoreInput): CatalogCheckResult {
  const out: CatalogCheckResult = { blockers: [], warnings: [], readable: new Set() };
  const live = new Map(listTableNames(db).map((n) => [n.toLowerCase(), n]));
  for (const t of input.tables) {
    const name = live.get(t.name.toLowerCase());
    if (!name) {
      out.blockers.push(missingTableIssue(t.name));
      continue;
    }
    const cols = xinfo(db, name).filter((c) => c.hidden !== 1);
    const liveCols = new Map(cols.map((c) => [c.name.toLowerCase(), c]));
    const stored = storedColumns(t.table).map((c) => c.name.toLowerCase());
    let readable = true;
    for (const c of stored) {
      const lc = liveCols.get(c);
      if (lc && lc.hidden !== 2 && lc.hidden !== 3) continue;
      readable = false;
      out.blockers.push({
        kind: 'missing-column',
        object: `${name}.${c}`,
        message: lc
          ? `column ${c} of table ${name} is generated in the target but holds stored values in the backup`
          : `column ${c} of table ${name} holds backup values but does not exist in the target`,
      });
    }
    if (readable) out.readable.add(name.toLowerCase());
    if (t.bytes === 0) continue;
    const rowid = rowidColumn(cols);
    for (const c of cols.filter(
      (x) =>
        x.notnull &&
        x.dflt_value === null &&
        x.hidden === 0 &&
        x.name.toLowerCase() !== rowid &&
        !stored.includes(x.name.toLowerCase()),
    )) {
      out.blockers.push(requiredColumnIssue(name, c.name));
    }
  }
  return out;
}

function countWhere(db: SqliteDb, from: string, where: string, label: string): { n: number; examples: string[] } {
  const n = Number(db.prepare(`SELECT count(*) FROM ${from} WHERE ${where}`).pluck().get());
  const examples =
    n > 0
      ? (
          db
            .prepare(`SELECT ${label} FROM ${from} WHERE ${where} LIMIT ${RESTORE_ISSUE_EXAMPLES}`)
            .pluck()
            .all() as unknown[]
        ).map(String)
      : [];
  return { n, examples };
}

/** `'(a, b)=(' || quote(x) || ', ' || quote(y) || ')'`: an example that names its columns. */
function labelled(names: string[], exprs: string[]): string {
  const head = `(${names.join(', ')})=(`.replace(/'/g, "''");
  return `'${head}' || ${exprs.map((e) => `quote(${e})`).join(` || ', ' || `)} || ')'`;
}

interface IndexListRow {
  name: string;
  unique: number;
  origin: string;
  partial: number;
}
interface IndexInfoRow {
  cid: number;
  name: string | null;
}

/** How staged rows are addressed: the staged column of each live column, and the live key match. */
export interface StageLayout {
  /** Staged column of the live column (lower-case name), if the backup carries it. */
  col(name: string): string | undefined;
  /** [live expression, staged column] pairs rows are matched on; empty when they cannot be. */
  key: [string, string][];
}

/**
 * The row-level checks of one staged table. `stage` is `temp."<name>"`; `scope` holds the
 * lower-case names of every table of the restore.
 */
export function rowChecks(
  db: SqliteDb,
  t: RestoreTarget,
  stage: string,
  layout: StageLayout,
  scope: Set<string>,
  out: RestoreChecks,
): void {
  const live = `main.${quoteIdent(t.name)}`;
  const key = layout.key;
  const match = (l: string, s: string) => key.map(([le, st]) => `${l}.${le} = ${s}.${st}`).join(' AND ');
  const written =
    t.mode === 'missing-only' && key.length
      ? `(SELECT * FROM ${stage} s WHERE NOT EXISTS (SELECT 1 FROM ${live} l WHERE ${match('l', 's')}))`
      : stage;
  const keyLabel = key.length
    ? labelled(
        key.map(([le]) => le.replace(/"/g, '')),
        key.map(([, st]) => `w.${st}`),
      )
    : `'row'`;
  const enforced = db.pragma('foreign_keys', { simple: true }) === 1;
  const add = (blocker: boolean, issue: RestoreIssue) => (blocker ? out.blockers : out.warnings).push(issue);
  const cols = xinfo(db, t.name);
  const rowid = rowidColumn(cols);

  for (const c of cols.filter((x) => x.notnull && x.hidden === 0 && x.name.toLowerCase() !== rowid)) {
    const st = layout.col(c.name);
    if (!st) continue;
    const { n, examples } = countWhere(db, `${written} w`, `w.${st} IS NULL`, keyLabel);
    if (n > 0) add(true, nullValuesIssue(t.name, c.name, n, examples));
  }

  const indexes = (db.prepare(`PRAGMA main.index_list(${quoteIdent(t.name)})`).all() as IndexListRow[]).filter(
    (i) => i.unique === 1 && i.origin !== 'pk' && i.partial === 0,
  );
  for (const ix of indexes) {
    const info = db.prepare(`PRAGMA main.index_info(${quoteIdent(ix.name)})`).all() as IndexInfoRow[];
    if (info.some((c) => c.cid < 0 || c.name === null)) continue;
    const names = info.map((c) => c.name as string);
    const staged = names.map((n) => layout.col(n));
    if (staged.some((s) => s === undefined)) continue;
    const sc = staged as string[];
    const notNull = (a: string) => sc.map((s) => `${a}.${s} IS NOT NULL`).join(' AND ');
    const dup = countWhere(
      db,
      `(SELECT ${labelled(
        names,
        sc.map((s) => `w.${s}`),
      )} AS v FROM ${written} w WHERE ${notNull('w')} GROUP BY ${sc.map((s) => `w.${s}`).join(', ')} HAVING count(*) > 1) d`,
      '1',
      'd.v',
    );
    let n = dup.n;
    const examples = dup.examples;
    if (t.mode !== 'replace' && key.length) {
      const stays = t.mode === 'merge' ? `AND NOT EXISTS (SELECT 1 FROM ${stage} s2 WHERE ${match('l', 's2')})` : '';
      // The live column on the left: the comparison uses the index's own collation, as the insert would.
      const on = names.map((nm, i) => `l.${quoteIdent(nm)} = w.${sc[i]}`).join(' AND ');
      const clash = countWhere(
        db,
        `${written} w JOIN ${live} l ON ${on}`,
        `NOT (${match('l', 'w')}) ${stays}`,
        labelled(
          names,
          sc.map((s) => `w.${s}`),
        ),
      );
      n += clash.n;
      examples.push(...clash.examples);
    }
    if (n > 0) add(true, uniqueCollisionIssue(t.name, ix.name, names, n, examples));
  }

  const consequence = enforced
    ? ''
    : ' (this connection does not enforce foreign keys, so the restore will not refuse it)';
  for (const fk of describeTable(db, t.name).foreignKeys.filter((k) => !scope.has(k.refTable.toLowerCase()))) {
    const staged = fk.columns.map((c) => layout.col(c));
    if (staged.some((s) => s === undefined) || fk.refColumns.length !== fk.columns.length) continue;
    const sc = staged as string[];
    const ref = `main.${quoteIdent(fk.refTable)}`;
    const on = fk.refColumns.map((rc, i) => `r.${quoteIdent(rc)} = w.${sc[i]}`).join(' AND ');
    const { n, examples } = countWhere(
      db,
      `${written} w`,
      `${sc.map((s) => `w.${s} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${ref} r WHERE ${on})`,
      labelled(
        fk.columns,
        sc.map((s) => `w.${s}`),
      ),
    );
    if (n > 0) {
      add(enforced, {
        kind: 'foreign-key',
        object: `${t.name}.${fk.name}`,
        count: n,
        examples,
        message: `${n} restored row(s) of ${t.name} reference rows missing from ${fk.refTable}, which the restore leaves as it is${consequence}: restore ${fk.refTable} too, or add the rows first`,
      });
    }
  }
  if (t.mode !== 'replace') return;
  for (const child of listOrdinaryTables(db).filter((c) => !scope.has(c.toLowerCase()))) {
    for (const fk of describeTable(db, child).foreignKeys.filter(
      (k) => k.refTable.toLowerCase() === t.name.toLowerCase(),
    )) {
      const staged = fk.refColumns.map((c) => layout.col(c));
      if (staged.some((s) => s === undefined) || fk.refColumns.length !== fk.columns.length || !fk.columns.length)
        continue;
      const sc = staged as string[];
      const on = fk.columns.map((c, i) => `s.${sc[i]} = c.${quoteIdent(c)}`).join(' AND ');
      const { n, examples } = countWhere(
        db,
        `main.${quoteIdent(child)} c`,
        `${fk.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${stage} s WHERE ${on})`,
        labelled(
          fk.columns,
          fk.columns.map((c) => `c.${quoteIdent(c)}`),
        ),
      );
      if (n > 0) {
        add(enforced, {
          kind: 'referenced-rows',
          object: `${child}.${fk.name}`,
          count: n,
          examples,
          message: `${n} row(s) of ${child} (outside the restore) reference rows of ${t.name} that the replace removes${consequence}: restore ${child} too, or use merge`,
        });
      }
    }
  }
}
