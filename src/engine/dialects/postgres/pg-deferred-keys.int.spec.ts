/**
 * A restore that checks foreign keys per written row (a scope's: foreignKeyChecks 'written-rows')
 * keeps each key in place instead of dropping and re-adding it (which re-validated whole tables):
 * same constraint (same oid), same declared deferrability, still validated; rows may arrive in any
 * order (a cycle, a self-reference); and a row that breaks a key still fails the whole restore.
 */
import { Readable } from 'node:stream';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import type { RestoreInput } from '../dialect';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { restoreInput, sql, takeBackup, type Backup } from './pg-spec-helpers';

const SCHEMA = `
  CREATE TABLE a (id int PRIMARY KEY, b_id int);
  CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));
  ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b (id) DEFERRABLE INITIALLY IMMEDIATE;
  CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree (id) DEFERRABLE INITIALLY DEFERRED);
  INSERT INTO a VALUES (1, NULL), (2, NULL); INSERT INTO b VALUES (1, 2), (2, 1); UPDATE a SET b_id = id;
  INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2);
`;

interface KeyState {
  name: string;
  oid: number;
  deferrable: boolean;
  deferred: boolean;
  validated: boolean;
}

function keys(url: string): Promise<KeyState[]> {
  return sql<KeyState>(
    url,
    `SELECT conname AS name, oid::int AS oid, condeferrable AS deferrable, condeferred AS deferred, convalidated AS validated
     FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY conname`,
  );
}

/** Children before their parents (b before a, tree's children first): only a deferred check lets that load. */
function childFirst(b: Backup, extra: Partial<RestoreInput> = {}): RestoreInput {
  const input = restoreInput(b, 'merge', ['a', 'b', 'tree']);
  const order = ['b', 'a', 'tree'];
  input.tables.sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name));
  return { ...input, ...extra };
}

describe('PostgreSQL restore checking foreign keys per written row', () => {
  let seeded: TestDatabase;
  let db: TestDatabase;
  let d: PostgresDialect;
  let backup: Backup;

  beforeAll(async () => {
    seeded = await createPgDatabase('fkrowstpl');
    await sql(seeded.url, SCHEMA);
    const source = createPostgresDialect(seeded.url, { restoreParallel: 1 });
    try {
      backup = await takeBackup(source, ['a', 'b', 'tree']);
    } finally {
      await source.close();
    }
  });

  afterAll(async () => {
    await seeded.drop();
  });

  beforeEach(async () => {
    db = await createPgDatabase('fkrows', { template: seeded });
    d = createPostgresDialect(db.url, { restoreParallel: 1 });
    // Deleted since the backup: the cycle's rows and the tree's leaves, so the merge inserts them again.
    await sql(
      db.url,
      `UPDATE a SET b_id = NULL; DELETE FROM b; DELETE FROM a WHERE id = 2; DELETE FROM tree WHERE id > 1`,
    );
  });

  afterEach(async () => {
    await d.close();
    await db.drop();
  });

  it('merges in any order and leaves every key as it was declared, never re-added', async () => {
    const before = await keys(db.url);
    await d.restore(childFirst(backup, { foreignKeyChecks: 'written-rows' }));
    expect(await sql(db.url, `SELECT * FROM a ORDER BY id`)).toEqual([
      { id: 1, b_id: 1 },
      { id: 2, b_id: 2 },
    ]);
    expect(await sql(db.url, `SELECT * FROM b ORDER BY id`)).toEqual([
      { id: 1, a_id: 2 },
      { id: 2, a_id: 1 },
    ]);
    expect(await sql(db.url, `SELECT id, parent FROM tree ORDER BY id`)).toEqual([
      { id: 1, parent: null },
      { id: 2, parent: 1 },
      { id: 3, parent: 2 },
    ]);
    expect(await keys(db.url)).toEqual(before);
    expect(before.map((k) => [k.name, k.deferrable, k.deferred, k.validated])).toEqual([
      ['a_b_fk', true, false, true],
      ['b_a_id_fkey', false, false, true],
      ['tree_parent_fkey', true, true, true],
    ]);
  });

  it('by default lifts the keys and re-adds them (new constraints, validated whole)', async () => {
    const before = await keys(db.url);
    await d.restore(childFirst(backup));
    const after = await keys(db.url);
    expect(after.map(({ oid: _oid, ...k }) => k)).toEqual(before.map(({ oid: _oid, ...k }) => k));
    expect(after.map((k) => k.oid)).not.toEqual(before.map((k) => k.oid));
  });

  it('a written row that breaks a key fails the whole restore and changes nothing', async () => {
    const before = await keys(db.url);
    const rowsBefore = await sql(db.url, `SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b`);
    const input = childFirst(backup, { foreignKeyChecks: 'written-rows' });
    // A b row pointing at an a row that neither the backup nor the target holds.
    const b = input.tables.find((t) => t.name === 'b')!;
    // Written as text: the rows are spelled out here.
    delete b.rowFormat;
    b.open = async () => Readable.from([Buffer.from('1\t2\n2\t1\n9\t99\n')]);
    await expect(d.restore(input)).rejects.toThrow(/foreign key does not hold[\s\S]*b_a_id_fkey/);
    expect(await sql(db.url, `SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b`)).toEqual(
      rowsBefore,
    );
    expect(await keys(db.url)).toEqual(before);
  });
});
