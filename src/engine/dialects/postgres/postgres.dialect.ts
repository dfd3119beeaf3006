/**
 * PostgreSQL dialect: rows travel as COPY text (`pg-copy-text`), DDL comes from pg_dump,
 * restores run in one transaction. Tables are those of schema `public`.
 */
import type { Client } from 'pg';
import type {
  Dialect,
  PlanTableResult,
  RestoreInput,
  RestoreTableResult,
  SchemaDifference,
  Snapshot,
  TableInfo,
} from '../dialect';
import { readTables } from './pg-catalog';
import { planInTransaction } from './pg-plan';
import { restoreInTransaction } from './pg-restore';
import { stripPsqlMetaCommands } from './pg-schema-dump';
import { diffTables, fingerprintTables } from './pg-schema-compare';
import { PostgresSnapshot } from './pg-snapshot';
import { connect, destroyClient } from './pg-session';
import { findPgTool, serverMajor, type FindPgToolOptions } from './pg-tools';

export interface PostgresDialectOptions {
  /** Where to look for pg_dump before the default places. */
  pgBinDirs?: string[];
  /** Snapshot readers when the caller does not say (default 2). */
  parallel?: number;
}

export class PostgresDialect implements Dialect {
  readonly engine = 'postgres' as const;
  readonly encoding = 'pg-copy-text' as const;
  private pgDump: Promise<string> | null = null;

  constructor(
    private readonly url: string,
    private readonly opts: PostgresDialectOptions = {},
  ) {
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('a PostgreSQL database URL must start with postgres:// or postgresql://');
  }

  private async withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await connect(this.url);
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

  openSnapshot(tables: string[], opts: { parallel?: number } = {}): Promise<Snapshot> {
    const parallel = Math.max(1, opts.parallel ?? this.opts.parallel ?? 2);
    return PostgresSnapshot.open({ url: this.url, tables, parallel, pgDumpPath: () => this.pgDumpPath() });
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

  restore(input: RestoreInput): Promise<RestoreTableResult[]> {
    return this.inTransaction(input, 'COMMIT', restoreInTransaction);
  }

  plan(input: RestoreInput): Promise<PlanTableResult[]> {
    return this.inTransaction(input, 'ROLLBACK', planInTransaction);
  }

  private async inTransaction<T>(input: RestoreInput, end: 'COMMIT' | 'ROLLBACK', fn: (c: Client, i: RestoreInput) => Promise<T>): Promise<T> {
    const c = await connect(this.url, 'strongroom-restore');
    let ok = false;
    try {
      await c.query('BEGIN');
      const result = await fn(c, input);
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
