/**
 * Batched DDL (pg-batch.ts) against a real PostgreSQL: many statements in one round trip, in
 * order, and a failure still reported by the statement that failed, with its own handling.
 */
import { Client } from 'pg';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { runBatched, type BatchStatement } from './pg-batch';

describe('runBatched', () => {
  let db: TestDatabase;
  let c: Client;
  beforeAll(async () => {
    db = await createPgDatabase('batch');
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query('BEGIN');
  });
  afterEach(async () => {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  });

  /** The messages sent to the server, counted on the real client. */
  function countQueries(): { n: number } {
    const seen = { n: 0 };
    const query = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      seen.n++;
      return query(...a);
    };
    return seen;
  }

  it('runs the statements in order, many to a round trip', async () => {
    const statements: BatchStatement[] = [{ sql: 'CREATE TABLE t (n int)' }];
    for (let i = 1; i <= 1200; i++) statements.push({ sql: `INSERT INTO t VALUES (${i}) -- a trailing comment` });
    const seen = countQueries();
    await runBatched(c, statements);
    // 1,201 statements in batches of at most 500.
    expect(seen.n).toBe(3);
    const { rows } = await c.query<{ n: string; last: number }>(
      `SELECT count(*)::text AS n, (array_agg(n ORDER BY ctid DESC))[1] AS last FROM t`,
    );
    expect(rows).toEqual([{ n: '1200', last: 1200 }]);
  });

  it('reports a failure through the failing statement alone, after those before it', async () => {
    const ran: string[] = [];
    const step = (sql: string): BatchStatement => ({
      sql,
      alone: async () => {
        ran.push(sql);
        try {
          await c.query(sql);
        } catch (err) {
          throw new Error(`step "${sql}" failed: ${(err as Error).message}`);
        }
      },
    });
    await expect(
      runBatched(c, [
        step('CREATE TABLE a (n int PRIMARY KEY)'),
        step('INSERT INTO a VALUES (1), (1)'),
        step('CREATE TABLE b (n int)'),
      ]),
    ).rejects.toThrow(/^step "INSERT INTO a VALUES \(1\), \(1\)" failed: duplicate key/);
    // The batch was taken back and replayed one by one up to the failure; the rest never ran.
    expect(ran).toEqual(['CREATE TABLE a (n int PRIMARY KEY)', 'INSERT INTO a VALUES (1), (1)']);
  });

  it('keeps going when the failing statement tolerates its own failure', async () => {
    const tolerant = (sql: string): BatchStatement => ({
      sql,
      alone: async () => {
        await c.query('SAVEPOINT mine');
        try {
          await c.query(sql);
          await c.query('RELEASE SAVEPOINT mine');
        } catch {
          await c.query('ROLLBACK TO SAVEPOINT mine');
        }
      },
    });
    await runBatched(c, [
      { sql: 'CREATE TABLE a (n int)' },
      tolerant('ALTER TABLE a OWNER TO strongroom_no_such_role'),
      { sql: 'INSERT INTO a VALUES (7)' },
    ]);
    expect((await c.query('SELECT n FROM a')).rows).toEqual([{ n: 7 }]);
  });
});
