/**
 * Disaster restore of a whole-database backup into an empty database, in one transaction on
 * one connection, in pg_restore's order: pre-data (schemas, extensions, types, functions,
 * tables, sequences, views, large object metadata, grants), the rows, every sequence's exact
 * state, the large objects' contents, then post-data (indexes, constraints, NOT VALID ones
 * included, triggers, rules, policies, materialized view refreshes). Anything failing rolls
 * the whole transaction back, so the target is empty again and a retry starts clean.
 *
 * Owners and grants are applied each under a savepoint: a role the target cluster lacks skips
 * that statement and is reported, as pg_restore reports it without stopping. Asked to
 * (`createRoles`), the backup's roles the cluster lacks are created first, in the same
 * transaction (pg-roles.ts).
 */
import { createInterface } from 'node:readline';
import type { Client } from 'pg';
import type { DatabaseRestoreInput, DatabaseRestoreResult, RestoreInput } from '../dialect';
import { runBatched, type BatchStatement } from './pg-batch';
import { indexBuildSql } from './pg-indexes';
import { DEFAULT_RESTORE_TUNING, restoreInTransaction, type RestoreTuning } from './pg-restore';
import { createMissingRoles } from './pg-roles';
import { qualify, quoteIdent } from './pg-session';
import type { StageResult } from './pg-staged-load';

export interface DumpEntry {
  type: string;
  name: string;
  sql: string;
}

const ENTRY_HEADER = /^--\n-- (?:Data for )?Name: (.*); Type: (.*); Schema: .*; Owner: .*\n--\n/gm;

/** pg_dump plain output as its TOC entries; the preamble (session SETs) comes first, typed ''. */
export function splitDump(sql: string): DumpEntry[] {
  const out: DumpEntry[] = [];
  let last = 0;
  let current: Omit<DumpEntry, 'sql'> = { type: '', name: '' };
  for (const m of sql.matchAll(ENTRY_HEADER)) {
    out.push({ ...current, sql: sql.slice(last, m.index) });
    current = { name: m[1], type: m[2] };
    last = (m.index ?? 0) + m[0].length;
  }
  out.push({ ...current, sql: sql.slice(last) });
  return out.filter((e) => e.sql.trim() !== '');
}

/** pg_dump writes an ownership change as one line of its own at the end of an entry. */
export const OWNER_LINE = /^ALTER [A-Z ]+ .* OWNER TO .*;$/;
const ACL_TYPES = new Set(['ACL', 'DEFAULT ACL']);

class DdlRunner {
  readonly missingRoles = new Set<string>();
  private savepoints = 0;

  constructor(
    private readonly client: Client,
    private readonly opts: Pick<DatabaseRestoreInput, 'noOwner' | 'noPrivileges'>,
    /** The transaction's maintenance_work_mem, which a GIN index's entry lowers for its build (indexBuildSql). */
    private readonly maintenanceWorkMem: string,
  ) {}

  /**
   * Runs every entry of a section in order, many to a round trip (pg-batch.ts): a dump of 500
   * tables has thousands of entries and owner changes. A failure is still reported by entry.
   * `instead` replaces the statements of some entries (by position), their owner lines kept:
   * a staged table's move, an index the loaders built.
   */
  async run(sql: string, section: string, instead: ReadonlyMap<number, string> = new Map()): Promise<void> {
    const out: BatchStatement[] = [];
    const tolerant = (stmt: string): BatchStatement => ({ sql: stmt, alone: () => this.tolerant(stmt) });
    for (const [i, e] of splitDump(sql).entries()) {
      if (ACL_TYPES.has(e.type)) {
        if (!this.opts.noPrivileges) out.push(...statementsByLine(e.sql).map(tolerant));
        continue;
      }
      const lines = e.sql.split('\n');
      const owners = lines.filter((l) => OWNER_LINE.test(l));
      const own = lines.filter((l) => !OWNER_LINE.test(l)).join('\n');
      const body = instead.get(i) ?? (e.type === 'INDEX' ? indexBuildSql(own, this.maintenanceWorkMem) : own);
      if (body.trim()) {
        out.push({
          sql: body,
          alone: async () => {
            try {
              await this.client.query(body);
            } catch (err) {
              const what = e.type ? `${e.type.toLowerCase()} ${e.name}` : 'its session settings';
              throw new Error(`restoring the backup's ${section} failed at ${what}: ${(err as Error).message}`);
            }
          },
        });
      }
      if (!this.opts.noOwner) out.push(...owners.map(tolerant));
    }
    await runBatched(this.client, out);
  }

  /** Runs an ownership or grant statement; a role the cluster lacks is noted, not fatal. */
  private async tolerant(stmt: string): Promise<void> {
    const sp = `strongroom_role_${++this.savepoints}`;
    await this.client.query(`SAVEPOINT ${sp}`);
    try {
      await this.client.query(stmt);
      await this.client.query(`RELEASE SAVEPOINT ${sp}`);
    } catch (err) {
      const e = err as Error & { code?: string };
      const role = /role "(.*)" does not exist/.exec(e.message);
      if (e.code !== '42704' || !role)
        throw new Error(`restoring the backup's privileges failed at "${stmt.slice(0, 120)}": ${e.message}`);
      await this.client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      this.missingRoles.add(role[1]);
    }
  }
}

function statementsByLine(sql: string): string[] {
  return sql.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('--'));
}

/** Executes pg_dump's blob data (lo_open/lowrite/lo_close, one statement per line), streaming. */
async function loadLargeObjects(client: Client, open: () => Promise<NodeJS.ReadableStream>): Promise<void> {
  const lines = createInterface({ input: await open(), crlfDelay: Infinity });
  for await (const line of lines) {
    // pg_dump wraps the blobs in their own transaction; here they belong to the restore's.
    if (line === '' || line.startsWith('--') || line.startsWith('\\') || line === 'BEGIN;' || line === 'COMMIT;')
      continue;
    await client.query(line);
  }
}

/** The whole restore; the caller holds `client` in an open transaction and commits or rolls back. */
export async function restoreDatabaseInTransaction(
  client: Client,
  db: DatabaseRestoreInput,
  input: RestoreInput,
  tuning: RestoreTuning,
  staged: StageResult & { schemas: string[] } = { tables: new Map(), moves: new Map(), built: new Map(), schemas: [] },
): Promise<DatabaseRestoreResult> {
  let roles: DatabaseRestoreResult['roles'];
  if (db.createRoles) {
    if (!db.roles)
      throw new Error(
        '--create-roles: this backup holds no roles (it was taken before backups archived them); create the roles first, or restore without --create-roles',
      );
    // Before the DDL, so owners and grants find their roles; in the transaction, so a failure takes them back out.
    roles = await createMissingRoles(client, db.roles);
  }
  const ddl = new DdlRunner(client, db, { ...DEFAULT_RESTORE_TUNING, ...tuning }.maintenanceWorkMem);
  await ddl.run(db.ddl.preData, 'pre-data DDL', staged.moves);
  // pg_dump's preamble emptied search_path for the session; type names then read as they do elsewhere.
  await client.query('RESET search_path');
  // Keys and constraints come with post-data, after the rows: every table loads as a replace into its new, empty self.
  const rest = input.tables.filter((t) => !staged.tables.has(t.name)).map((t) => ({ ...t, mode: 'replace' as const }));
  const loaded = await restoreInTransaction(client, { ...input, tables: rest }, tuning, null, { emptyTarget: true });
  for (const s of input.sequences) {
    if (s.lastValue === null) continue;
    await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [qualify(s.name), s.lastValue, s.isCalled]);
  }
  if (db.largeObjects) {
    try {
      await loadLargeObjects(client, db.largeObjects);
    } catch (err) {
      throw new Error(`restoring the backup's large objects failed: ${(err as Error).message}`);
    }
  }
  await ddl.run(db.ddl.postData, 'post-data DDL', staged.built);
  // Empty by now: every staged table moved out. Dropped in this transaction, so only a failed restore leaves them.
  if (staged.schemas.length) await client.query(`DROP SCHEMA ${staged.schemas.map(quoteIdent).join(', ')} CASCADE`);
  const rows = new Map(loaded.map((t) => [t.name, t.rowsWritten]));
  for (const t of staged.tables.values()) rows.set(t.table, t.rowsWritten);
  const tables = input.tables.map((t) => ({ name: t.name, rowsWritten: rows.get(t.name) ?? 0 }));
  return { tables, missingRoles: [...ddl.missingRoles].sort(), ...(roles ? { roles } : {}) };
}
