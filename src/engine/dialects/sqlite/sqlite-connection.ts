/**
 * Opening the target SQLite file. Connections wait for locks instead of failing at once. The
 * file's journal mode is the application's choice and stays as it is: switching it to WAL
 * would outlive the backup (WAL is a property of the file). In WAL mode (the service's own
 * database, whose ORM enables it) a backup's read transaction never blocks writers; in a
 * rollback-journal file writers wait for the backup's read lock, as with any other reader.
 */
// Loaded on first use: scope SQL imports quoteIdent from here, and a PostgreSQL backup or restore
// should not load the native SQLite addon to quote a name (see create-dialect.ts).
import type Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

export interface SqliteDialectOptions {
  /** How long to wait for another connection's write lock before giving up. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Rows handled per synchronous step before yielding to the event loop. Default 500. */
  batchRows?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
export const DEFAULT_BATCH_ROWS = 500;

/** Accepts `sqlite:<path>`, `sqlite://<path>` and `sqlite:///abs/path`. */
export function sqlitePathFromUrl(url: string): string {
  if (!url.startsWith('sqlite:'))
    throw new Error(`Not a SQLite database URL (expected sqlite:<path>): ${url.split(':')[0]}:…`);
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (!path) throw new Error('SQLite database URL has no file path');
  if (path === ':memory:')
    throw new Error('SQLite database URL must name a file: an in-memory database cannot be shared between connections');
  return path;
}

/**
 * better-sqlite3's busy handler sleeps synchronously, which would freeze the whole process
 * while another connection holds the lock; connections therefore wait only briefly inside
 * SQLite and longer waits happen asynchronously in `beginImmediate`.
 */
const SYNC_BUSY_WAIT_MS = 50;

export function openConnection(path: string, opts: SqliteDialectOptions = {}): SqliteDb {
  const BetterSqlite3 = require('better-sqlite3') as typeof Database;
  const db = new BetterSqlite3(path, { timeout: SYNC_BUSY_WAIT_MS });
  try {
    const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    db.pragma(`busy_timeout = ${Math.min(busy, SYNC_BUSY_WAIT_MS)}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY'))
  );
}

/** Takes the write lock, retrying without blocking the event loop until the busy timeout. */
export async function beginImmediate(db: SqliteDb, opts: SqliteDialectOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  for (;;) {
    try {
      db.exec('BEGIN IMMEDIATE');
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) {
        throw new Error(`Could not lock SQLite database ${db.name} for writing: ${(err as Error).message}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
