import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createSqliteDialect, type SqliteDialect } from './sqlite.dialect';
import { encodeRow, MAX_SQL_ROW_COLUMNS } from './sqlite-row-codec';
import { exec, exportAll, query, rawConnection, readAll } from './sqlite-test-support';

describe('SQLite snapshot', () => {
  let db: TestDatabase;
  let dialect: SqliteDialect;

  beforeEach(async () => {
    db = createSqliteDatabase();
    // The application's choice (the service's ORM makes the same): readers never block the writer.
    exec(
      db.url,
      `
      PRAGMA journal_mode = WAL;
      CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
      CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id));
      CREATE TABLE outside (id INTEGER PRIMARY KEY);
      CREATE VIEW a_only AS SELECT v FROM a;
      CREATE VIEW a_and_outside AS SELECT a.v FROM a JOIN outside ON outside.id = a.id;
      CREATE VIEW on_a_and_outside AS SELECT * FROM a_and_outside;
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO a SELECT i, 'row ' || i FROM n;
      INSERT INTO b SELECT id, id FROM a WHERE id <= 1000;`,
    );
    dialect = createSqliteDialect(db.url, { batchRows: 100 });
  });

  afterEach(async () => {
    await dialect.close();
    await db.drop();
  });

  it('does not see writes committed after it was opened, and does not block the writer', async () => {
    const snap = await dialect.openSnapshot(['a', 'b']);
    try {
      const writer = rawConnection(db.url);
      writer.exec(
        `UPDATE a SET v = 'changed' WHERE id = 1; INSERT INTO a VALUES (5000, 'late'); DELETE FROM b WHERE id = 2;`,
      );
      writer.close();
      expect(query(db.url, 'SELECT v FROM a WHERE id = 1')[0].v).toBe('changed');
      const a = snap.exportTable('a');
      const text = (await readAll(a.stream)).toString();
      expect(a.rowCount()).toBe(3000);
      expect(text.startsWith('[1,"row 1"]\n')).toBe(true);
      expect(text).not.toContain('late');
      const b = snap.exportTable('b');
      await readAll(b.stream);
      expect(b.rowCount()).toBe(1000);
    } finally {
      await snap.close();
    }
  });

  it('streams several tables at once from the same snapshot', async () => {
    const snap = await dialect.openSnapshot(['b', 'a']);
    try {
      expect(snap.tables.map((t) => t.name)).toEqual(['a', 'b']); // parents first
      const [a, b] = [snap.exportTable('a'), snap.exportTable('b')];
      const [ta, tb] = await Promise.all([readAll(a.stream), readAll(b.stream)]);
      expect(ta.toString().split('\n')).toHaveLength(3001);
      expect(tb.toString().split('\n')[999]).toBe('[1000,1000]');
    } finally {
      await snap.close();
    }
  });

  it('starts a table while another one is mid-read (parallel backup workers do)', async () => {
    // Big enough for several 256 KiB chunks, so 'a' keeps an open cursor after its first one.
    exec(db.url, `UPDATE a SET v = v || printf('%.400c', 'x')`);
    const snap = await dialect.openSnapshot(['a', 'b']);
    try {
      const a = snap.exportTable('a');
      const first = await new Promise<Buffer>((resolve) => a.stream.once('data', resolve));
      a.stream.pause();
      // 'a' now has an open cursor on the snapshot connection; exporting 'b' must not touch the catalog.
      const b = snap.exportTable('b');
      const [restA, tb] = await Promise.all([readAll(a.stream), readAll(b.stream)]);
      a.stream.resume();
      expect(Buffer.concat([first, restA]).toString().split('\n')).toHaveLength(3001);
      expect(tb.toString().split('\n')[999]).toBe('[1000,1000]');
    } finally {
      await snap.close();
    }
  });

  it('fails a stream that is still being read when the snapshot closes; closing twice is safe', async () => {
    const snap = await dialect.openSnapshot(['a']);
    const exp = snap.exportTable('a');
    const reading = readAll(exp.stream);
    await new Promise((r) => setImmediate(r));
    await snap.close();
    await expect(reading).rejects.toThrow('SQLite snapshot closed while the table was still being read');
    await expect(snap.close()).resolves.toBeUndefined();
    expect(() => snap.exportTable('a')).toThrow('SQLite snapshot is closed');
    // The connection really is gone: a writer can checkpoint and truncate the WAL.
    const writer = rawConnection(db.url);
    expect(writer.pragma('wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
    writer.close();
  });

  it('names unknown tables', async () => {
    await expect(dialect.openSnapshot(['a', 'nope'])).rejects.toThrow('SQLite table(s) not found: nope');
    const snap = await dialect.openSnapshot(['a']);
    expect(() => snap.exportTable('b')).toThrow('SQLite table b is not in this snapshot');
    await snap.close();
  });

  it('schema SQL keeps only the views buildable from the tables in scope', async () => {
    const snap = await dialect.openSnapshot(['a', 'b']);
    const sql = await snap.schemaSql();
    // Neither table counts with AUTOINCREMENT.
    expect(await snap.sequences()).toEqual([]);
    await snap.close();
    expect(sql).toContain('CREATE VIEW a_only');
    expect(sql).not.toContain('a_and_outside');
    expect(sql).not.toContain('CREATE TABLE outside');
  });

  describe('rows SQLite cannot encode itself come out as encodeRow gives them', () => {
    const expectedLines = (url: string, table: string, withRowid = false): string => {
      const conn = rawConnection(url);
      try {
        return (
          conn
            .prepare(`SELECT ${withRowid ? 'rowid, ' : ''}* FROM "${table}" ORDER BY rowid`)
            .raw(true)
            .safeIntegers(true)
            .all() as unknown[][]
        )
          .map(encodeRow)
          .join('');
      } finally {
        conn.close();
      }
    };

    it('a table wider than json_array takes', async () => {
      const cols = Array.from({ length: MAX_SQL_ROW_COLUMNS + 1 }, (_, i) => `c${i}`);
      exec(db.url, `CREATE TABLE wide (${cols.join(', ')})`);
      const insert = rawConnection(db.url);
      insert
        .prepare(`INSERT INTO wide VALUES (${cols.map(() => '?').join(', ')})`)
        .run(...cols.map((_, i) => [BigInt(i), `t${i}`, i + 0.5, null, 1][i % 5]));
      insert.close();
      const out = await exportAll(dialect, ['wide']);
      // No INTEGER PRIMARY KEY: the rowid travels first.
      expect(out.data.get('wide')?.toString('utf8')).toBe(expectedLines(db.url, 'wide', true));
      expect(out.data.get('wide')?.toString('utf8')).toContain('[1,0,"t1",2.5,null,{"$f":"1"},5,');
    });

    it('a UTF-16 database: its text as encodeRow gives it, and a lone surrogate fails the export naming the table', async () => {
      const utf16 = createSqliteDatabase();
      exec(utf16.url, `PRAGMA encoding = 'UTF-16le'; CREATE TABLE u (id INTEGER PRIMARY KEY, t TEXT);`);
      const conn = rawConnection(utf16.url);
      conn.prepare(`INSERT INTO u VALUES (1, 'hé'), (2, CAST(? AS TEXT))`).run(Buffer.from([0x00, 0xd8, 0x41, 0x00]));
      conn.close();
      const d = createSqliteDialect(utf16.url);
      try {
        // It has no UTF-8 form: carrying U+FFFD instead would silently change the data.
        await expect(exportAll(d, ['u'])).rejects.toThrow(
          /table u row 2, value 2: UTF-16 text with an unpaired surrogate/,
        );
        exec(utf16.url, `DELETE FROM u WHERE id = 2`);
        const out = await exportAll(d, ['u']);
        expect(out.data.get('u')?.toString('utf8')).toBe(expectedLines(utf16.url, 'u'));
        expect(out.data.get('u')?.toString('utf8')).toBe('[1,"hé"]\n');
      } finally {
        await d.close();
        await utf16.drop();
      }
    });
  });
});
