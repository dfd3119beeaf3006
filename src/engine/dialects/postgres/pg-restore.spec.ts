/**
 * Restore modes and plan against a real PostgreSQL: each test backs a database up, changes
 * the live rows (update, delete, insert), then restores or plans and checks every row.
 */
import { Readable } from 'node:stream';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { restoreInput, sql, takeBackup, type Backup } from './pg-spec-helpers';

const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, tags jsonb, doc json);
  CREATE TABLE a (id int PRIMARY KEY, b_id int);
  CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));
  ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);
  CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree (id) ON DELETE CASCADE);
  CREATE TABLE log (at int, what text);
  CREATE TABLE ids (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
  CREATE TABLE strongroom_audit_events (seq bigint PRIMARY KEY, body text NOT NULL);
  CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'audit events are append-only (%)', TG_OP; END $$;
  CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON strongroom_audit_events FOR EACH ROW EXECUTE FUNCTION refuse_change();
  CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON strongroom_audit_events EXECUTE FUNCTION refuse_change();
`;

async function seed(url: string): Promise<void> {
  await sql(url, SCHEMA);
  await sql(url, `INSERT INTO items SELECT g, 'item ' || g, g * 10, jsonb_build_object('g', g), '{"g" : 1}' FROM generate_series(1, 5) g`);
  await sql(url, `INSERT INTO a VALUES (1, NULL), (2, NULL); INSERT INTO b VALUES (1, 2), (2, 1); UPDATE a SET b_id = id`);
  await sql(url, `INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 4)`);
  await sql(url, `INSERT INTO log VALUES (1, 'x'), (2, 'y')`);
  await sql(url, `INSERT INTO ids (label) VALUES ('one'), ('two')`);
  await sql(url, `INSERT INTO strongroom_audit_events VALUES (1, 'created'), (2, 'restored')`);
}

async function rows(url: string, table: string): Promise<unknown[]> {
  return sql(url, `SELECT * FROM "${table}" ORDER BY 1`);
}

/** Live changes after the backup: row 2 updated, row 3 deleted, row 6 inserted. */
async function drift(url: string): Promise<void> {
  await sql(url, `UPDATE items SET qty = -1 WHERE id = 2; DELETE FROM items WHERE id = 3; INSERT INTO items VALUES (6, 'new', 60, NULL, NULL)`);
}

function failingHalfWay(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield bytes.subarray(0, Math.floor(bytes.length / 2));
      throw new Error('part 0003.rows: authentication tag mismatch');
    })(),
  );
}

describe('PostgreSQL restore and plan', () => {
  let db: TestDatabase;
  let d: PostgresDialect;
  let backup: Backup;
  let original: Record<string, unknown[]>;

  beforeEach(async () => {
    db = await createPgDatabase('restore');
    await seed(db.url);
    d = createPostgresDialect(db.url);
    backup = await takeBackup(d);
    original = {};
    for (const t of backup.tables) original[t.name] = await rows(db.url, t.name);
  });

  afterEach(async () => {
    await d.close();
    await db.drop();
  });

  it('replace leaves the table exactly as in the backup', async () => {
    await drift(db.url);
    const res = await d.restore(restoreInput(backup, 'replace', ['items']));
    expect(res).toEqual([{ name: 'items', rowsWritten: 5 }]);
    expect(await rows(db.url, 'items')).toEqual(original.items);
    const again = await takeBackup(d, ['items']);
    expect(again.data.get('items')!.sha256).toBe(backup.data.get('items')!.sha256);
  });

  it('merge upserts by key and keeps rows the backup lacks', async () => {
    await drift(db.url);
    const res = await d.restore(restoreInput(backup, 'merge', ['items']));
    expect(res).toEqual([{ name: 'items', rowsWritten: 2 }]);
    expect(await rows(db.url, 'items')).toEqual([...original.items, { id: 6, name: 'new', qty: 60, tags: null, doc: null }]);
  });

  it('missing-only inserts absent keys and touches nothing else', async () => {
    await drift(db.url);
    const res = await d.restore(restoreInput(backup, 'missing-only', ['items']));
    expect(res).toEqual([{ name: 'items', rowsWritten: 1 }]);
    const live = (await rows(db.url, 'items')) as { id: number; qty: number }[];
    expect(live.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(live.find((r) => r.id === 2)!.qty).toBe(-1);
  });

  it('plans exact counts for each mode and writes nothing', async () => {
    await drift(db.url);
    const before = await takeBackup(d);
    expect(await d.plan(restoreInput(backup, 'replace', ['items']))).toEqual([{ name: 'items', insert: 1, update: 1, delete: 1, unchanged: 3 }]);
    expect(await d.plan(restoreInput(backup, 'merge', ['items']))).toEqual([{ name: 'items', insert: 1, update: 1, delete: 0, unchanged: 3 }]);
    expect(await d.plan(restoreInput(backup, 'missing-only', ['items']))).toEqual([{ name: 'items', insert: 1, update: 0, delete: 0, unchanged: 4 }]);
    expect(await d.plan(restoreInput(backup, 'replace', ['log']))).toEqual([{ name: 'log', insert: 2, update: 0, delete: 2, unchanged: 0 }]);
    const after = await takeBackup(d);
    for (const [name, data] of before.data) expect({ name, sha: after.data.get(name)!.sha256 }).toEqual({ name, sha: data.sha256 });
    const [temp] = await sql<{ n: string }>(db.url, `SELECT count(*)::text AS n FROM pg_class WHERE relname LIKE 'strongroom_stage_%'`);
    expect(temp.n).toBe('0');
  });

  it('a row stream failing half-way leaves every table as it was', async () => {
    await drift(db.url);
    const before = await takeBackup(d);
    const input = restoreInput(backup, 'replace', ['tree', 'items', 'log']);
    const items = input.tables.find((t) => t.name === 'items')!;
    items.open = async () => failingHalfWay(backup.data.get('items')!.bytes);
    // items comes after tree and log have been written in the same call.
    input.tables.sort((x) => (x.name === 'items' ? 1 : -1));
    await expect(d.restore(input)).rejects.toThrow(/items.*authentication tag mismatch/);
    const after = await takeBackup(d);
    for (const [name, data] of before.data) expect({ name, sha: after.data.get(name)!.sha256 }).toEqual({ name, sha: data.sha256 });
  });

  it('refuses merge and missing-only on a table without a primary key, naming it', async () => {
    await expect(d.restore(restoreInput(backup, 'merge', ['log']))).rejects.toThrow('table "log" has no primary key');
    await expect(d.plan(restoreInput(backup, 'missing-only', ['log']))).rejects.toThrow('table "log" has no primary key');
  });

  it('restores FK cycles and self-references in any order and mode', async () => {
    await sql(db.url, `DELETE FROM tree WHERE id = 1; UPDATE a SET b_id = NULL; DELETE FROM b; DELETE FROM a`);
    const input = restoreInput(backup, { a: 'merge', b: 'replace', tree: 'replace' }, ['a', 'b', 'tree']);
    input.tables.reverse();
    await d.restore(input);
    for (const t of ['a', 'b', 'tree']) expect(await rows(db.url, t)).toEqual(original[t]);
    // The constraints are back and enforced.
    await expect(sql(db.url, `INSERT INTO b VALUES (9, 99)`)).rejects.toThrow(/foreign key/);
    // ON DELETE CASCADE did not fire while the tree was replaced.
    expect(await rows(db.url, 'tree')).toHaveLength(4);
  });

  it('fails clearly when the restored rows break a foreign key, and changes nothing', async () => {
    await sql(db.url, `INSERT INTO a VALUES (3, NULL); INSERT INTO b VALUES (3, 3)`);
    await expect(d.restore(restoreInput(backup, 'replace', ['a', 'b']))).resolves.toHaveLength(2);
    await sql(db.url, `INSERT INTO a VALUES (3, NULL); INSERT INTO b VALUES (3, 3)`);
    // b merged keeps row 3 which references a row that replace removes from a.
    await expect(d.restore(restoreInput(backup, { a: 'replace', b: 'merge' }, ['a', 'b']))).rejects.toThrow(/foreign key "b_a_id_fkey" on table "b"/);
    expect(await rows(db.url, 'a')).toHaveLength(3);
  });

  it('keeps rows of a table outside the scope that reference a replaced table', async () => {
    await sql(db.url, `CREATE TABLE orders (id int PRIMARY KEY, item int REFERENCES items (id)); INSERT INTO orders VALUES (1, 4)`);
    await drift(db.url);
    await d.restore(restoreInput(backup, 'replace', ['items']));
    expect(await rows(db.url, 'items')).toEqual(original.items);
    expect(await rows(db.url, 'orders')).toEqual([{ id: 1, item: 4 }]);
    await sql(db.url, `INSERT INTO items VALUES (6, 'new', 60, NULL, NULL); INSERT INTO orders VALUES (2, 6)`);
    // The backup lacks item 6, which orders still references: the restore fails and changes nothing.
    await expect(d.restore(restoreInput(backup, 'replace', ['items']))).rejects.toThrow(/items.*foreign key/);
    expect(await rows(db.url, 'orders')).toHaveLength(2);
  });

  it('restores the append-only audit table missing-only with its triggers on, and refuses other modes', async () => {
    await sql(db.url, `INSERT INTO strongroom_audit_events VALUES (3, 'later')`);
    await sql(db.url, `ALTER TABLE strongroom_audit_events DISABLE TRIGGER audit_no_update; DELETE FROM strongroom_audit_events WHERE seq = 1; ALTER TABLE strongroom_audit_events ENABLE TRIGGER audit_no_update`);
    const res = await d.restore(restoreInput(backup, { strongroom_audit_events: 'missing-only', items: 'replace' }, ['strongroom_audit_events', 'items']));
    expect(res.find((r) => r.name === 'strongroom_audit_events')).toEqual({ name: 'strongroom_audit_events', rowsWritten: 1 });
    expect(((await rows(db.url, 'strongroom_audit_events')) as { seq: string }[]).map((r) => r.seq)).toEqual(['1', '2', '3']);
    await expect(d.restore(restoreInput(backup, 'replace', ['strongroom_audit_events']))).rejects.toThrow(/append-only/);
    await expect(sql(db.url, `DELETE FROM strongroom_audit_events`)).rejects.toThrow(/append-only/);
  });

  it('merges identity ALWAYS keys and moves the sequence past them', async () => {
    await sql(db.url, `DELETE FROM ids`);
    const res = await d.restore(restoreInput(backup, 'merge', ['ids']));
    expect(res).toEqual([{ name: 'ids', rowsWritten: 2 }]);
    const [next] = await sql<{ id: string }>(db.url, `INSERT INTO ids (label) VALUES ('three') RETURNING id::text`);
    expect(next.id).toBe('3');
  });

  it('never moves a sequence backwards', async () => {
    await sql(db.url, `INSERT INTO ids (label) SELECT 'x' FROM generate_series(1, 10)`);
    await d.restore(restoreInput(backup, 'replace', ['ids']));
    const [next] = await sql<{ id: string }>(db.url, `INSERT INTO ids (label) VALUES ('after') RETURNING id::text`);
    expect(next.id).toBe('13');
  });

  it('rejects rows encoded by another engine', async () => {
    const input = { ...restoreInput(backup, 'replace', ['items']), encoding: 'sqlite-ndjson' as const };
    await expect(d.restore(input)).rejects.toThrow(/sqlite-ndjson/);
  });
});
