/**
 * The `pg` driver, loaded without waking Node 20's fetch implementation.
 *
 * When `pg` loads, it asks whether it runs in a Cloudflare Worker: if `navigator.userAgent`
 * is absent (Node 20 has no `navigator`), it constructs a `Response`, and touching that
 * global loads undici — 35–47 ms of start-up in every process and worker thread that
 * opens a PostgreSQL connection, for a class it never uses. Scope backups and restores are
 * short enough for that to show (docs/benchmarking.md). So `pg` is loaded once, here, with
 * a `navigator` that answers the question, which is removed again straight after.
 */
import type * as PgModule from 'pg';

function loadPg(): typeof PgModule {
  const g = globalThis as { navigator?: unknown };
  if (g.navigator !== undefined) return require('pg') as typeof PgModule;
  g.navigator = { userAgent: 'Node.js' };
  try {
    return require('pg') as typeof PgModule;
  } finally {
    delete g.navigator;
  }
}

let loaded: typeof PgModule | null = null;

/**
 * The driver, loaded on first use: modules that only quote names (scope SQL, archived roles) import
 * pg-session too, and a SQLite backup or restore should not pay for a driver it never uses.
 */
export function pgDriver(): typeof PgModule {
  loaded ??= loadPg();
  return loaded;
}
