/**
 * PostgreSQL dialect: rows travel as COPY text (`pg-copy-text`), DDL comes from pg_dump,
 * restores run in one transaction. Tables are those of every user schema (pg-session.ts
 * displayName: bare names mean schema `public`).
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import type {
  DatabaseRestoreInput,
  DatabaseRestoreResult,
  Dialect,
  DryRunResult,
  Inventory,
  PlanTableResult,
  RestoreChecks,
  RestoreInput,
  RestoreTableResult,
  SchemaDifference,
  Snapshot,
  TableInfo,
} from '../dialect';
import { readTables } from './pg-catalog';
import { transactionCommitted, transactionToken } from './pg-commit-marker';
import { restoreDatabaseInTransaction, splitDump } from './pg-database-restore';
import { planStaging, runStaging, type StagePlan, type StageResult } from './pg-staged-load';
import { compareInventories, readInventoryObjects, summarize } from './pg-inventory';
import { planInTransaction } from './pg-plan';
import { catalogChecks, databaseRestoreChecks } from './pg-restore-checks';
import { DEFAULT_RESTORE_TUNING, referencedFromOutside, restoreInTransaction, type RestoreTuning } from './pg-restore';
import { dropAbandonedShadows, prepareShadows, RESTORE_APP_PREFIX, type ShadowPlan } from './pg-shadow-prepare';
import { stripPsqlMetaCommands } from './pg-schema-dump';
import { diffTables, fingerprintTables } from './pg-schema-compare';
import type * as PgSnapshotModule from './pg-snapshot';
import { connect, destroyClient, qualify, quoteIdent } from './pg-session';
import { restoreToastCompression, type ToastCompressionPolicy } from './pg-toast-compression';
import { findPgTool, serverMajor, type FindPgToolOptions } from './pg-tools';
import { warmOffThreadSpawn } from '../../off-thread-spawn';
import type { WholeScopeOptions } from './pg-whole-dump';

export interface PostgresDialectOptions {
  /** Where to look for pg_dump before the default places. */
  pgBinDirs?: string[];
  /** Snapshot readers when the caller does not say (default 2). */
  parallel?: number;
  /** Loader connections of a restore, beside its main transaction's (default 2; 1 loads in place only). */
  restoreParallel?: number;
  /** Tables smaller than this (plaintext bytes) load in place rather than through a shadow (default 8 MiB). */
  shadowMinBytes?: number;
  /** maintenance_work_mem of the restore's connections, for index builds and foreign key checks (default 512MB). */
  maintenanceWorkMem?: string;
  /** ANALYZE the tables a restore swapped in, right after its commit (default true). */
  restoreAnalyze?: boolean;
  /** Which TOAST compression restored rows are written with (default auto: pg-toast-compression.ts). */
  toastCompression?: ToastCompressionPolicy;
  /** What full backups leave out (BACKUP_INCLUDE_SCHEMAS, BACKUP_EXCLUDE_SCHEMAS, BACKUP_EXCLUDE_TABLES). */
  scope?: WholeScopeOptions;
}

export const DEFAULT_RESTORE_PARALLEL = 2;
export const DEFAULT_SHADOW_MIN_BYTES = 8 * 1024 * 1024;

export class PostgresDialect implements Dialect {
  readonly engine = 'postgres' as const;
  readonly encoding = 'pg-copy-text' as const;
  private pgDump: Promise<string> | null = null;

  constructor(
    private readonly url: string,
    private readonly opts: PostgresDialectOptions = {},
  ) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new Error('a PostgreSQL database URL must start with postgres:// or postgresql://');
  }

  private async withClient<T>(fn: (c: Client) => Promise<T>, applicationName?: string): Promise<T> {
    const c = await connect(this.url, applicationName);
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => destroyClient(c));
    }
  }

  async serverVersion(): Promise<string> {
    return this.withClient(async (c) => {
      const v = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
      return `PostgreSQL ${v.split(' ')[0]}`;
    });
  }

  listTables(exclude: string[] = []): Promise<TableInfo[]> {
    return this.withClient((c) => readTables(c, exclude));
  }

  fingerprint(tables: TableInfo[]): string {
    return fingerprintTables(tables);
  }

  /** `exclude` (optional, beyond the interface) keeps bookkeeping tables out of `extra-table`. */
  async compareSchema(expected: TableInfo[], opts: { exclude?: string[] } = {}): Promise<SchemaDifference[]> {
    return diffTables(expected, await this.listTables(), opts.exclude);
  }

  /** pg_dump matching the server's major version, located once. */
  private pgDumpPath(): Promise<string> {
    this.pgDump ??= this.withClient(async (c) => {
      const num = (await c.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0].server_version_num;
      const toolOpts: FindPgToolOptions = { extraDirs: this.opts.pgBinDirs };
      return (await findPgTool('pg_dump', serverMajor(Number(num)), toolOpts)).path;
    });
    this.pgDump.catch(() => (this.pgDump = null));
    return this.pgDump;
  }

  /**
   * Every backup's schema is a pg_dump run, started from the launcher thread: the lookup (a
   * connection, the server's version, `pg_dump --version`) and the thread's start go on while the
   * snapshot's connections open, not after. A failure is reported by the call that needs the path.
   * Not in openSnapshot: a scoped restore opens a snapshot for its plan and never runs pg_dump.
   */
  prepareBackup(): void {
    void this.pgDumpPath().catch(() => undefined);
    warmOffThreadSpawn();
  }

  openSnapshot(tables: string[], opts: { parallel?: number; wholeDatabase?: boolean } = {}): Promise<Snapshot> {
    const parallel = Math.max(1, opts.parallel ?? this.opts.parallel ?? 2);
    const whole = opts.wholeDatabase ? (this.opts.scope ?? {}) : undefined;
    // Loaded on first use: a whole restore never opens a snapshot, and the module brings
    // pg_dump's process handling and the inventory readers with it (about 5 ms of a restore's start).
    const { PostgresSnapshot } = require('./pg-snapshot') as typeof PgSnapshotModule;
    return PostgresSnapshot.open({ url: this.url, tables, parallel, pgDumpPath: () => this.pgDumpPath(), whole });
  }

  /** One implicit transaction: a failing statement leaves the database as it was. */
  async applySchema(sql: string): Promise<void> {
    // pg_dump output changes search_path for the session: this connection is not reused.
    await this.withClient(async (c) => {
      try {
        await c.query(stripPsqlMetaCommands(sql));
      } catch (err) {
        throw new Error(`applying the backup's schema failed: ${(err as Error).message}`);
      }
    });
  }

  /** The settings of a restore's connections, read from the target through `main` where they depend on it. */
  private async restoreTuning(main: Client): Promise<Required<RestoreTuning>> {
    return {
      maintenanceWorkMem: this.opts.maintenanceWorkMem ?? DEFAULT_RESTORE_TUNING.maintenanceWorkMem,
      toastCompression: await restoreToastCompression(main, this.opts.toastCompression ?? 'auto'),
    };
  }

  /**
   * All or nothing, in one transaction on one connection; with `restoreParallel` > 1 the large
   * replace tables that can be are loaded as shadows by that many loader connections meanwhile
   * and swapped in by that same transaction (pg-shadow-prepare.ts). Every connection of the restore carries
   * the restore's token in its application_name: a shadow schema whose token no connection
   * carries any more was left by a dead restore and is dropped.
   */
  async restore(input: RestoreInput): Promise<RestoreTableResult[]> {
    const token = randomBytes(6).toString('hex');
    const app = `${RESTORE_APP_PREFIX}${token}`;
    const main = await connect(this.url, app);
    let plan: ShadowPlan | null = null;
    let tuning: Required<RestoreTuning>;
    try {
      tuning = await this.restoreTuning(main);
      plan = await this.prepareShadows(input, token, app);
    } catch (err) {
      destroyClient(main);
      throw err;
    }
    let results: RestoreTableResult[];
    try {
      const analyze = this.opts.restoreAnalyze !== false;
      const shadows = plan ? { plan, url: this.url, analyze } : null;
      results = await this.inTransaction(main, input, 'COMMIT', async (c, i) => {
        // Before anything is written: the caller keeps the transaction id, to learn after a crash whether it committed.
        if (i.commitMarker?.onToken) await i.commitMarker.onToken(await transactionToken(c));
        return restoreInTransaction(c, i, tuning, shadows);
      });
    } catch (err) {
      // A committed restore dropped the shadow schema in its transaction; only a failed one leaves it.
      if (plan) await this.dropShadows([plan.schema], app).catch(() => undefined);
      throw err;
    }
    if (plan && this.opts.restoreAnalyze !== false) await this.analyzeSwapped(plan, input.onWarning);
    return results;
  }

  /**
   * A swapped-in table is a new table: the statistics of the one it replaced went with it. Its
   * loader gathered new ones before the swap (pg-shadow-load.ts), so the planner does not meet
   * it without any, but not those of its extended statistics objects, which the swap created
   * anew (pg-shadow-swap.ts), nor any at all should that ANALYZE have failed. Such tables are
   * analyzed again here, after the commit, when nothing waits for it (ANALYZE blocks neither
   * readers nor writers). The rows are in by now: a failure here is reported, not thrown.
   */
  private async analyzeSwapped(plan: ShadowPlan, onWarning?: (message: string) => void): Promise<void> {
    let tables: string[] = [];
    await this.withClient(async (c) => {
      const { rows } = await c.query<{ table: string }>(
        `SELECT t.rel::text AS table FROM unnest($1::text[]::regclass[]) t(rel)
         WHERE EXISTS (SELECT 1 FROM pg_statistic_ext x WHERE x.stxrelid = t.rel)
            OR NOT EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = t.rel)`,
        [plan.tables.map((t) => qualify(t.table))],
      );
      tables = rows.map((r) => r.table);
      if (tables.length) await c.query(`ANALYZE ${tables.join(', ')}`);
    }, 'strongroom-restore-analyze').catch((err: unknown) => {
      onWarning?.(
        `restored, but ANALYZE of ${tables.join(', ')} failed (autovacuum will gather their statistics): ${(err as Error).message}`,
      );
    });
  }

  /**
   * After a failed restore. It closed its sockets, but a backend busy building an index only
   * notices at the end of it, holding its locks meanwhile: terminating the restore's own
   * backends releases them now.
   */
  private async dropShadows(schemas: string[], app: string): Promise<void> {
    await this.withClient(async (c) => {
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [app],
      );
      for (const schema of schemas) await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    });
  }

  /**
   * Runs `fn` to plan a restore's parallel loading, when it may load in parallel: asked to
   * (`restoreParallel` > 1) and allowed to create the schemas it loads into. Schemas a killed
   * restore left behind are dropped first.
   */
  private async parallelPlan<T>(
    input: RestoreInput,
    app: string,
    fn: (c: Client, parallel: number) => Promise<T | null>,
  ): Promise<T | null> {
    const parallel = this.opts.restoreParallel ?? DEFAULT_RESTORE_PARALLEL;
    if (parallel < 2 || input.encoding !== 'pg-copy-text') return null;
    return this.withClient(async (c) => {
      await dropAbandonedShadows(c);
      // Without the right to create a schema the restore still works, on its one connection.
      const { rows } = await c.query<{ ok: boolean }>(
        `SELECT has_database_privilege(current_database(), 'CREATE') AS ok`,
      );
      return rows[0].ok ? fn(c, parallel) : null;
    }, app);
  }

  private prepareShadows(input: RestoreInput, token: string, app: string): Promise<ShadowPlan | null> {
    return this.parallelPlan(input, app, async (c, parallel) => {
      const scope = input.tables.map((t) => t.name);
      const replace = input.tables.filter((t) => t.mode === 'replace').map((t) => t.name);
      const outside = await referencedFromOutside(c, replace, scope);
      return prepareShadows(
        c,
        token,
        input,
        { scope, referencedFromOutside: outside },
        {
          parallel,
          minBytes: this.opts.shadowMinBytes ?? DEFAULT_SHADOW_MIN_BYTES,
        },
      );
    });
  }

  /**
   * A whole-database backup into an empty database, in one transaction (pg-database-restore.ts):
   * if anything fails, nothing of it stays and a retry starts from an empty database again.
   * With `restoreParallel` > 1 the tables are first loaded, and their indexes built, on that
   * many connections into staging schemas that the transaction moves into place
   * (pg-staged-load.ts).
   */
  async restoreDatabase(db: DatabaseRestoreInput, input: RestoreInput): Promise<DatabaseRestoreResult> {
    const token = randomBytes(6).toString('hex');
    const app = `${RESTORE_APP_PREFIX}${token}`;
    // Connected under the restore's name from the start: a restore running beside it drops
    // staging schemas only when no connection of theirs is left (dropAbandonedShadows).
    const main = await connect(this.url, app);
    let plan: StagePlan | null = null;
    let staged: StageResult | null = null;
    let tuning: Required<RestoreTuning>;
    try {
      tuning = await this.restoreTuning(main);
      plan = await this.planStaging(db, input, token, app);
      if (plan)
        staged = await runStaging(plan, input.tables, {
          url: this.url,
          parallel: this.opts.restoreParallel ?? DEFAULT_RESTORE_PARALLEL,
          maintenanceWorkMem: tuning.maintenanceWorkMem,
          toastCompression: tuning.toastCompression,
          signal: input.signal,
          onProgress: input.onProgress,
        });
    } catch (err) {
      destroyClient(main);
      if (plan) await this.dropShadows(plan.schemas, app).catch(() => undefined);
      throw err;
    }
    try {
      return await this.inTransaction(main, input, 'COMMIT', async (c, i) => {
        // As restore(): the caller keeps the transaction id before anything is written.
        if (i.commitMarker?.onToken) await i.commitMarker.onToken(await transactionToken(c));
        const inPlace = staged && plan ? { ...staged, schemas: plan.schemas } : undefined;
        return restoreDatabaseInTransaction(c, db, i, tuning, inPlace);
      });
    } catch (err) {
      if (plan) await this.dropShadows(plan.schemas, app).catch(() => undefined);
      throw err;
    }
  }

  /** Null when the restore loads on its one connection (see parallelPlan), or no table is worth staging. */
  private planStaging(
    db: DatabaseRestoreInput,
    input: RestoreInput,
    token: string,
    app: string,
  ): Promise<StagePlan | null> {
    return this.parallelPlan(input, app, async () => {
      const plan = planStaging(token, splitDump(db.ddl.preData), splitDump(db.ddl.postData), input.tables);
      return plan.tables.length ? plan : null;
    });
  }

  checkRestoreDatabase(db: Pick<DatabaseRestoreInput, 'ddl' | 'noOwner' | 'noPrivileges'>): Promise<RestoreChecks> {
    return this.withClient((c) => databaseRestoreChecks(c, db.ddl, db), 'strongroom-plan');
  }

  inventory(): Promise<Inventory> {
    return this.withClient(async (c) => summarize(await readInventoryObjects(c, [], []), {}));
  }

  /** Object kinds per schema, by count and definitions; row counts are the deep verify's own per-table checks. */
  async compareInventory(expected: Inventory): Promise<string | null> {
    const rebuilt = await this.inventory();
    return compareInventories(expected, { schemas: rebuilt.schemas, rows: {} });
  }

  /** Shadow schemas of restores whose connections are gone (see restore()). */
  dropAbandonedRestoreData(): Promise<void> {
    return this.withClient((c) => dropAbandonedShadows(c));
  }

  restoreCommitted(marker: { token: string | null }): Promise<boolean | null> {
    return transactionCommitted(this.url, marker.token);
  }

  async plan(input: RestoreInput): Promise<PlanTableResult[]> {
    return this.inTransaction(await connect(this.url, 'strongroom-plan'), input, 'ROLLBACK', (c, i) =>
      planInTransaction(c, i),
    );
  }

  async checkRestore(input: RestoreInput): Promise<RestoreChecks> {
    const { blockers, warnings } = await this.withClient((c) => catalogChecks(c, input), 'strongroom-plan');
    return { blockers, warnings };
  }

  /** Tables a catalog blocker keeps from being read are left out of the plan; the rest are staged and checked row by row. */
  async dryRun(input: RestoreInput): Promise<DryRunResult> {
    return this.inTransaction(await connect(this.url, 'strongroom-plan'), input, 'ROLLBACK', async (c, i) => {
      const found = await catalogChecks(c, i);
      const checks = { blockers: found.blockers, warnings: found.warnings };
      const tables = await planInTransaction(
        c,
        { ...i, tables: i.tables.filter((t) => found.readable.has(t.name)) },
        checks,
      );
      return { tables, ...checks };
    });
  }

  /** Runs `fn` in a transaction on `c` and closes `c` after it, whatever happens. */
  private async inTransaction<T>(
    c: Client,
    input: RestoreInput,
    end: 'COMMIT' | 'ROLLBACK',
    fn: (c: Client, i: RestoreInput) => Promise<T>,
  ): Promise<T> {
    let ok = false;
    try {
      await c.query('BEGIN');
      const result = await fn(c, input);
      if (end === 'COMMIT') {
        input.signal?.throwIfAborted();
        await input.commitGate?.();
      }
      await c.query(end);
      ok = true;
      return result;
    } finally {
      if (ok) await c.end().catch(() => destroyClient(c));
      else {
        await c.query('ROLLBACK').catch(() => undefined);
        // A connection stuck mid-COPY cannot roll back politely; closing it rolls back too.
        destroyClient(c);
      }
    }
  }

  async close(): Promise<void> {
    // Connections are per call and closed when the call ends; nothing is held between calls.
  }
}

export function createPostgresDialect(url: string, opts?: PostgresDialectOptions): PostgresDialect {
  return new PostgresDialect(url, opts);
}
