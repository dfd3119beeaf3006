/**
 * The copy-out reader (pg-copy-to.ts) against a real server: the same bytes as pg-copy-streams'
 * reader (the one it replaced) on rows narrow and wide (a value longer than a socket read), the
 * rows counted as the server counts them (binary COPY's header and trailer are no rows), notices
 * in the middle skipped, an error in the middle reported with the connection usable afterwards.
 * The binary rows are also counted by BinaryRowCounter (the restore's progress) however split.
 */
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { BinaryRowCounter } from './pg-copy-binary';
import { CopyToQuery } from './pg-copy-to';
import { collect as drain, sql } from './pg-spec-helpers';

describe('CopyToQuery', () => {
  let db: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await createPgDatabase('copyto');
    await sql(
      db.url,
      `CREATE TABLE narrow (id int, at timestamptz, v float8);
       INSERT INTO narrow SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', g / 3.0
       FROM generate_series(1, 150000) g;
       CREATE TABLE wide (id int, body text);
       INSERT INTO wide SELECT g, repeat(md5(g::text), 1 + (g % 7) * 30000) FROM generate_series(1, 12) g;
       INSERT INTO wide VALUES (13, E'tab\\there, newline\\nthere, backslash \\\\ and ünïcode'), (14, NULL), (15, '');
       CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS
         $$ BEGIN IF i % 1000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$;`,
    );
    client = new Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  async function both(statement: string): Promise<{ ours: Buffer; theirs: Buffer; rows: number; counted: number }> {
    let counted = 0;
    const q = client.query(new CopyToQuery(statement, (n) => (counted += n)));
    const ours = await drain(q);
    const theirs = await drain(client.query(copyTo(statement)));
    return { ours, theirs, rows: q.rows, counted };
  }

  it.each([
    ['narrow rows', 'COPY narrow TO STDOUT', 150000],
    ['values longer than a socket read', 'COPY wide TO STDOUT', 15],
    ['a query with notices in the middle', 'COPY (SELECT noisy(g) FROM generate_series(1, 5000) g) TO STDOUT', 5000],
    ['no rows', 'COPY (SELECT 1 WHERE false) TO STDOUT', 0],
    // Binary: the header rides on the first row's message and the trailer has one of its own.
    ['narrow rows in binary', 'COPY narrow TO STDOUT (FORMAT binary)', 150000],
    ['wide rows in binary', 'COPY wide TO STDOUT (FORMAT binary)', 15],
    ['no rows in binary', 'COPY (SELECT 1 WHERE false) TO STDOUT (FORMAT binary)', 0],
  ])('reads %s as the bytes pg-copy-streams reads, counting every row', async (_what, statement, expected) => {
    const r = await both(statement);
    expect(r.ours.equals(r.theirs)).toBe(true);
    expect(r.rows).toBe(expected);
    expect(r.counted).toBe(expected);
    // The connection goes back to pg in a state it can use.
    expect((await client.query('SELECT 42 AS n')).rows[0].n).toBe(42);
  });

  // Small cuts split every integer somewhere (header, field counts, lengths); large ones split values.
  it.each([
    ['COPY (SELECT * FROM narrow LIMIT 2000) TO STDOUT (FORMAT binary)', 2000, [1, 2, 3, 5, 7, 4096]],
    ['COPY (SELECT 1 WHERE false) TO STDOUT (FORMAT binary)', 0, [1, 2, 3]],
    ['COPY narrow TO STDOUT (FORMAT binary)', 150000, [4093, 65537]],
    ['COPY wide TO STDOUT (FORMAT binary)', 15, [4093, 65537]],
    // NULLs (length -1) and rows without a column (a field count of 0).
    [
      'COPY (SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE g END, NULL::text FROM generate_series(1, 5000) g) TO STDOUT (FORMAT binary)',
      5000,
      [1, 3, 4096],
    ],
    ['COPY (SELECT FROM generate_series(1, 100)) TO STDOUT (FORMAT binary)', 100, [1, 2, 7]],
  ])('BinaryRowCounter counts the rows of %s however the stream is cut', async (statement, expected, steps) => {
    const bytes = await drain(client.query(new CopyToQuery(statement)));
    const whole = new BinaryRowCounter();
    whole.push(bytes);
    expect(whole.rows).toBe(expected);
    for (const step of steps) {
      const cut = new BinaryRowCounter();
      for (let o = 0; o < bytes.length; o += step) cut.push(bytes.subarray(o, o + step));
      expect([step, cut.rows]).toEqual([step, expected]);
    }
  });

  it('BinaryRowCounter refuses a stream that is not binary COPY', () => {
    expect(() => new BinaryRowCounter().push(Buffer.from('1\tone\n2\ttwo\n'.repeat(3)))).toThrow(/not a binary COPY/);
  });

  it('fails with the server’s error when the COPY fails half-way, and leaves the connection usable', async () => {
    const q = client.query(
      new CopyToQuery('COPY (SELECT 1 / (g - 60000) FROM generate_series(1, 100000) g) TO STDOUT'),
    );
    await expect(drain(q)).rejects.toThrow('division by zero');
    expect(q.rows).toBeGreaterThan(0);
    expect((await client.query('SELECT 7 AS n')).rows[0].n).toBe(7);
  });
});
