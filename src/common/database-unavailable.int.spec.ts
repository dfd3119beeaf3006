/** Classified on errors the real drivers raise, not on hand-made objects. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from './database-unavailable';

async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('isDatabaseUnavailable', () => {
  it('is true for a PostgreSQL server that refuses connections', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = new Client({ host: '127.0.0.1', port, user: 'x', database: 'x' });
    const e = await caught(() => refused.connect());
    await refused.end().catch(() => undefined);
    expect(isDatabaseUnavailable(e)).toBe(true);
    expect(isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], e as Error))).toBe(true);
  });

  it('is true for a terminated PostgreSQL session, false for a query that is wrong', async () => {
    const c = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await c.connect();
    c.on('error', () => undefined);
    const syntax = await caught(() => c.query('SELEC 1'));
    expect(isDatabaseUnavailable(syntax)).toBe(false);
    const range = await caught(() => c.query('SELECT $1::bigint', ['1e308']));
    expect(isDatabaseUnavailable(range)).toBe(false);
    const terminated = await caught(() => c.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    expect(isDatabaseUnavailable(terminated)).toBe(true);
    const after = await caught(() => c.query('SELECT 1'));
    expect(isDatabaseUnavailable(after)).toBe(true);
    await c.end().catch(() => undefined);
  });

  it('is true for a SQLite file locked past the busy timeout, false for a constraint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-busy-'));
    const a = new Database(join(dir, 'x.db'));
    const b = new Database(join(dir, 'x.db'), { timeout: 0 });
    try {
      a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      a.exec('BEGIN IMMEDIATE');
      const busy = (() => {
        try {
          b.exec('BEGIN IMMEDIATE');
        } catch (e) {
          return e;
        }
      })();
      expect(isDatabaseUnavailable(busy)).toBe(true);
      a.exec('ROLLBACK');
      a.exec('INSERT INTO t VALUES (1)');
      const unique = (() => {
        try {
          a.exec('INSERT INTO t VALUES (1)');
        } catch (e) {
          return e;
        }
      })();
      expect(isDatabaseUnavailable(unique)).toBe(false);
      a.close();
      const closed = (() => {
        try {
          a.prepare('SELECT 1');
        } catch (e) {
          return e;
        }
      })();
      expect(isDatabaseUnavailable(closed)).toBe(true);
    } finally {
      if (a.open) a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
