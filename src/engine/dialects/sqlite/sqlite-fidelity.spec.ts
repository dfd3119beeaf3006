/**
 * Byte-for-byte text, file settings, journal mode, virtual tables and the inventory, on real
 * SQLite files through the dialect (the corpus in test/fidelity runs the whole path).
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createSqliteDialect, type SqliteDialect } from './sqlite.dialect';
import { fixInvalidText, registerSqlValueFunction, sqlRowJsonBytes, decodeRow, TextBytes } from './sqlite-row-codec';
import { classifyVirtualTable } from './sqlite-virtual';
import { exec, exportAll, query, rawConnection, restoreInputFor } from './sqlite-test-support';

const path = (db: TestDatabase) => db.url.slice('sqlite:'.length);

describe('SQLite fidelity', () => {
  const dbs: TestDatabase[] = [];
  const dialects: SqliteDialect[] = [];
  const fresh = (sql = ''): { db: TestDatabase; dialect: SqliteDialect } => {
    const db = createSqliteDatabase();
    if (sql) exec(db.url, sql);
    const dialect = createSqliteDialect(db.url);
    dbs.push(db);
    dialects.push(dialect);
    return { db, dialect };
  };
  afterAll(async () => {
    for (const d of dialects) await d.close();
    for (const d of dbs) await d.drop();
  });

  it('turns exactly the invalid UTF-8 strings of a json_array line into $t tags of their bytes (property)', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE v (a, b, c)');
      registerSqlValueFunction(db);
      const insert = db.prepare('INSERT INTO v VALUES (CAST(? AS TEXT), ?, CAST(? AS TEXT))');
      const line = db.prepare(`SELECT ${sqlRowJsonBytes(['a', 'b', 'c'])} FROM v`).pluck();
      const bytesOf = db.prepare(`SELECT CAST(a AS BLOB) AS a, CAST(c AS BLOB) AS c FROM v`);
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 30 }),
          fc.oneof(
            fc.constant(null),
            fc.double(),
            fc.uint8Array().map((a) => Buffer.from(a)),
          ),
          fc.uint8Array({ maxLength: 30 }),
          (a, b, c) => {
            db.exec('DELETE FROM v');
            insert.run(Buffer.from(a), b, Buffer.from(c));
            const fixed = fixInvalidText(line.get() as Buffer);
            const values = decodeRow(fixed.toString('utf8'), 3, () => 'row');
            const stored = bytesOf.get() as { a: Buffer; c: Buffer };
            for (const [v, bytes] of [
              [values[0], stored.a],
              [values[2], stored.c],
            ] as const) {
              const got = v instanceof TextBytes ? v.bytes : Buffer.from(v as string, 'utf8');
              expect(Buffer.compare(got, bytes)).toBe(0);
            }
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      db.close();
    }
  });

  it('keeps TEXT that is not valid UTF-8 byte for byte through export, restore and dry run', async () => {
    const { db, dialect } = fresh(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w);
      INSERT INTO t VALUES (1, CAST(x'41ff42' AS TEXT), CAST(x'eda080' AS TEXT)), (2, 'fine', CAST(x'c3' AS TEXT));`);
    const backup = await exportAll(dialect);
    expect(backup.data.get('t')?.toString()).toBe('[1,{"$t":"Qf9C"},{"$t":"7aCA"}]\n[2,"fine",{"$t":"ww=="}]\n');
    const plan = await dialect.plan(restoreInputFor(backup, 'replace'));
    // Untouched rows are unchanged, not "updates" of a re-encoded value.
    expect(plan).toEqual([{ name: 't', insert: 0, update: 0, delete: 0, unchanged: 2 }]);
    exec(db.url, 'DELETE FROM t');
    await dialect.restore(restoreInputFor(backup, 'replace'));
    expect(
      query(db.url, `SELECT typeof(v) AS tv, hex(v) AS v, typeof(w) AS tw, hex(w) AS w FROM t ORDER BY id`),
    ).toEqual([
      { tv: 'text', v: '41FF42', tw: 'text', w: 'EDA080' },
      { tv: 'text', v: '66696E65', tw: 'text', w: 'C3' },
    ]);
  });

  it('leaves a rollback-journal file in its journal mode through backup and restore', async () => {
    const { db, dialect } = fresh(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');`);
    const backup = await exportAll(dialect);
    await dialect.restore(restoreInputFor(backup, 'replace'));
    await dialect.plan(restoreInputFor(backup, 'replace'));
    const conn = rawConnection(db.url);
    expect(conn.pragma('journal_mode', { simple: true })).toBe('delete');
    conn.close();
  });

  it('gives user_version, application_id, page size, auto-vacuum, encoding and WAL back to a new file', async () => {
    const { dialect } = fresh(`PRAGMA encoding = 'UTF-16le'; PRAGMA page_size = 8192; PRAGMA auto_vacuum = FULL;
      CREATE TABLE t (id INTEGER PRIMARY KEY); PRAGMA journal_mode = WAL; PRAGMA user_version = 42; PRAGMA application_id = 99;`);
    const backup = await exportAll(dialect);
    const target = fresh();
    await target.dialect.applySchema(backup.schemaSql);
    const conn = new Database(path(target.db), { readonly: true });
    try {
      expect(
        ['encoding', 'page_size', 'auto_vacuum', 'journal_mode', 'user_version', 'application_id'].map((p) =>
          conn.pragma(p, { simple: true }),
        ),
      ).toEqual(['UTF-16le', 8192, 1, 'wal', 42, 99]);
    } finally {
      conn.close();
    }
  });

  it('classifies virtual tables by where their data lives', () => {
    const shadows = ['f_data', 'f_idx', 'f_content', 'f_docsize', 'f_config'];
    expect(classifyVirtualTable('f', `CREATE VIRTUAL TABLE f USING fts5(a, b)`, shadows)).toMatchObject({
      kind: 'rows',
      carriesRowid: true,
      carriedShadows: ['f_config'],
    });
    expect(classifyVirtualTable('f', `CREATE VIRTUAL TABLE f USING fts5(a, content='')`, shadows)).toMatchObject({
      kind: 'contentless',
      carriedShadows: shadows,
    });
    expect(
      classifyVirtualTable(
        'f',
        `CREATE VIRTUAL TABLE f USING fts5(a, content = "posts", content_rowid = 'id')`,
        shadows,
      ),
    ).toMatchObject({ kind: 'external', content: 'posts' });
    expect(classifyVirtualTable('f', `CREATE VIRTUAL TABLE f USING fts4(a, content="")`, [])).toMatchObject({
      kind: 'contentless',
    });
    expect(classifyVirtualTable('r', `CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)`, [])).toMatchObject({
      kind: 'rows',
      carriesRowid: false,
    });
    expect(classifyVirtualTable('c', `CREATE VIRTUAL TABLE c USING csv(filename='x.csv')`, [])).toMatchObject({
      kind: 'unsupported',
      module: 'csv',
    });
  });

  it('fails a backup of a virtual table no supported module reads, naming it', async () => {
    const { db, dialect } = fresh('CREATE TABLE ok (id INTEGER PRIMARY KEY)');
    const conn = rawConnection(db.url);
    // A module only this connection knows (better-sqlite3's factory form allows CREATE VIRTUAL TABLE).
    const factory = () => ({
      columns: ['v'],
      *rows() {
        yield { v: 1 };
      },
    });
    conn.table('numbers', factory as unknown as Parameters<typeof conn.table>[1]);
    conn.exec('CREATE VIRTUAL TABLE app_numbers USING numbers(3)');
    conn.close();
    const tables = (await dialect.listTables()).map((t) => t.name);
    expect(tables).toEqual(['app_numbers', 'ok']);
    await expect(dialect.openSnapshot(tables)).rejects.toThrow(
      /virtual table app_numbers uses module numbers, whose data Strongroom cannot back up/,
    );
  });

  it('rebuilds an external-content full-text index after a restore of its content table', async () => {
    const { db, dialect } = fresh(`CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT);
      CREATE VIRTUAL TABLE posts_fts USING fts5(body, content = 'posts', content_rowid = 'id');
      CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN INSERT INTO posts_fts (rowid, body) VALUES (new.id, new.body); END;
      INSERT INTO posts VALUES (1, 'alpha'), (2, 'beta');`);
    const backup = await exportAll(dialect);
    expect([...backup.data.keys()].sort()).toEqual(['posts', 'posts_fts_config']);
    exec(db.url, `INSERT INTO posts VALUES (3, 'gamma')`);
    await dialect.restore(restoreInputFor(backup, 'replace', { only: ['posts'] }));
    expect(query(db.url, `SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'gamma'`)).toEqual([]);
    expect(query(db.url, `SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'beta'`)).toEqual([{ rowid: 2n }]);
    exec(db.url, `INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')`);
  });

  it('deep verify names the first object that differs from the inventory', async () => {
    const { dialect } = fresh(
      `CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE INDEX a_id ON a (id); CREATE TRIGGER a_t AFTER INSERT ON a BEGIN SELECT 1; END;`,
    );
    const snap = await dialect.openSnapshot(['a']);
    const sql = await snap.schemaSql();
    const inventory = await snap.inventory?.(null, { a: 0 });
    await snap.close();
    if (!inventory) throw new Error('a SQLite snapshot keeps an inventory');
    expect(inventory.rows).toEqual({ 'main.a': 0 });
    const scratch = fresh();
    await scratch.dialect.applySchema(sql);
    expect(await scratch.dialect.compareInventory(inventory, ['a'], sql)).toBeNull();
    exec(scratch.db.url, 'DROP TRIGGER a_t');
    expect(await scratch.dialect.compareInventory(inventory, ['a'], sql)).toBe(
      'triggers differ from the inventory (1 in the inventory, 0 restored): trigger a_t is missing from the restored database',
    );
    exec(scratch.db.url, `CREATE TRIGGER a_t AFTER INSERT ON a BEGIN SELECT 1; END; INSERT INTO a VALUES (5)`);
    expect(await scratch.dialect.compareInventory(inventory, ['a'], sql)).toBe(
      'table a has 1 rows restored, 0 in the inventory',
    );
  });
});
