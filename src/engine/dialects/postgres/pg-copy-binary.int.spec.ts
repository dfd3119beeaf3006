/**
 * Binary COPY tables (pg-copy-binary.ts) against a real server: which tables qualify, that their
 * values come back bit for bit (edge values of every type on the list), that the content checksum
 * of a table restored into an empty database is the backup's again (deep verify relies on it),
 * and that a column whose type changed since the backup stops the restore instead of loading
 * misread values.
 */
import { BINARY_ROW_FORMAT, binaryCopyTables } from './pg-copy-binary';
import { restoreInput, sourceAndTarget, sql, takeBackup } from './pg-spec-helpers';

const SCHEMA = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN positive AS int CHECK (VALUE > 0);
  CREATE TYPE pair AS (a int, b text);
  CREATE TABLE plain (
    id int PRIMARY KEY, s smallint, b bigint, n numeric, r real, d double precision, t text,
    vc varchar(20), ch char(3), by bytea, bo bool, da date, tm time, ts timestamp, tstz timestamptz,
    iv interval, u uuid, j json, jb jsonb, ia int[], ta text[], m mood,
    half bigint GENERATED ALWAYS AS (b / 2) STORED
  );
  CREATE TABLE with_domain (id int, p positive);
  CREATE TABLE with_composite (id int, p pair);
  CREATE TABLE with_enum_array (id int, ms mood[]);
  CREATE TABLE with_point (id int, at point);
  CREATE TABLE no_columns ();
`;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

async function seed(url: string): Promise<void> {
  await sql(url, SCHEMA);
  await sql(
    url,
    `INSERT INTO plain (id, s, b, n, r, d, t, vc, ch, by, bo, da, tm, ts, tstz, iv, u, j, jb, ia, ta, m) VALUES
       (1, -32768, -9223372036854775808, 123456789012345678901234567890.000000000000000000001, 'NaN', '-Infinity',
        E'tab\\there\\nnew line \\\\ — ünicode 🚀 \\r', 'varchar', 'ab', $1, true, '4713-01-01 BC', '24:00:00',
        '294276-12-31 23:59:59.999999', '1999-12-31 23:59:59.5+05:30', '-178000000 years 3 days -00:00:00.000001',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{ "spaced" : [1, 2.50, "x"] }', '{"b": {"c": [true, null]}}',
        '{{1,NULL},{3,4}}', '{"a b",NULL,"quote\\"d",""}', 'happy'),
       (2, 32767, 9223372036854775807, 'NaN', '-0', 5e-324, '', '', '', '\\x', false, 'infinity', '00:00',
        '-infinity', 'infinity', '0', '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{}', 'sad'),
       (3, NULL, NULL, '-0.0000000000000000000001', 1.17549435e-38, 2.2250738585072014e-308, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    [ALL_BYTES],
  );
  await sql(url, `INSERT INTO plain (id, t) SELECT g, repeat(md5(g::text), 40) FROM generate_series(10, 5009) g`);
  await sql(url, `INSERT INTO with_domain VALUES (1, 5); INSERT INTO with_point VALUES (1, '(1,2)')`);
}

describe('binary COPY tables', () => {
  const db = sourceAndTarget('bin', seed);

  it('takes only tables whose every stored column is a listed built-in type, an array of one, or an enum', async () => {
    const all = ['plain', 'with_domain', 'with_composite', 'with_enum_array', 'with_point', 'no_columns'];
    const c = await db.from.listTables();
    expect(c.map((t) => t.name).sort()).toEqual([...all].sort());
    const { Client } = await import('pg');
    const client = new Client({ connectionString: db.src.url });
    await client.connect();
    try {
      expect([...(await binaryCopyTables(client, all))]).toEqual(['plain']);
    } finally {
      await client.end();
    }
    const backup = await takeBackup(db.from);
    expect(backup.data.get('plain')!.rowFormat).toBe(BINARY_ROW_FORMAT);
    for (const other of all.filter((n) => n !== 'plain')) expect(backup.data.get(other)!.rowFormat).toBeUndefined();
  });

  it('restores every value bit for bit, and the restored table exports the same bytes again', async () => {
    const backup = await takeBackup(db.from);
    expect(backup.data.get('plain')!.rows).toBe(5003);
    await sql(db.dst.url, SCHEMA);
    const results = await db.to.restore(restoreInput(backup, 'replace'));
    expect(results.find((r) => r.name === 'plain')?.rowsWritten).toBe(5003);
    const again = await takeBackup(db.to);
    for (const name of backup.data.keys()) {
      expect([name, again.data.get(name)!.sha256]).toEqual([name, backup.data.get(name)!.sha256]);
    }
    // The values as text are the source's: no value was re-encoded on the way.
    const text = async (url: string) =>
      sql<{ row: string }>(url, `SELECT p::text AS row FROM plain p ORDER BY id`).then((r) => r.map((x) => x.row));
    expect(await text(db.dst.url)).toEqual(await text(db.src.url));
    const bytes = await sql<{ by: Buffer }>(db.dst.url, `SELECT by FROM plain WHERE id = 1`);
    expect(bytes[0].by.equals(ALL_BYTES)).toBe(true);
  });

  it('refuses a column whose type changed since the backup, naming it, and writes nothing', async () => {
    const backup = await takeBackup(db.from, ['plain']);
    await sql(db.src.url, `ALTER TABLE plain ALTER COLUMN s TYPE int`);
    try {
      const before = await sql<{ n: number }>(db.src.url, `SELECT count(*)::int AS n FROM plain`);
      await sql(db.src.url, `DELETE FROM plain WHERE id >= 10`);
      await expect(db.from.restore(restoreInput(backup, 'replace'))).rejects.toThrow(
        /table "plain": column "s" is integer in the database but was smallint when the backup was taken/,
      );
      expect(await sql<{ n: number }>(db.src.url, `SELECT count(*)::int AS n FROM plain`)).toEqual([{ n: 3 }]);
      expect(before).toEqual([{ n: 5003 }]);
    } finally {
      await sql(db.src.url, `ALTER TABLE plain ALTER COLUMN s TYPE smallint`);
    }
  });
});
