/**
 * A scope's closure, computed from the live foreign keys (plain TypeScript over one query
 * function, so the same code runs inside a backup's snapshot and inside a restore's transaction):
 *
 * - members: the root rows and, transitively, every row that references a member through a
 *   foreign key (children, grandchildren, rows of the same table through a self-reference;
 *   a cycle ends because a row already a member is not visited twice);
 * - context: rows outside the members that members (or other context rows) reference, so that
 *   a restore into another database can satisfy every foreign key.
 *
 * Excluded tables are neither entered nor reported. Rows are identified by their primary key;
 * every step is a keyed query over a batch of keys, so a small scope in a large database reads
 * through indexes only (a foreign key column without an index is warned about: that step scans).
 */
import type { TableInfo } from '../dialects/dialect';
import type { ScopeQuery, ScopeSql } from './scope-sql';

/** Key tuples per table: key string → the key's column literals. */
export type KeySet = Map<string, string[]>;
export type RowSets = Map<string, KeySet>;

export interface ScopeDefinition {
  /** Root table, as the dialect names tables. */
  table: string;
  /** Root keys: one object per root row, with every primary key column. */
  keys: Record<string, unknown>[];
  /** Tables never entered (e.g. the audit log). */
  exclude?: string[];
}

export interface ScopeClosure {
  root: string;
  members: RowSets;
  context: RowSets;
  /** Root keys asked for that match no row. */
  missingRoots: Record<string, unknown>[];
  warnings: string[];
}

export class ScopeError extends Error {
  constructor(
    message: string,
    /** The request field the problem is about. */
    readonly field: string = 'scope',
  ) {
    super(message);
    this.name = 'ScopeError';
  }
}

const BATCH = 500;

export function keyString(tuple: string[]): string {
  return tuple.join('\u0000');
}

function chunks<T>(items: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function add(sets: RowSets, table: string, tuple: string[]): boolean {
  let s = sets.get(table);
  if (!s) sets.set(table, (s = new Map<string, string[]>()));
  const k = keyString(tuple);
  if (s.has(k)) return false;
  s.set(k, tuple);
  return true;
}

export function countRows(sets: RowSets): Record<string, number> {
  return Object.fromEntries([...sets].filter(([, s]) => s.size).map(([t, s]) => [t, s.size]));
}

/** Resolves a table name the way a request may spell it (`public.t` for `t` on PostgreSQL, any case on SQLite). */
export function findTable(tables: TableInfo[], name: string): TableInfo | undefined {
  return (
    tables.find((t) => t.name === name) ??
    tables.find((t) => `public.${t.name}` === name) ??
    tables.find((t) => t.name.toLowerCase() === name.toLowerCase())
  );
}

/** Checks a definition against the tables and returns the root's key tuples as literals. */
export function rootTuples(
  sql: ScopeSql,
  tables: TableInfo[],
  def: ScopeDefinition,
): { root: TableInfo; tuples: string[][] } {
  const root = findTable(tables, def.table);
  if (!root) throw new ScopeError(`scope.table: table "${def.table}" does not exist`, 'scope.table');
  if (!root.primaryKey.length)
    throw new ScopeError(
      `scope.table: table "${root.name}" has no primary key, so its rows cannot be named`,
      'scope.table',
    );
  for (const e of def.exclude ?? [])
    if (!findTable(tables, e)) throw new ScopeError(`scope.exclude: table "${e}" does not exist`, 'scope.exclude');
  if (def.exclude?.some((e) => findTable(tables, e) === root))
    throw new ScopeError('scope.exclude: the root table cannot be excluded', 'scope.exclude');
  if (!Array.isArray(def.keys) || !def.keys.length)
    throw new ScopeError('scope.keys: at least one key is needed', 'scope.keys');
  const tuples = def.keys.map((k, i) => {
    if (typeof k !== 'object' || k === null || Array.isArray(k))
      throw new ScopeError(`scope.keys[${i}] must be an object of primary key columns`, 'scope.keys');
    const extra = Object.keys(k).filter((c) => !root.primaryKey.includes(c));
    const missing = root.primaryKey.filter((c) => !(c in k));
    if (extra.length || missing.length)
      throw new ScopeError(
        `scope.keys[${i}] must name exactly the primary key of "${root.name}" (${root.primaryKey.join(', ')})`,
        'scope.keys',
      );
    return root.primaryKey.map((c) => {
      const v = k[c];
      if (v === null || (typeof v !== 'string' && typeof v !== 'number'))
        throw new ScopeError(`scope.keys[${i}].${c} must be a string or a number`, 'scope.keys');
      return sql.requestLiteral(v);
    });
  });
  return { root, tuples };
}

/**
 * `membersOnly`: a restore needs the live members alone (what to remove, what moved), so it
 * skips the upward pass for context rows and the index checks behind the warnings: fewer
 * statements inside its locks. `context` and `warnings` are then empty.
 */
export async function computeClosure(
  sql: ScopeSql,
  query: ScopeQuery,
  tables: TableInfo[],
  def: ScopeDefinition,
  opts: { membersOnly?: boolean } = {},
): Promise<ScopeClosure> {
  const { root, tuples } = rootTuples(sql, tables, def);
  const excluded = new Set((def.exclude ?? []).map((e) => findTable(tables, e)!.name));
  const live = tables.filter((t) => !excluded.has(t.name));
  const byName = new Map(live.map((t) => [t.name, t]));
  const incoming = new Map<string, { child: TableInfo; columns: string[]; refColumns: string[] }[]>();
  for (const t of live)
    for (const fk of t.foreignKeys)
      if (byName.has(fk.refTable)) {
        const list = incoming.get(fk.refTable) ?? [];
        list.push({ child: t, columns: fk.columns, refColumns: fk.refColumns });
        incoming.set(fk.refTable, list);
      }

  const literals = (cols: string[]) => cols.map((c, i) => `${sql.literal(sql.ident(c))} AS k${i}`).join(', ');
  const tupleOf = (row: Record<string, unknown>, n: number) =>
    Array.from({ length: n }, (_, i) => String(row[`k${i}`]));
  /** `out` columns of `table`'s rows whose `match` columns equal one of `tuples` (NULLs in `out` dropped). */
  const select = async (table: TableInfo, out: string[], match: string[], keys: string[][]): Promise<string[][]> => {
    const found: string[][] = [];
    const notNull = out.map((c) => `${sql.ident(c)} IS NOT NULL`).join(' AND ');
    for (const batch of chunks(keys)) {
      const rows = await query(
        `SELECT DISTINCT ${literals(out)} FROM ${sql.table(table.name)} WHERE ${sql.keyIn(match, batch)} AND ${notNull}`,
      );
      for (const r of rows) found.push(tupleOf(r, out.length));
    }
    return found;
  };
  const requirePk = (t: TableInfo, why: string) => {
    if (!t.primaryKey.length)
      throw new ScopeError(
        `table "${t.name}" ${why} but has no primary key, so its rows cannot be tracked: exclude it or give it one`,
      );
  };

  const warnings: string[] = [];
  const members: RowSets = new Map();
  const context: RowSets = new Map();
  const rootRows = await select(root, root.primaryKey, root.primaryKey, tuples);
  const foundRoots = new Set(rootRows.map(keyString));
  // A literal of a request value may differ from the database's own (5 vs '5'): match by what the database returns.
  const missingRoots =
    rootRows.length === tuples.length ? [] : def.keys.filter((_, i) => !foundRoots.has(keyString(tuples[i])));
  let delta: RowSets = new Map();
  for (const t of rootRows) if (add(members, root.name, t)) add(delta, root.name, t);

  const checked = new Set<string>();
  const warnUnindexed = async (t: TableInfo, cols: string[]) => {
    const id = `${t.name}(${cols.join(',')})`;
    if (opts.membersOnly || checked.has(id)) return;
    checked.add(id);
    if (t.primaryKey.slice(0, cols.length).join('\u0000') === cols.join('\u0000')) return;
    if (!(await query(sql.indexLeadsWith(t.name, cols))).length)
      warnings.push(
        `foreign key column(s) ${t.name}(${cols.join(', ')}) have no index: a scope reads that table whole`,
      );
  };

  while (delta.size) {
    const next: RowSets = new Map();
    for (const [parentName, keys] of delta) {
      const parent = byName.get(parentName)!;
      for (const edge of incoming.get(parentName) ?? []) {
        requirePk(edge.child, `references "${parentName}", a table of the scope,`);
        await warnUnindexed(edge.child, edge.columns);
        const pk = parent.primaryKey;
        const refValues =
          edge.refColumns.join('\u0000') === pk.join('\u0000')
            ? [...keys.values()]
            : await select(parent, edge.refColumns, pk, [...keys.values()]);
        if (!refValues.length) continue;
        for (const t of await select(edge.child, edge.child.primaryKey, edge.columns, refValues))
          if (add(members, edge.child.name, t)) add(next, edge.child.name, t);
      }
    }
    delta = next;
  }

  // Upwards: what members (then context rows) reference and the scope does not hold.
  delta = opts.membersOnly ? (new Map() as RowSets) : members;
  while (delta.size) {
    const next: RowSets = new Map();
    for (const [name, keys] of delta) {
      const t = byName.get(name)!;
      for (const fk of t.foreignKeys) {
        const ref = byName.get(fk.refTable);
        if (!ref) continue;
        const values = await select(t, fk.columns, t.primaryKey, [...keys.values()]);
        if (!values.length) continue;
        requirePk(ref, `is referenced by rows of the scope`);
        for (const r of await select(ref, ref.primaryKey, fk.refColumns, values)) {
          if (members.get(ref.name)?.has(keyString(r))) continue;
          if (add(context, ref.name, r)) add(next, ref.name, r);
        }
      }
    }
    delta = next;
  }
  return { root: root.name, members, context, missingRoots, warnings };
}
