/**
 * Restore modes and plan against a real PostgreSQL: each test backs a database up, changes
 * the live rows (update, delete, insert), then restores or plans and checks every row.
 */
import { Readable } from 'node:stream';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { restoreInTransaction } from './pg-restore';
import { connect } from './pg-session';
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
  await sql(
    url,
    `INSERT INTO items SELECT g, 'item ' || g, g * 10, jsonb_build_object('g', g), '{"g" : 1}' FROM generate_series(1, 5) g`,
  );
  await sql(
    url,
    `INSERT INTO a VALUES (1, NULL), (2, NULL); INSERT INTO b VALUES (1, 2), (2, 1); UPDATE a SET b_id = id`,
  );
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
  await sql(
    url,
    `UPDATE items SET qty = -1 WHERE id = 2; DELETE FROM items WHERE id = 3; INSERT INTO items VALUES (6, 'new', 60, NULL, NULL)`,
  );
}

function failingHalfWay(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield bytes.subarray(0, Math.floor(bytes.length / 2));
      throw new Error('part 0003.rows: authentication tag mismatch');
    })(),
  );
}

/** Every behaviour holds whether the main transaction loads in place or loaders fill shadow tables. */
describe.each([
  ['in place', { restoreParallel: 1 }],
  ['through shadow tables', { restoreParallel: 2, shadowMinBytes: 0 }],
])('PostgreSQL restore and plan (%s)', (_how, options) => {
  let seeded: TestDatabase;
  let db: TestDatabase;
  let d: PostgresDialect;
  let backup: Backup;
  let original: Record<string, unknown[]>;

  // Seeded and backed up once; every test gets its own copy of that database (CREATE DATABASE
  // ... TEMPLATE copies it file by file, tables, rows and oids as they were), so no test sees
  // another's changes, and the backup is the backup of each copy.
  beforeAll(async () => {
    seeded = await createPgDatabase('restoretpl');
    await seed(seeded.url);
    const source = createPostgresDialect(seeded.url, options);
    try {
      backup = await takeBackup(source);
    } finally {
      await source.close();
    }
    original = {};
    for (const t of backup.tables) original[t.name] = await rows(seeded.url, t.name);
  });

  afterAll(async () => {
    await seeded.drop();
  });

  beforeEach(async () => {
    db = await createPgDatabase('restore', { template: seeded });
    d = createPostgresDialect(db.url, options);
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
    expect(await rows(db.url, 'items')).toEqual([
      ...original.items,
      { id: 6, name: 'new', qty: 60, tags: null, doc: null },
    ]);
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
    expect(await d.plan(restoreInput(backup, 'replace', ['items']))).toEqual([
      { name: 'items', insert: 1, update: 1, delete: 1, unchanged: 3 },
    ]);
    expect(await d.plan(restoreInput(backup, 'merge', ['items']))).toEqual([
      { name: 'items', insert: 1, update: 1, delete: 0, unchanged: 3 },
    ]);
    expect(await d.plan(restoreInput(backup, 'missing-only', ['items']))).toEqual([
      { name: 'items', insert: 1, update: 0, delete: 0, unchanged: 4 },
    ]);
    expect(await d.plan(restoreInput(backup, 'replace', ['log']))).toEqual([
      { name: 'log', insert: 2, update: 0, delete: 2, unchanged: 0 },
    ]);
    const after = await takeBackup(d);
    for (const [name, data] of before.data)
      expect({ name, sha: after.data.get(name)!.sha256 }).toEqual({ name, sha: data.sha256 });
    const [temp] = await sql<{ n: string }>(
      db.url,
      `SELECT count(*)::text AS n FROM pg_class WHERE relname LIKE 'strongroom_stage_%'`,
    );
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
    for (const [name, data] of before.data)
      expect({ name, sha: after.data.get(name)!.sha256 }).toEqual({ name, sha: data.sha256 });
  });

  it('refuses merge and missing-only on a table without a primary key, naming it', async () => {
    await expect(d.restore(restoreInput(backup, 'merge', ['log']))).rejects.toThrow('table "log" has no primary key');
    await expect(d.plan(restoreInput(backup, 'missing-only', ['log']))).rejects.toThrow(
      'table "log" has no primary key',
    );
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
    await expect(d.restore(restoreInput(backup, { a: 'replace', b: 'merge' }, ['a', 'b']))).rejects.toThrow(
      /foreign key "b_a_id_fkey" on table "b"/,
    );
    expect(await rows(db.url, 'a')).toHaveLength(3);
  });

  it('validates a foreign key read through its index just as strictly', async () => {
    // An index leading with the referencing column lets the check read both sides in key order.
    await sql(db.url, `CREATE INDEX b_a_id_idx ON b (a_id)`);
    const indexed = await takeBackup(d, ['a', 'b']);
    await sql(db.url, `INSERT INTO a VALUES (3, NULL); INSERT INTO b VALUES (3, 3)`);
    await expect(d.restore(restoreInput(indexed, { a: 'replace', b: 'merge' }, ['a', 'b']))).rejects.toThrow(
      /foreign key "b_a_id_fkey" on table "b"/,
    );
    expect(await rows(db.url, 'b')).toHaveLength(3);
    await sql(db.url, `DELETE FROM b WHERE id = 3`);
    await expect(d.restore(restoreInput(indexed, 'replace', ['a', 'b']))).resolves.toHaveLength(2);
    await expect(sql(db.url, `INSERT INTO b VALUES (9, 99)`)).rejects.toThrow(/b_a_id_fkey/);
  });

  it('keeps rows of a table outside the scope that reference a replaced table', async () => {
    await sql(
      db.url,
      `CREATE TABLE orders (id int PRIMARY KEY, item int REFERENCES items (id)); INSERT INTO orders VALUES (1, 4)`,
    );
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
    await sql(
      db.url,
      `ALTER TABLE strongroom_audit_events DISABLE TRIGGER audit_no_update; DELETE FROM strongroom_audit_events WHERE seq = 1; ALTER TABLE strongroom_audit_events ENABLE TRIGGER audit_no_update`,
    );
    const res = await d.restore(
      restoreInput(backup, { strongroom_audit_events: 'missing-only', items: 'replace' }, [
        'strongroom_audit_events',
        'items',
      ]),
    );
    expect(res.find((r) => r.name === 'strongroom_audit_events')).toEqual({
      name: 'strongroom_audit_events',
      rowsWritten: 1,
    });
    expect(((await rows(db.url, 'strongroom_audit_events')) as { seq: string }[]).map((r) => r.seq)).toEqual([
      '1',
      '2',
      '3',
    ]);
    await expect(d.restore(restoreInput(backup, 'replace', ['strongroom_audit_events']))).rejects.toThrow(
      /append-only/,
    );
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

  describe('indexes rebuilt after the load', () => {
    const INDEXED = `
      CREATE TABLE people (id int, email text NOT NULL, team int, note text,
        CONSTRAINT people_pkey PRIMARY KEY (id) WITH (fillfactor = 90),
        CONSTRAINT people_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED);
      CREATE INDEX people_team_idx ON people (team) INCLUDE (note) WHERE team IS NOT NULL;
      CREATE INDEX people_lower_email_idx ON people (lower(email));
      ALTER TABLE people CLUSTER ON people_lower_email_idx;
      COMMENT ON CONSTRAINT people_email_key ON people IS 'one account per address';
      COMMENT ON INDEX people_lower_email_idx IS 'case-blind lookups';
      CREATE TABLE badges (person int REFERENCES people (id), name text);
      INSERT INTO people SELECT g, 'p' || g || '@example.com', g % 3, 'n' || g FROM generate_series(1, 50) g;
      INSERT INTO badges VALUES (1, 'first'), (50, 'last');`;

    /** Everything a rebuild could lose: definitions, names, constraint flags, comments, clustering, validity. */
    async function structure(url: string): Promise<unknown[]> {
      return sql(
        url,
        `SELECT ic.relname AS index, pg_get_indexdef(i.indexrelid) AS def, i.indisclustered, i.indisvalid,
                k.conname, k.contype, pg_get_constraintdef(k.oid) AS condef, k.condeferrable, k.condeferred,
                obj_description(i.indexrelid, 'pg_class') AS index_comment, obj_description(k.oid, 'pg_constraint') AS constraint_comment
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
         LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
         WHERE c.relname IN ('people', 'badges') ORDER BY 1`,
      );
    }

    it('come back exactly as they were, enforced, with the rows and the foreign keys on them', async () => {
      await sql(db.url, INDEXED);
      const indexed = await takeBackup(d, ['people', 'badges']);
      const before = await structure(db.url);
      expect(before).toHaveLength(4);
      const oids = `SELECT relname, oid::text FROM pg_class WHERE relname LIKE 'people%' AND relkind = 'i' ORDER BY 1`;
      const oidsBefore = await sql<{ relname: string; oid: string }>(db.url, oids);
      await sql(db.url, `DELETE FROM badges; DELETE FROM people WHERE id > 10; UPDATE people SET team = NULL`);
      await d.restore(restoreInput(indexed, 'replace', ['people', 'badges']));
      expect(await structure(db.url)).toEqual(before);
      // Rebuilt means new indexes; the primary key with a storage parameter pg_get_constraintdef cannot express stays.
      const oidsAfter = await sql<{ relname: string; oid: string }>(db.url, oids);
      expect(oidsAfter.map((r, i) => [r.relname, r.oid === oidsBefore[i].oid])).toEqual([
        ['people_email_key', false],
        ['people_lower_email_idx', false],
        ['people_pkey', true],
        ['people_team_idx', false],
      ]);
      const again = await takeBackup(d, ['people', 'badges']);
      for (const t of ['people', 'badges'])
        expect({ t, sha: again.data.get(t)!.sha256 }).toEqual({ t, sha: indexed.data.get(t)!.sha256 });
      await expect(sql(db.url, `INSERT INTO people VALUES (1, 'x@example.com', 1, NULL)`)).rejects.toThrow(
        /people_pkey/,
      );
      await expect(sql(db.url, `INSERT INTO people VALUES (51, 'p1@example.com', 1, NULL)`)).rejects.toThrow(
        /people_email_key/,
      );
      await expect(sql(db.url, `INSERT INTO badges VALUES (99, 'ghost')`)).rejects.toThrow(/badges_person_fkey/);
    });

    it('a unique index the backup rows break fails the restore by name and changes nothing', async () => {
      // A live-only unique rule the backed-up rows do not meet: every backed-up name starts "item".
      await sql(
        db.url,
        `DELETE FROM items WHERE id > 1; CREATE UNIQUE INDEX items_one_name_per_initial ON items (left(name, 4))`,
      );
      const before = await takeBackup(d, ['items']);
      const indexesBefore = await sql(
        db.url,
        `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'items' ORDER BY 1`,
      );
      await expect(d.restore(restoreInput(backup, 'replace', ['items']))).rejects.toThrow(
        /index "items_one_name_per_initial" on table "items".*could not create unique index/,
      );
      const after = await takeBackup(d, ['items']);
      expect(after.data.get('items')!.sha256).toBe(before.data.get('items')!.sha256);
      expect(
        await sql(db.url, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'items' ORDER BY 1`),
      ).toEqual(indexesBefore);
    });

    it('leave an index alone when rebuilding it would lose a setting (replica identity)', async () => {
      await sql(
        db.url,
        `CREATE UNIQUE INDEX items_name_key ON items (name); ALTER TABLE items REPLICA IDENTITY USING INDEX items_name_key`,
      );
      const oid = await sql<{ oid: string }>(db.url, `SELECT 'items_name_key'::regclass::oid::text AS oid`);
      await drift(db.url);
      await d.restore(restoreInput(backup, 'replace', ['items']));
      expect(await rows(db.url, 'items')).toEqual(original.items);
      expect(await sql(db.url, `SELECT 'items_name_key'::regclass::oid::text AS oid`)).toEqual(oid);
      const [ri] = await sql<{ relreplident: string }>(
        db.url,
        `SELECT relreplident FROM pg_class WHERE relname = 'items'`,
      );
      expect(ri.relreplident).toBe('i');
    });
  });

  it('writes replaced rows frozen, so no vacuum has to revisit every page after a restore', async () => {
    await drift(db.url);
    await sql(db.url, `CREATE EXTENSION IF NOT EXISTS pg_visibility`);
    await d.restore(restoreInput(backup, { items: 'replace', tree: 'merge' }, ['items', 'tree']));
    expect(await rows(db.url, 'items')).toEqual(original.items);
    const [items] = await sql<{ pages: string; frozen: string }>(
      db.url,
      `SELECT count(*)::text AS pages, count(*) FILTER (WHERE all_frozen)::text AS frozen FROM pg_visibility_map('items')`,
    );
    expect(items).toEqual({ pages: '1', frozen: '1' });
    // Merged rows are ordinary inserts and updates, not frozen.
    const [tree] = await sql<{ frozen: string }>(
      db.url,
      `SELECT count(*) FILTER (WHERE all_frozen)::text AS frozen FROM pg_visibility_map('tree')`,
    );
    expect(tree.frozen).toBe('0');
  });

  it('replaces a partitioned table (no FREEZE, partition indexes left to PostgreSQL)', async () => {
    await sql(
      db.url,
      `
      CREATE TABLE events (id int, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE INDEX events_what_idx ON events (what);
      INSERT INTO events VALUES (1, '2024-03-01', 'a'), (2, '2025-03-01', 'b'), (3, '2025-06-01', 'c')`,
    );
    const withEvents = await takeBackup(d, ['events']);
    const indexes = `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'events%' ORDER BY 1, 2`;
    const before = await sql(db.url, indexes);
    await sql(db.url, `DELETE FROM events WHERE id = 2; UPDATE events SET what = 'z'`);
    await d.restore(restoreInput(withEvents, 'replace', ['events']));
    expect(await sql(db.url, `SELECT id, at::text, what FROM events ORDER BY id`)).toEqual([
      { id: 1, at: '2024-03-01', what: 'a' },
      { id: 2, at: '2025-03-01', what: 'b' },
      { id: 3, at: '2025-06-01', what: 'c' },
    ]);
    expect(await sql(db.url, indexes)).toEqual(before);
  });

  it('raises maintenance_work_mem for this transaction only, as tuned', async () => {
    const c = await connect(db.url);
    try {
      const before = (await c.query<{ maintenance_work_mem: string }>('SHOW maintenance_work_mem')).rows[0]
        .maintenance_work_mem;
      await c.query('BEGIN');
      await restoreInTransaction(c, restoreInput(backup, 'replace', ['items']), { maintenanceWorkMem: '77MB' });
      expect((await c.query('SHOW maintenance_work_mem')).rows[0]).toEqual({ maintenance_work_mem: '77MB' });
      await c.query('COMMIT');
      expect((await c.query('SHOW maintenance_work_mem')).rows[0]).toEqual({ maintenance_work_mem: before });
      await c.query('BEGIN');
      await expect(
        restoreInTransaction(c, restoreInput(backup, 'replace', ['items']), { maintenanceWorkMem: 'lots' }),
      ).rejects.toThrow(/maintenance_work_mem/);
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
  });

  it('rejects rows encoded by another engine', async () => {
    const input = { ...restoreInput(backup, 'replace', ['items']), encoding: 'sqlite-ndjson' as const };
    await expect(d.restore(input)).rejects.toThrow(/sqlite-ndjson/);
  });
});
