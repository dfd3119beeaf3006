import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import { ALL_TYPES_SCHEMA, ALL_TYPES_TABLES, fillAllTypes } from './sqlite-fixtures';
import { createSqliteDialect, type SqliteDialect } from './sqlite.dialect';
import { exec, exportAll, query, rawConnection, restoreInputFor, type Exported } from './sqlite-test-support';

describe('SQLite dialect: export, schema and restore round trip', () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let src: SqliteDialect;
  let dst: SqliteDialect;
  let exported: Exported;

  beforeAll(async () => {
    source = createSqliteDatabase();
    target = createSqliteDatabase();
    exec(source.url, ALL_TYPES_SCHEMA);
    const db = rawConnection(source.url);
    fillAllTypes(db);
    db.close();
    src = createSqliteDialect(source.url);
    dst = createSqliteDialect(target.url);
    exported = await exportAll(src);
  });

  afterAll(async () => {
    await src.close();
    await dst.close();
    await source.drop();
    await target.drop();
  });

  it('describes tables: parents first, generated columns flagged, key order kept', async () => {
    const tables = await src.listTables(['loose']);
    expect(tables.map((t) => t.name).sort()).toEqual(ALL_TYPES_TABLES.filter((n) => n !== 'loose').sort());
    const allTypes = tables.find((t) => t.name === 'all_types');
    expect(allTypes?.columns.filter((c) => c.generated).map((c) => c.name)).toEqual(['doubled', 't_len']);
    expect(tables.find((t) => t.name === 'composite')?.primaryKey).toEqual(['b', 'a']);
    expect(tables.find((t) => t.name === 'tree')?.foreignKeys).toEqual([
      { name: 'tree_parent_id_fkey', columns: ['parent_id'], refTable: 'tree', refColumns: ['id'] },
    ]);
    expect(src.fingerprint(tables)).toBe(src.fingerprint([...tables].reverse()));
  });

  it('exports rows in key order, with generated columns left out and values tagged', () => {
    const lines = exported.data.get('all_types')?.toString('utf8').split('\n') ?? [];
    expect(lines).toHaveLength(9); // 8 rows + the empty string after the final newline
    expect(lines[0]).toBe('[1,0,0.1,"plain",{"$b":"YWJj"},12.5,1,"2024-02-29 23:59:59.999",{"$f":"1"}]');
    expect(lines[3]).toBe(
      '[4,{"$i":"9007199254740992"},{"$f":"0"},"{\\"$b\\":\\"AAEC\\"}",{"$b":"AA=="},{"$i":"9007199254740993"},null,null,{"$b":"AQI="}]',
    );
    expect(lines[6]).toBe('[7,null,null,null,null,null,null,null,null]');
    // Primary key (b, a) order, the rowid (not a column here) first, then columns in table order.
    expect(exported.data.get('composite')?.toString()).toBe(
      '[4,-5,"",-1.25]\n[2,1,"x",0.25]\n[1,2,"x",0.5]\n[3,1,"y",0.25]\n',
    );
    expect(exported.rows.get('all_types')).toBe(8);
    expect(exported.rows.get('loose')).toBe(3);
  });

  it('schema SQL replays on an empty database, with indexes, views and triggers', () => {
    expect(exported.schemaSql).toContain('CREATE INDEX all_types_at');
    expect(exported.schemaSql).toContain('CREATE VIEW tree_roots');
    expect(exported.schemaSql).toContain('CREATE TRIGGER counter_label_check');
    expect(exported.schemaSql.indexOf('CREATE TABLE all_types')).toBeLessThan(
      exported.schemaSql.indexOf('CREATE INDEX all_types_at'),
    );
  });

  it('restores into a fresh database and exports identical bytes and row counts', async () => {
    await dst.applySchema(exported.schemaSql);
    const results = await dst.restore(restoreInputFor(exported, 'replace'));
    expect(results.map((r) => r.name).sort()).toEqual([...ALL_TYPES_TABLES].sort());
    for (const r of results) expect(r.rowsWritten).toBe(exported.rows.get(r.name));
    const again = await exportAll(dst);
    expect([...again.data.keys()].sort()).toEqual([...exported.data.keys()].sort());
    for (const [name, bytes] of exported.data) {
      expect({ name, equal: Buffer.compare(again.data.get(name) as Buffer, bytes) === 0 }).toEqual({
        name,
        equal: true,
      });
      expect(again.rows.get(name)).toBe(exported.rows.get(name));
    }
    expect(await dst.compareSchema(exported.tables)).toEqual([]);
  });

  it('keeps storage classes, edge values and generated columns after the restore', () => {
    const rows = query<{
      id: bigint;
      i: bigint | null;
      ti: string;
      r: number | null;
      ta: string;
      tb: string;
      doubled: bigint | null;
      t_len: bigint | null;
    }>(
      target.url,
      'SELECT id, i, typeof(i) AS ti, r, typeof(anything) AS ta, typeof(b) AS tb, doubled, t_len FROM all_types ORDER BY id',
    );
    expect(rows[1]).toMatchObject({ i: -(2n ** 63n), r: -Infinity, ta: 'integer', tb: 'blob' });
    expect(rows[2]).toMatchObject({ i: 2n ** 63n - 1n, r: Infinity, ta: 'text', tb: 'blob' });
    expect(rows[0]).toMatchObject({ ta: 'real', doubled: 0n, t_len: 5n });
    expect(rows[5]).toMatchObject({ t_len: BigInt(1024 * 1024), doubled: 18014398509481982n });
    expect(rows[6]).toMatchObject({ i: null, ti: 'null', ta: 'null', tb: 'null', doubled: null, t_len: null });
    const blob = query<{ b: Buffer }>(target.url, 'SELECT b FROM all_types WHERE id = 2')[0].b;
    expect([...blob]).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(query(target.url, `SELECT typeof(anything) AS t, anything FROM all_types WHERE id = 5`)[0]).toEqual({
      t: 'real',
      anything: -0,
    });
  });

  it('keeps AUTOINCREMENT counting where the source was, past deleted rows too', () => {
    const db = rawConnection(target.url);
    try {
      const id = db.prepare(`INSERT INTO counter (label) VALUES ('new') RETURNING id`).pluck().get();
      // The highest restored rowid is 4, but the source had handed out 5 (a deleted row): 5 is never reused.
      expect(id).toBe(6);
    } finally {
      db.close();
    }
  });

  it('never lowers an AUTOINCREMENT counter that moved on since the backup', async () => {
    exec(target.url, `UPDATE sqlite_sequence SET seq = 100 WHERE name = 'counter'`);
    await dst.restore(restoreInputFor(exported, 'replace', { only: ['counter'] }));
    const db = rawConnection(target.url);
    try {
      expect(db.prepare(`INSERT INTO counter (label) VALUES ('later') RETURNING id`).pluck().get()).toBe(101);
    } finally {
      db.close();
    }
  });

  it('reports schema differences by kind', async () => {
    const scratch = createSqliteDatabase();
    const d = createSqliteDialect(scratch.url);
    try {
      exec(
        scratch.url,
        `
        CREATE TABLE all_types (id TEXT PRIMARY KEY, i INTEGER, extra TEXT);
        CREATE TABLE composite (a INTEGER, b TEXT, v REAL, PRIMARY KEY (a, b));
        CREATE TABLE surprise (x);`,
      );
      const expected = exported.tables.filter((t) => ['all_types', 'composite', 'kv'].includes(t.name));
      const diffs = await d.compareSchema(expected);
      expect(diffs).toEqual(
        expect.arrayContaining([
          { table: 'all_types', kind: 'type-changed', column: 'id', expected: 'INTEGER', actual: 'TEXT' },
          { table: 'all_types', kind: 'missing-column', column: 'r', expected: 'REAL' },
          { table: 'all_types', kind: 'extra-column', column: 'extra', actual: 'TEXT' },
          { table: 'composite', kind: 'primary-key-changed', expected: 'b, a', actual: 'a, b' },
          { table: 'kv', kind: 'missing-table' },
          { table: 'surprise', kind: 'extra-table' },
        ]),
      );
      expect(await d.compareSchema(expected, { exclude: ['surprise'] })).not.toContainEqual({
        table: 'surprise',
        kind: 'extra-table',
      });
    } finally {
      await d.close();
      await scratch.drop();
    }
  });
});
