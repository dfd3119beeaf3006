/**
 * A scoped restore runs inside the dialect's one restore transaction, through its guard: once the
 * tables are locked and before any row is written, the scope's closure is computed again on the
 * live rows, then
 * - a backup member whose key now lies outside the live scope (moved to another engagement, say)
 *   stops the restore unless moves are allowed: restoring it would take it from where it is now;
 * - `replace` deletes the live members the backup does not hold (created after the backup);
 *   the dialect then merges the backup's members (changed rows reverted, deleted ones back).
 * Rows outside the scope are never written: every statement is keyed by the scope's own keys.
 *
 * With the scope's files restored too, `replace` also decides here, on the same locked rows,
 * which files it drops: those named by live members that no row names once the restore is done
 * (not a backup member, not a row outside the scope). Files any remaining row names are kept.
 */
import type { RestoreGuard, RestoreMode, TableInfo, TransactionReader } from '../dialects/dialect';
import { RestoreError, RestoreErrorCode } from '../restore/restore-error';
import { computeClosure, keyString, type ScopeDefinition } from './scope-closure';
import type { ScopeQuery } from './scope-sql';
import { scopeSqlFor, type ScopeSql } from './scope-sql';
import type { EngineName } from '../dialects/dialect';

const BATCH = 500;

export interface ScopeRestorePlan {
  /** Live members the backup does not hold, per table (deleted by `replace`). */
  remove: Map<string, string[][]>;
  /** Backup members whose key exists live outside the scope, per table, as `col=value` text. */
  moved: { table: string; key: string }[];
  /** `replace` with files: paths named by live members only, which no row names after the restore. */
  fileRemovals: string[];
}

export interface ScopeFilesOptions {
  /** The files column's table and column (live names). */
  table: string;
  column: string;
  /** Every path the backup's member rows name. */
  backupNamed: Set<string>;
  /** Inside the transaction, before any row is written: the files the restore will drop (journaled). */
  onRemovals?(paths: string[]): Promise<void>;
}

export interface ScopeRestoreOptions {
  engine: EngineName;
  mode: RestoreMode;
  scope: ScopeDefinition;
  /** The backup's member keys per table (its keys part). */
  backupKeys: Map<string, string[][]>;
  /** The scope's tables in the backup: live members of these not in the backup are removed. */
  tables: string[];
  /** The live tables' structure (read before the transaction). */
  liveTables: TableInfo[];
  allowMoves: boolean;
  /** The scope's files are restored too (replace decides which live files go). */
  files?: ScopeFilesOptions;
}

function describeKey(pk: string[], tuple: string[]): string {
  return pk.map((c, i) => `${c}=${tuple[i]}`).join(', ');
}

/** Reads what a scoped restore would delete and which backup rows moved, through `query` (a snapshot or the restore's transaction). */
export async function planScopeRestore(query: ScopeQuery, o: ScopeRestoreOptions): Promise<ScopeRestorePlan> {
  const sql = scopeSqlFor(o.engine);
  const live = await computeClosure(sql, query, o.liveTables, o.scope, { membersOnly: true });
  const byName = new Map(o.liveTables.map((t) => [t.name, t]));
  const moved: ScopeRestorePlan['moved'] = [];
  const remove = new Map<string, string[][]>();
  for (const name of o.tables) {
    const t = byName.get(name);
    if (!t) continue;
    const backup = o.backupKeys.get(name) ?? [];
    const members = live.members.get(name) ?? new Map<string, string[]>();
    const backupSet = new Set(backup.map(keyString));
    remove.set(
      name,
      [...members.values()].filter((k) => !backupSet.has(keyString(k))),
    );
    const outside = backup.filter((k) => !members.has(keyString(k)));
    for (let i = 0; i < outside.length; i += BATCH) {
      const rows = await query(
        `SELECT ${t.primaryKey.map((c, j) => `${sql.literal(sql.ident(c))} AS k${j}`).join(', ')} FROM ${sql.table(name)} WHERE ${sql.keyIn(t.primaryKey, outside.slice(i, i + BATCH))}`,
      );
      for (const r of rows)
        moved.push({
          table: name,
          key: describeKey(
            t.primaryKey,
            t.primaryKey.map((_, j) => String(r[`k${j}`])),
          ),
        });
    }
  }
  const fileRemovals = o.files && o.mode === 'replace' ? await filesToRemove(query, sql, o, live.members, o.files) : [];
  return { remove, moved, fileRemovals };
}

/**
 * Paths named by live members of the files table and by no backup member, less those a row
 * outside the live members names (another scope's artefact sharing the file): after a replace
 * the table holds exactly the non-members and the backup's members, so these are named by none.
 */
async function filesToRemove(
  query: ScopeQuery,
  sql: ScopeSql,
  o: ScopeRestoreOptions,
  members: Map<string, Map<string, string[]>>,
  f: ScopeFilesOptions,
): Promise<string[]> {
  const t = o.liveTables.find((x) => x.name === f.table);
  const keys = [...(members.get(f.table)?.values() ?? [])];
  if (!t || !keys.length) return [];
  const pk = t.primaryKey.map((c, j) => `${sql.literal(sql.ident(c))} AS k${j}`).join(', ');
  const path = `${sql.ident(f.column)} AS p`;
  const candidates = new Set<string>();
  for (let i = 0; i < keys.length; i += BATCH) {
    const rows = await query(
      `SELECT ${path} FROM ${sql.table(t.name)} WHERE ${sql.keyIn(t.primaryKey, keys.slice(i, i + BATCH))}`,
    );
    for (const r of rows) if (typeof r.p === 'string' && r.p && !f.backupNamed.has(r.p)) candidates.add(r.p);
  }
  const memberKeys = members.get(f.table)!;
  const list = [...candidates];
  for (let i = 0; i < list.length; i += BATCH) {
    const batch = list.slice(i, i + BATCH);
    const rows = await query(
      `SELECT ${pk}, ${path} FROM ${sql.table(t.name)} WHERE ${sql.ident(f.column)} IN (${batch.map((p) => sql.requestLiteral(p)).join(', ')})`,
    );
    for (const r of rows) {
      const key = t.primaryKey.map((_, j) => String(r[`k${j}`]));
      if (!memberKeys.has(keyString(key))) candidates.delete(r.p as string);
    }
  }
  return [...candidates].sort();
}

export function movedError(moved: ScopeRestorePlan['moved']): RestoreError {
  const shown = moved.slice(0, 20).map((m) => `${m.table} (${m.key})`);
  return new RestoreError(
    RestoreErrorCode.ScopeMoves,
    `${moved.length} row(s) of the backup now belong outside this scope (moved since the backup); restoring them would take them from where they are: ${shown.join('; ')}${moved.length > 20 ? '; ...' : ''}. Send "allowScopeMoves": true to restore them anyway`,
    { moved },
  );
}

/** Children before parents, so a delete never leaves a row pointing at a deleted one (cycles: as listed). */
function deleteOrder(tables: TableInfo[]): TableInfo[] {
  const names = new Set(tables.map((t) => t.name));
  const out: TableInfo[] = [];
  const done = new Set<string>();
  let pending = [...tables];
  while (pending.length) {
    // A table goes once no pending table other than itself references it.
    const ready = pending.filter(
      (p) => !pending.some((c) => c !== p && c.foreignKeys.some((fk) => fk.refTable === p.name && names.has(c.name))),
    );
    const next = ready.length ? ready : [pending[0]];
    for (const t of next) {
      out.push(t);
      done.add(t.name);
    }
    pending = pending.filter((t) => !done.has(t.name));
  }
  return out;
}

async function deleteKeys(db: TransactionReader, sql: ScopeSql, t: TableInfo, keys: string[][]): Promise<void> {
  for (let i = 0; i < keys.length; i += BATCH)
    // RETURNING makes it a statement with rows, which is what the transaction's reader runs.
    await db.query(
      `DELETE FROM ${sql.table(t.name)} WHERE ${sql.keyIn(t.primaryKey, keys.slice(i, i + BATCH))} RETURNING 1 AS x`,
    );
}

/** The guard that makes a dialect's merge a scoped restore; `result` is filled in once it ran. */
export function scopeRestoreGuard(o: ScopeRestoreOptions, result: { removed: Record<string, number> }): RestoreGuard {
  const sql = scopeSqlFor(o.engine);
  return {
    async beforeLoad(db) {
      const query: ScopeQuery = (s) => db.query<Record<string, unknown>>(s);
      const plan = await planScopeRestore(query, o);
      if (plan.moved.length && !o.allowMoves && o.mode !== 'missing-only') throw movedError(plan.moved);
      if (o.mode !== 'replace') return;
      // Journaled before any row is written, and so before the commit that decides them.
      await o.files?.onRemovals?.(plan.fileRemovals);
      const byName = new Map(o.liveTables.map((t) => [t.name, t]));
      const tables = [...plan.remove.keys()].map((n) => byName.get(n)!).filter(Boolean);
      for (const t of deleteOrder(tables)) {
        const keys = plan.remove.get(t.name)!;
        if (keys.length) await deleteKeys(db, sql, t, keys);
        result.removed[t.name] = keys.length;
      }
    },
    async beforeCommit() {
      // Nothing to check: the dialect re-validates every foreign key of the tables it wrote.
    },
  };
}

/** Two guards in one: both checks run, in order. */
export function bothGuards(a: RestoreGuard | undefined, b: RestoreGuard | undefined): RestoreGuard | undefined {
  if (!a || !b) return a ?? b;
  return {
    async beforeLoad(db) {
      await a.beforeLoad(db);
      await b.beforeLoad(db);
    },
    async beforeCommit(db) {
      await a.beforeCommit(db);
      await b.beforeCommit(db);
    },
  };
}
