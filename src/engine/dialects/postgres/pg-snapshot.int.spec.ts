/**
 * Snapshot behaviour against a real server: one instant for every table and worker,
 * pg_dump DDL that rebuilds what the tables need, and nothing left open after close().
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { collect, restoreInput, sql, takeBackup } from './pg-spec-helpers';

const SCHEMA = `
  CREATE TABLE t1 (id int PRIMARY KEY, v text);
  CREATE TABLE t2 (id int PRIMARY KEY, v text);
  CREATE TABLE t3 (id int PRIMARY KEY, v text);
  CREATE SEQUENCE shared_seq START 100;
  CREATE TABLE uses_shared (id int PRIMARY KEY DEFAULT nextval('shared_seq'), note text);
  CREATE TABLE measurements (at date NOT NULL, city text NOT NULL, v real, PRIMARY KEY (at, city)) PARTITION BY RANGE (at);
  CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
  CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE strongroom_audit_events (seq bigint PRIMARY KEY, body text NOT NULL);
  CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'append-only'; END $$;
  CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON strongroom_audit_events FOR EACH ROW EXECUTE FUNCTION refuse_change();
`;

async function activity(url: string): Promise<{ state: string; application_name: string }[]> {
  const db = new URL(url).pathname.slice(1);
  return sql(
    url,
    `SELECT state, application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'strongroom%'`,
    [db],
  );
}

describe('PostgreSQL snapshot', () => {
  let db: TestDatabase;
  let d: PostgresDialect;

  beforeEach(async () => {
    db = await createPgDatabase('snap');
    await sql(db.url, SCHEMA);
    await sql(db.url, `INSERT INTO t1 SELECT g, 'a' || g FROM generate_series(1, 1000) g`);
    await sql(db.url, `INSERT INTO t2 SELECT g, 'b' || g FROM generate_series(1, 1000) g`);
    await sql(db.url, `INSERT INTO t3 SELECT g, 'c' || g FROM generate_series(1, 1000) g`);
    await sql(db.url, `INSERT INTO uses_shared (note) VALUES ('x'), ('y')`);
    await sql(db.url, `INSERT INTO measurements VALUES ('2023-05-01', 'Oslo', 3.5), ('2024-07-01', 'Lima', 18)`);
    await sql(db.url, `INSERT INTO strongroom_audit_events VALUES (1, 'first')`);
    d = createPostgresDialect(db.url);
  });

  afterEach(async () => {
    await d.close();
    await db.drop();
  });

  it('every table, read by any worker, sees the instant the snapshot was opened', async () => {
    const snap = await d.openSnapshot(['t1', 't2', 't3'], { parallel: 1 });
    try {
      // Committed after the snapshot: must not show up, even in a worker opened later.
      await sql(db.url, `INSERT INTO t1 VALUES (1001, 'late'); UPDATE t2 SET v = 'changed'; DELETE FROM t3`);
      const exports = ['t1', 't2', 't3'].map((n) => snap.exportTable(n));
      const texts = await Promise.all(exports.map(async (e) => (await collect(e.stream)).toString('utf8')));
      expect(exports.map((e) => e.rowCount())).toEqual([1000, 1000, 1000]);
      expect(texts[0]).not.toContain('late');
      expect(texts[1]).not.toContain('changed');
      expect(texts[2].split('\n')[0]).toBe('1\tc1');
    } finally {
      await snap.close();
    }
  });

  it('close() leaves no connection open, also with an export abandoned mid-stream, and is safe twice', async () => {
    await sql(db.url, `INSERT INTO t1 SELECT g, repeat('z', 1000) FROM generate_series(2000, 12000) g`);
    const snap = await d.openSnapshot(['t1', 't2'], { parallel: 2 });
    const done = snap.exportTable('t2');
    await collect(done.stream);
    const partial = snap.exportTable('t1');
    await new Promise((resolve) => partial.stream.once('data', resolve));
    partial.stream.destroy();
    await snap.close();
    await snap.close();
    // Closing a socket ends its backend asynchronously; what matters is that none stays idle in a transaction.
    expect((await activity(db.url)).filter((a) => a.state === 'idle in transaction')).toEqual([]);
    expect(() => snap.exportTable('t1').stream.destroy()).not.toThrow();
  });

  it('schema SQL brings partitions, shared sequences and trigger functions, and restores into an empty database', async () => {
    const backup = await takeBackup(d, ['measurements', 'uses_shared', 'strongroom_audit_events']);
    expect(backup.schemaSql).toContain('CREATE OR REPLACE FUNCTION public.refuse_change()');
    expect(backup.schemaSql).toContain('measurements_2024');
    expect(backup.sequences).toEqual([{ name: 'shared_seq', lastValue: '101', isCalled: true }]);
    const empty = await createPgDatabase('snap_dst');
    const to = createPostgresDialect(empty.url);
    try {
      await to.applySchema(backup.schemaSql);
      await to.restore(
        restoreInput(backup, {
          measurements: 'replace',
          uses_shared: 'replace',
          strongroom_audit_events: 'missing-only',
        }),
      );
      expect(await sql(empty.url, `SELECT city FROM measurements_2024`)).toEqual([{ city: 'Lima' }]);
      await expect(sql(empty.url, `DELETE FROM strongroom_audit_events`)).rejects.toThrow(/append-only/);
      const again = await takeBackup(to);
      for (const [name, data] of backup.data)
        expect({ name, sha: again.data.get(name)!.sha256 }).toEqual({ name, sha: data.sha256 });
      const [next] = await sql<{ id: number }>(empty.url, `INSERT INTO uses_shared (note) VALUES ('z') RETURNING id`);
      expect(next.id).toBe(102);
    } finally {
      await to.close();
      await empty.drop();
    }
  });

  it('names tables that do not exist', async () => {
    await expect(d.openSnapshot(['t1', 'nope'])).rejects.toThrow('table(s) not found: nope');
    expect((await activity(db.url)).filter((a) => a.state === 'idle in transaction')).toEqual([]);
  });

  it('lists tables parents first, excluding names, and reports schema drift', async () => {
    const tables = await d.listTables(['t3']);
    expect(tables.map((t) => t.name)).toEqual(['measurements', 'strongroom_audit_events', 't1', 't2', 'uses_shared']);
    const recorded = tables.filter((t) => t.name === 't1' || t.name === 't2');
    await sql(
      db.url,
      `ALTER TABLE t1 ALTER COLUMN v TYPE varchar(10), ADD COLUMN extra int; ALTER TABLE t2 DROP CONSTRAINT t2_pkey; DROP TABLE t3`,
    );
    const diff = await d.compareSchema([...recorded, { name: 't3', columns: [], primaryKey: [], foreignKeys: [] }], {
      exclude: ['measurements', 'strongroom_audit_events', 'uses_shared'],
    });
    expect(diff).toEqual([
      { table: 't1', kind: 'type-changed', column: 'v', expected: 'text', actual: 'character varying(10)' },
      { table: 't1', kind: 'extra-column', column: 'extra', actual: 'integer' },
      { table: 't2', kind: 'primary-key-changed', expected: 'id', actual: '' },
      { table: 't3', kind: 'missing-table' },
    ]);
    expect(d.fingerprint(recorded)).toMatch(/^[0-9a-f]{64}$/);
    expect(d.fingerprint(recorded)).not.toBe(d.fingerprint(await d.listTables(['t3'])));
  });
});
