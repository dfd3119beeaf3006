/**
 * Every column type the service must carry survives export -> schema apply -> restore ->
 * export with identical bytes, and pg_dump's own data dump of both databases agrees.
 */
import { ALL_TYPES_PG_LINKS, ALL_TYPES_PG_SCHEMA } from './pg-fixtures';
import { pgDumpData, restoreInput, sourceAndTarget, sql, takeBackup, type Backup } from './pg-spec-helpers';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const MEGABYTE = 'ünï\tcødé\\'.repeat(100_000).slice(0, 1_048_576);

async function seed(url: string): Promise<void> {
  await sql(url, ALL_TYPES_PG_SCHEMA);
  await sql(
    url,
    `INSERT INTO everything (region, s, i, b, n, r, d, t, by, bo, da, ts, tstz, iv, u, j, jb, ia, ta, m, ma)
     VALUES (1, -32768, 2147483647, -9223372036854775808,
             123456789012345678901234567890.123456789012345678901234567890000, 'NaN', 'Infinity',
             E'tab\\there\\nnew line \\\\ backslash — ünicode 🚀 \\r', $1, true, '4713-01-01 BC',
             '2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.5+05:30', '1 year 2 mons -3 days 04:05:06.789',
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{ "spaced" : [1, 2.50, "x"] }', '{"b": {"c": [true, null]}}',
             '{1,NULL,3}', '{"a b",NULL,"quote\\"d","back\\\\slash",""}', 'happy', '{sad,NULL,ok}'),
            (1, 32767, -2147483648, 9223372036854775807, 'NaN', '-Infinity', 'NaN',
             '', '\\x', false, 'infinity', '-infinity', 'infinity', '-178000000 years',
             '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{}', 'sad', '{}'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    [ALL_BYTES],
  );
  await sql(
    url,
    `INSERT INTO everything (region, t, r, d, n) VALUES (2, $1, '1.17549435e-38', 2.2250738585072014e-308, '-0.000000000000000000001')`,
    [MEGABYTE],
  );
  for (const statement of ALL_TYPES_PG_LINKS) await sql(url, statement);
}

describe('PostgreSQL dialect round trip', () => {
  let backup: Backup;
  const db = sourceAndTarget('rt', seed, async ({ from, to }) => {
    backup = await takeBackup(from);
    await to.applySchema(backup.schemaSql);
    await to.restore(restoreInput(backup, 'replace'));
  });

  it('reads structure: types, generated and key columns, foreign keys', async () => {
    const tables = await db.from.listTables();
    expect(tables.map((t) => t.name)).toEqual(['Mixed Case', 'everything', 'no_key']);
    const e = tables.find((t) => t.name === 'everything')!;
    expect(e.primaryKey).toEqual(['region', 'id']);
    expect(e.columns.find((c) => c.name === 'doubled')).toEqual({
      name: 'doubled',
      type: 'bigint',
      nullable: true,
      generated: true,
    });
    expect(e.columns.find((c) => c.name === 'tstz')?.type).toBe('timestamp with time zone');
    expect(e.columns.find((c) => c.name === 'ma')?.type).toBe('mood[]');
    expect(e.foreignKeys).toEqual([
      {
        name: 'everything_parent_region_parent_id_fkey',
        columns: ['parent_region', 'parent_id'],
        refTable: 'everything',
        refColumns: ['region', 'id'],
      },
    ]);
    await expect(db.from.serverVersion()).resolves.toMatch(/^PostgreSQL \d+\.\d+$/);
  });

  it('the schema SQL recreates the enum and the same structure', async () => {
    expect(backup.schemaSql).toContain(`CREATE TYPE "public"."mood" AS ENUM ('sad', 'ok', 'happy');`);
    expect(backup.schemaSql).not.toMatch(/^\\/m);
    expect(await db.to.compareSchema(backup.tables)).toEqual([]);
    expect(db.to.fingerprint(await db.to.listTables())).toBe(db.from.fingerprint(backup.tables));
  });

  it('exports identical bytes and row counts after the restore', async () => {
    const again = await takeBackup(db.to);
    expect([...again.data.keys()].sort()).toEqual([...backup.data.keys()].sort());
    for (const [name, d] of backup.data) {
      expect({ name, rows: again.data.get(name)!.rows, sha: again.data.get(name)!.sha256 }).toEqual({
        name,
        rows: d.rows,
        sha: d.sha256,
      });
    }
    expect(backup.data.get('everything')!.rows).toBe(4);
    expect(backup.data.get('no_key')!.rows).toBe(4);
    expect(backup.data.get('everything')!.bytes.length).toBeGreaterThan(1_048_576);
  });

  it("agrees with pg_dump's data dump of both databases, sequences included", () => {
    const names = ['everything', 'Mixed Case', 'no_key'];
    const a = pgDumpData(db.src.url, names);
    expect(a).toContain('1.1754944e-38');
    expect(a).toContain("setval('public.everything_id_seq', 4, true)");
    const b = pgDumpData(db.dst.url, names);
    // pg_dump writes rows in physical order, which a restore in key order need not keep: compare
    // the sorted lines, and report the first difference rather than two megabytes of dump.
    const [la, lb] = [a.split('\n').sort(), b.split('\n').sort()];
    const first = la.findIndex((l, i) => l !== lb[i]);
    expect(
      first === -1 ? null : { line: first, source: la[first]?.slice(0, 200), restored: lb[first]?.slice(0, 200) },
    ).toBeNull();
    expect(lb.length).toBe(la.length);
  });

  it('keeps values exact: bytes, generated column recomputed, NaN and infinities', async () => {
    const [row] = await sql<{ by: Buffer; doubled: string; r: number; d: number; t: string }>(
      db.dst.url,
      `SELECT by, doubled::text, r, d, t FROM everything WHERE region = 1 AND id = 1`,
    );
    expect(Buffer.compare(row.by, ALL_BYTES)).toBe(0);
    expect(row.doubled).toBe('4294967294');
    expect(Number.isNaN(row.r)).toBe(true);
    expect(row.d).toBe(Infinity);
    expect(row.t).toContain('\t');
    const [big] = await sql<{ t: string }>(db.dst.url, `SELECT t FROM everything WHERE id = 4`);
    expect(big.t).toBe(MEGABYTE);
  });

  it('moves identity and serial sequences past the restored rows', async () => {
    const [r] = await sql<{ id: string; serial_no: number }>(
      db.dst.url,
      `INSERT INTO everything (region) VALUES (9) RETURNING id::text, serial_no`,
    );
    expect(r).toEqual({ id: '5', serial_no: 5 });
  });
});
