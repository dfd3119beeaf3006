/**
 * The one place that maps a database URL to its engine. Each engine's module graph is loaded
 * only when a URL asks for it: the PostgreSQL dialect and its driver cost a SQLite backup
 * 36–46 ms of start-up, and better-sqlite3 and the SQLite dialect cost a PostgreSQL restore
 * 17–32 ms, which is a tenth of a scoped restore's whole time (docs/benchmarking.md).
 */
import { resolve } from 'node:path';
import type { Dialect } from './dialect';
import type * as PostgresDialectModule from './postgres/postgres.dialect';
import type { ToastCompressionPolicy } from './postgres/pg-toast-compression';
import type * as SqliteDialectModule from './sqlite';
import { sqlitePathFromUrl } from './sqlite/sqlite-connection';

export interface DialectOptions {
  /** Snapshot readers of a backup (PostgreSQL). */
  parallel?: number;
  /** Connections a replace restore loads with (PostgreSQL; 1 = in place, one connection). */
  restoreParallel?: number;
  /** maintenance_work_mem of a restore's connections (PostgreSQL), e.g. '512MB'. */
  maintenanceWorkMem?: string;
  /** ANALYZE the tables a restore swapped in, after its commit (PostgreSQL; default true). */
  restoreAnalyze?: boolean;
  /** Which TOAST compression restored rows are written with (PostgreSQL; default auto). */
  toastCompression?: ToastCompressionPolicy;
  /** What a full backup leaves out (PostgreSQL): schema patterns to include / exclude, table patterns whose rows are left out. */
  scope?: { includeSchemas?: string[]; excludeSchemas?: string[]; excludeTables?: string[] };
}

/** The dialect for a `sqlite:` or `postgres://` URL. */
export function createDialect(url: string, opts: DialectOptions = {}): Dialect {
  if (url.startsWith('sqlite:')) {
    const { createSqliteDialect } = require('./sqlite') as typeof SqliteDialectModule;
    return createSqliteDialect(url, { busyTimeoutMs: 15_000 });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { createPostgresDialect } = require('./postgres/postgres.dialect') as typeof PostgresDialectModule;
    const { parallel, restoreParallel, maintenanceWorkMem, restoreAnalyze, toastCompression, scope } = opts;
    return createPostgresDialect(url, {
      parallel,
      restoreParallel,
      maintenanceWorkMem,
      restoreAnalyze,
      toastCompression,
      scope,
    });
  }
  throw new Error('database URL must be sqlite:<path> or postgres://…');
}

/**
 * Which database a URL names, without credentials, so it can be written down (a file-restore
 * journal names the target whose commit decides it) and compared with another URL.
 */
export function targetIdentity(url: string): string {
  if (url.startsWith('sqlite:')) return `sqlite:${resolve(sqlitePathFromUrl(url))}`;
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`;
}
