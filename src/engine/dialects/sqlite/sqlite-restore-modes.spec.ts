import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import type { RestoreMode } from '../dialect';
import { createSqliteDialect, type SqliteDialect } from './sqlite.dialect';
import { exec, exportAll, query, rawConnection, restoreInputFor, type Exported } from './sqlite-test-support';

const SCHEMA = `
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, score REAL);
CREATE TABLE tags (person_id INTEGER NOT NULL REFERENCES people (id), tag TEXT NOT NULL, PRIMARY KEY (person_id, tag)) WITHOUT ROWID;
CREATE TABLE notes (body TEXT);
`;

/** Edits made to the live database after the backup: one changed, one deleted and one new row per table. */
const LIVE_EDITS = `
UPDATE people SET name = 'BOB' WHERE id = 2;
DELETE FROM tags WHERE person_id = 3; DELETE FROM people WHERE id = 3;
INSERT INTO people VALUES (6, 'frank', 6.5);
INSERT INTO tags VALUES (6, 'new'), (1, 'extra');
DELETE FROM notes WHERE body = 'n1'; INSERT INTO notes VALUES ('n-live');
`;

describe('SQLite dialect: restore modes and plan', () => {
  const dbs: TestDatabase[] = [];
  const dialects: SqliteDialect[] = [];
  let backup: Exported;

  const open = (db: TestDatabase): SqliteDialect => {
    const d = createSqliteDialect(db.url);
    dialects.push(d);
    return d;
  };

  /** A database holding the backed-up data, then edited the way a live database drifts. */
  const editedLive = async (): Promise<{ db: TestDatabase; dialect: SqliteDialect }> => {
    const db = createSqliteDatabase();
    dbs.push(db);
    const dialect = open(db);
    await dialect.applySchema(backup.schemaSql);
    await dialect.restore(restoreInputFor(backup, 'replace'));
    exec(db.url, LIVE_EDITS);
    return { db, dialect };
  };

  const people = (url: string): unknown[] =>
    query(url, 'SELECT id, name, score FROM people ORDER BY id').map((r) => Object.values(r));

  beforeAll(async () => {
    const db = createSqliteDatabase();
    dbs.push(db);
    exec(db.url, SCHEMA);
    exec(
      db.url,
      `
      INSERT INTO people VALUES (1, 'alice', 1.5), (2, 'bob', 2.5), (3, 'carol', 3.5), (4, 'dave', NULL), (5, 'eve', 5);
      INSERT INTO tags VALUES (1, 'a'), (2, 'b'), (3, 'c'), (3, 'd');
      INSERT INTO notes VALUES ('n1'), ('n2'), (NULL);`,
    );
    backup = await exportAll(open(db));
  });

  afterAll(async () => {
    for (const d of dialects) await d.close();
    for (const db of dbs) await db.drop();
  });

  const cases: {
    mode: RestoreMode;
    people: object;
    tags: object;
    written: Record<string, number>;
    after: unknown[];
  }[] = [
    {
      mode: 'replace',
      people: { insert: 1, update: 1, delete: 1, unchanged: 3 },
      tags: { insert: 2, update: 0, delete: 2, unchanged: 2 },
      written: { people: 5, tags: 4 },
      after: [
        [1n, 'alice', 1.5],
        [2n, 'bob', 2.5],
        [3n, 'carol', 3.5],
        [4n, 'dave', null],
        [5n, 'eve', 5],
      ],
    },
    {
      mode: 'merge',
      people: { insert: 1, update: 1, delete: 0, unchanged: 3 },
      tags: { insert: 2, update: 0, delete: 0, unchanged: 2 },
      written: { people: 2, tags: 2 },
      after: [
        [1n, 'alice', 1.5],
        [2n, 'bob', 2.5],
        [3n, 'carol', 3.5],
        [4n, 'dave', null],
        [5n, 'eve', 5],
        [6n, 'frank', 6.5],
      ],
    },
    {
      mode: 'missing-only',
      people: { insert: 1, update: 0, delete: 0, unchanged: 4 },
      tags: { insert: 2, update: 0, delete: 0, unchanged: 2 },
      written: { people: 1, tags: 2 },
      after: [
        [1n, 'alice', 1.5],
        [2n, 'BOB', 2.5],
        [3n, 'carol', 3.5],
        [4n, 'dave', null],
        [5n, 'eve', 5],
        [6n, 'frank', 6.5],
      ],
    },
  ];

  it.each(cases)('$mode: plan counts are exact and the restore does what they say', async (c) => {
    const { db, dialect } = await editedLive();
    const input = () => restoreInputFor(backup, c.mode, { only: ['people', 'tags'] });

    const watcher = rawConnection(db.url);
    const versionBefore = watcher.pragma('data_version', { simple: true });
    const before = await exportAll(dialect);
    const plan = await dialect.plan(input());
    expect(plan).toEqual([
      { name: 'people', ...c.people },
      { name: 'tags', ...c.tags },
    ]);
    // Plan wrote nothing another connection could see, and left the content as it was.
    expect(watcher.pragma('data_version', { simple: true })).toBe(versionBefore);
    watcher.close();
    const afterPlan = await exportAll(dialect);
    for (const [name, bytes] of before.data) expect(Buffer.compare(afterPlan.data.get(name) as Buffer, bytes)).toBe(0);

    const results = await dialect.restore(input());
    expect(results).toEqual([
      { name: 'people', rowsWritten: c.written.people },
      { name: 'tags', rowsWritten: c.written.tags },
    ]);
    expect(people(db.url)).toEqual(c.after);
    if (c.mode === 'replace') {
      const again = await exportAll(dialect, ['people', 'tags']);
      for (const name of ['people', 'tags'])
        expect(Buffer.compare(again.data.get(name) as Buffer, backup.data.get(name) as Buffer)).toBe(0);
    } else {
      // Rows the backup lacks stay.
      expect(
        query(db.url, 'SELECT person_id, tag FROM tags WHERE tag IN (?, ?) ORDER BY tag', 'extra', 'new'),
      ).toHaveLength(2);
    }
    // A repeated merge or missing-only restore finds nothing left to write.
    if (c.mode !== 'replace') {
      expect((await dialect.restore(input())).map((r) => r.rowsWritten)).toEqual([0, 0]);
      expect((await dialect.plan(input())).every((p) => p.insert === 0 && p.update === 0 && p.delete === 0)).toBe(true);
    }
  });

  it('replace works on a table without a primary key: rows keep their rowids, and plan matches rows on them', async () => {
    const { db, dialect } = await editedLive();
    const before = query(db.url, 'SELECT rowid AS id, body FROM notes ORDER BY rowid');
    const input = () => restoreInputFor(backup, 'replace', { only: ['notes'] });
    const plan = await dialect.plan(input());
    expect(await dialect.restore(input())).toEqual([{ name: 'notes', rowsWritten: 3 }]);
    const after = query(db.url, 'SELECT rowid AS id, body FROM notes ORDER BY rowid');
    expect(after.map((r) => r.body)).toEqual(['n1', 'n2', null]);
    // The rowids are the backup's, not renumbered.
    expect(after.map((r) => r.id)).toEqual(
      backup.data
        .get('notes')
        ?.toString()
        .trim()
        .split('\n')
        .map((l) => BigInt(JSON.parse(l)[0])),
    );
    // The dry run said what the restore did, row by row (matched on rowid).
    const key = (r: Record<string, unknown>) => JSON.stringify([String(r.id), r.body]);
    const ids = (rows: Record<string, unknown>[]) => new Set(rows.map((r) => String(r.id)));
    const kept = after.filter((r) => ids(before).has(String(r.id)));
    const same = kept.filter((r) => before.some((b) => key(b) === key(r))).length;
    expect(plan).toEqual([
      {
        name: 'notes',
        insert: after.length - kept.length,
        update: kept.length - same,
        delete: before.filter((b) => !ids(after).has(String(b.id))).length,
        unchanged: same,
      },
    ]);
  });

  it.each<RestoreMode>(['merge', 'missing-only'])(
    '%s on a table without a primary key fails clearly and writes nothing',
    async (mode) => {
      const { db, dialect } = await editedLive();
      const before = await exportAll(dialect);
      const input = () => restoreInputFor(backup, { people: 'replace', tags: 'replace', notes: mode });
      await expect(dialect.restore(input())).rejects.toThrow(
        `Cannot restore table notes in ${mode} mode: it has no primary key`,
      );
      await expect(dialect.plan(input())).rejects.toThrow(/table notes .*no primary key/);
      const after = await exportAll(dialect);
      for (const [name, bytes] of before.data) expect(Buffer.compare(after.data.get(name) as Buffer, bytes)).toBe(0);
      expect(people(db.url)).toContainEqual([6n, 'frank', 6.5]);
    },
  );

  it('merge updates a row whose only change is letter case, though the column collates NOCASE', async () => {
    const { db, dialect } = await editedLive();
    const input = () => restoreInputFor(backup, 'merge', { only: ['people'] });
    expect((await dialect.plan(input()))[0]).toMatchObject({ update: 1 });
    await dialect.restore(input());
    expect(people(db.url)).toContainEqual([2n, 'bob', 2.5]);
  });

  it('refuses rows from another engine and tables or columns the target lacks', async () => {
    const { dialect } = await editedLive();
    await expect(dialect.restore({ ...restoreInputFor(backup, 'replace'), encoding: 'pg-copy-text' })).rejects.toThrow(
      /pg-copy-text/,
    );
    const renamed = restoreInputFor(backup, 'replace', { only: ['people'] });
    renamed.tables[0] = { ...renamed.tables[0], name: 'persons' };
    await expect(dialect.restore(renamed)).rejects.toThrow('Cannot restore table persons: it does not exist');
    const extraCol = restoreInputFor(backup, 'replace', { only: ['people'] });
    const t = extraCol.tables[0].table;
    extraCol.tables[0] = {
      ...extraCol.tables[0],
      table: { ...t, columns: [...t.columns, { name: 'age', type: 'INTEGER', nullable: true, generated: false }] },
    };
    await expect(dialect.restore(extraCol)).rejects.toThrow(
      'Cannot restore table people: column age from the backup does not exist',
    );
  });
});
