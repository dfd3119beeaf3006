/**
 * Parallel replace restores through shadow tables, against a real PostgreSQL: the swap keeps
 * everything about a table (pg_dump --schema-only is unchanged), tables it cannot carry over
 * stay on the in-place path with the reason, readers read and writers wait during the load,
 * and shadow schemas left by dead restores are cleaned up.
 */
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { connect } from './pg-session';
import { assignWorkers, RESTORE_APP_PREFIX, shadowEligibility } from './pg-shadow-prepare';
import { pgDumpData, restoreInput, sql, takeBackup } from './pg-spec-helpers';

const ROLE = `strongroom_reader_${process.pid}`;

const SCHEMA = `
  CREATE TABLE owners (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
  CREATE TABLE docs (
    id bigserial PRIMARY KEY,
    owner_id int NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    title text NOT NULL CHECK (length(title) > 0),
    body text COLLATE "C" DEFAULT 'empty',
    words int GENERATED ALWAYS AS (length(body)) STORED,
    kind text,
    CONSTRAINT docs_title_owner_key UNIQUE (owner_id, title)
  ) WITH (fillfactor = 80);
  CREATE INDEX docs_kind_idx ON docs (kind) WHERE kind IS NOT NULL;
  CREATE INDEX docs_lower_title_idx ON docs (lower(title));
  ALTER TABLE docs CLUSTER ON docs_lower_title_idx;
  ALTER TABLE docs ALTER COLUMN kind SET STATISTICS 500;
  ALTER TABLE docs ALTER COLUMN title SET (n_distinct = -0.5);
  CREATE STATISTICS docs_owner_kind (ndistinct) ON owner_id, kind FROM docs;
  COMMENT ON TABLE docs IS 'documents';
  COMMENT ON COLUMN docs.title IS 'shown in lists';
  COMMENT ON INDEX docs_kind_idx IS 'kind lookups';
  COMMENT ON CONSTRAINT docs_title_owner_key ON docs IS 'one title per owner';
  COMMENT ON CONSTRAINT docs_owner_id_fkey ON docs IS 'cascade';
  CREATE FUNCTION docs_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.kind := coalesce(NEW.kind, 'note'); RETURN NEW; END $$;
  CREATE TRIGGER docs_default_kind BEFORE INSERT ON docs FOR EACH ROW EXECUTE FUNCTION docs_touch();
  CREATE TRIGGER docs_off BEFORE UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION docs_touch();
  ALTER TABLE docs DISABLE TRIGGER docs_off;
  COMMENT ON TRIGGER docs_default_kind ON docs IS 'defaults kind';
  GRANT SELECT, INSERT ON docs TO ${ROLE};
  GRANT UPDATE ON docs TO ${ROLE} WITH GRANT OPTION;
  INSERT INTO owners (email) SELECT 'o' || g || '@example.com' FROM generate_series(1, 20) g;
  INSERT INTO docs (owner_id, title, body, kind) SELECT 1 + g % 20, 'doc ' || g, repeat('x', g % 50), CASE WHEN g % 3 = 0 THEN 'memo' END
    FROM generate_series(1, 2000) g;`;

/**
 * The tables' rows as pg_dump writes them, sorted (a restore writes rows in key order, not in
 * the heap order they had), without sequence positions (a restore never moves one back).
 */
function rowsDump(url: string): string {
  return pgDumpData(url, ['owners', 'docs']).split('\n').filter((l) => !l.includes('setval(')).sort().join('\n');
}

function schemaDump(url: string): string {
  const res = spawnSync('pg_dump', ['--schema-only', '--no-owner', `--dbname=${url}`], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
  return res.stdout.split('\n').filter((l) => !l.startsWith('--') && !l.startsWith('\\')).join('\n');
}

async function oid(url: string, table: string): Promise<string> {
  return (await sql<{ oid: string }>(url, `SELECT $1::regclass::oid::text AS oid`, [`public.${table}`]))[0].oid;
}

async function shadowSchemas(url: string): Promise<string[]> {
  const rows = await sql<{ nspname: string }>(url, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strongroom\\_restore\\_%' ORDER BY 1`);
  return rows.map((r) => r.nspname);
}

describe('assignWorkers (largest first to the least-loaded connection)', () => {
  it.each([
    { main: 0, sizes: [5, 4, 3], workers: 2, expected: [['b', 'c'], ['a']] },
    { main: 10, sizes: [5, 4, 3], workers: 2, expected: [[], ['a', 'b', 'c']] },
    { main: 6, sizes: [9, 4, 3], workers: 3, expected: [[], ['b', 'c'], ['a']] },
    { main: 0, sizes: [0, 0], workers: 2, expected: [[], ['a', 'b']] },
    { main: 0, sizes: [7], workers: 1, expected: [['a']] },
  ])('main $main, sizes $sizes, $workers workers', ({ main, sizes, workers, expected }) => {
    const candidates = sizes.map((bytes, i) => ({ name: String.fromCharCode(97 + i), bytes }));
    expect(assignWorkers(main, candidates, workers)).toEqual(expected);
  });
});

describe('PostgreSQL restore through shadow tables', () => {
  let db: TestDatabase;
  let d: PostgresDialect;

  beforeAll(async () => {
    const admin = await createPgDatabase('shadowrole');
    await sql(admin.url, `DO $$ BEGIN CREATE ROLE ${ROLE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await admin.drop();
  });

  afterAll(async () => {
    const admin = await createPgDatabase('shadowrole');
    await sql(admin.url, `DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
    await admin.drop();
  });

  beforeEach(async () => {
    db = await createPgDatabase('shadow');
    await sql(db.url, SCHEMA);
    d = createPostgresDialect(db.url, { restoreParallel: 2, shadowMinBytes: 0 });
  });

  afterEach(async () => {
    await sql(db.url, `DROP OWNED BY ${ROLE}`).catch(() => undefined);
    await d?.close();
    await db?.drop();
  });

  it('swaps new tables in with every property of the old ones: pg_dump --schema-only is unchanged', async () => {
    const backup = await takeBackup(d, ['owners', 'docs']);
    const schemaBefore = schemaDump(db.url);
    const dataBefore = rowsDump(db.url);
    const oidsBefore = [await oid(db.url, 'owners'), await oid(db.url, 'docs')];
    await sql(db.url, `DELETE FROM docs WHERE id % 2 = 0; UPDATE docs SET title = 'changed' || id; INSERT INTO owners (email) VALUES ('new@example.com')`);

    const res = await d.restore(restoreInput(backup, 'replace'));
    expect(res).toEqual([{ name: 'owners', rowsWritten: 20 }, { name: 'docs', rowsWritten: 2000 }]);
    // New relations: the loaders' shadows took the tables' places.
    expect([await oid(db.url, 'owners'), await oid(db.url, 'docs')]).not.toEqual(oidsBefore);
    expect(schemaDump(db.url)).toBe(schemaBefore);
    expect(rowsDump(db.url)).toBe(dataBefore);
    expect(await shadowSchemas(db.url)).toEqual([]);
    // What the dump shows is also in force: constraints, the trigger, the serial sequences past the rows.
    await expect(sql(db.url, `INSERT INTO docs (owner_id, title) VALUES (99, 'x')`)).rejects.toThrow(/docs_owner_id_fkey/);
    await expect(sql(db.url, `INSERT INTO docs (owner_id, title) VALUES (1, '')`)).rejects.toThrow(/docs_title_check/);
    const [row] = await sql<{ id: string; kind: string }>(db.url, `INSERT INTO docs (owner_id, title) VALUES (1, 'fresh') RETURNING id::text, kind`);
    // 2001 and 2002 went to the two refused inserts.
    expect(row).toEqual({ id: '2003', kind: 'note' });
    const [grant] = await sql<{ ok: boolean }>(db.url, `SELECT has_table_privilege('${ROLE}', 'docs', 'UPDATE WITH GRANT OPTION') AS ok`);
    expect(grant.ok).toBe(true);
  });

  it('keeps on the in-place path, with the reason, every table whose properties a swap would lose', async () => {
    await sql(db.url, `
      CREATE VIEW doc_titles AS SELECT title FROM docs;
      CREATE TABLE secured (id int PRIMARY KEY); ALTER TABLE secured ENABLE ROW LEVEL SECURITY;
      CREATE TABLE counted (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
      CREATE TABLE parted (id int) PARTITION BY RANGE (id);
      CREATE TABLE outside (doc_owner int REFERENCES owners (id));
      CREATE TABLE plain (id int PRIMARY KEY, note text);
      CREATE TABLE replident (id int NOT NULL, CONSTRAINT replident_id_key UNIQUE (id));
      ALTER TABLE replident REPLICA IDENTITY USING INDEX replident_id_key;`);
    const c = await connect(db.url);
    try {
      const tables = ['docs', 'secured', 'counted', 'parted', 'owners', 'plain', 'replident'];
      const { eligible, refused } = await shadowEligibility(c, tables, tables, new Set(['owners']));
      expect([...eligible.keys()]).toEqual(['plain']);
      expect(Object.fromEntries(refused)).toEqual({
        docs: 'it is used by rule _RETURN on view doc_titles',
        secured: 'it has row-level security',
        counted: 'it has an identity column',
        parted: 'it is partitioned or inherits',
        owners: 'a table outside the restore references it',
        replident: 'it has a replica identity other than the default',
      });
    } finally {
      await c.end();
    }
    // The restore still succeeds: docs loads in place, behind its view.
    const backup = await takeBackup(d, ['owners', 'docs']);
    const before = await oid(db.url, 'docs');
    await sql(db.url, `DELETE FROM docs WHERE id > 10`);
    await d.restore(restoreInput(backup, 'replace'));
    expect(await oid(db.url, 'docs')).toBe(before);
    expect((await sql<{ n: string }>(db.url, `SELECT count(*)::text AS n FROM doc_titles`))[0].n).toBe('2000');
  });

  it('lets readers read and makes writers wait while a shadow loads, then shows the new rows at once', async () => {
    const backup = await takeBackup(d, ['owners', 'docs']);
    await sql(db.url, `DELETE FROM docs WHERE id > 5`);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let loading!: () => void;
    const started = new Promise<void>((r) => (loading = r));
    const input = restoreInput(backup, 'replace');
    const bytes = backup.data.get('docs')!.bytes;
    input.tables[1].open = async () =>
      Readable.from(
        (async function* () {
          yield bytes.subarray(0, 40);
          loading();
          await gate;
          yield bytes.subarray(40);
        })(),
      );
    const restoring = d.restore(input);
    await started;
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query(`SET lock_timeout = '2s'`);
      expect((await other.query(`SELECT count(*)::int AS n FROM docs`)).rows[0].n).toBe(5);
      await other.query(`SET lock_timeout = '200ms'`);
      await expect(other.query(`INSERT INTO docs (owner_id, title) VALUES (1, 'late')`)).rejects.toThrow(/lock timeout/);
      release();
      await restoring;
      expect((await other.query(`SELECT count(*)::int AS n FROM docs`)).rows[0].n).toBe(2000);
    } finally {
      release();
      await other.end();
    }
  });

  it('a loader failing part-way changes nothing and leaves no shadow behind', async () => {
    const backup = await takeBackup(d, ['owners', 'docs']);
    const schemaBefore = schemaDump(db.url);
    await sql(db.url, `DELETE FROM docs WHERE id > 100`);
    const dataBefore = rowsDump(db.url);
    const input = restoreInput(backup, 'replace');
    const bytes = backup.data.get('docs')!.bytes;
    input.tables[1].open = async () =>
      Readable.from(
        (async function* () {
          yield bytes.subarray(0, bytes.length >> 1);
          throw new Error('part 0004.rows: authentication tag mismatch');
        })(),
      );
    await expect(d.restore(input)).rejects.toThrow(/docs.*authentication tag mismatch|authentication tag mismatch.*docs/);
    expect(rowsDump(db.url)).toBe(dataBefore);
    expect(schemaDump(db.url)).toBe(schemaBefore);
    expect(await shadowSchemas(db.url)).toEqual([]);
  });

  it('drops shadow schemas whose restore is gone, and only those', async () => {
    await sql(db.url, `CREATE SCHEMA strongroom_restore_dead01; CREATE TABLE strongroom_restore_dead01.strongroom_shadow_1 (x int)`);
    await sql(db.url, `CREATE SCHEMA strongroom_restore_live01`);
    const alive = await connect(db.url, `${RESTORE_APP_PREFIX}live01`);
    try {
      const backup = await takeBackup(d, ['owners']);
      await d.restore(restoreInput(backup, 'replace', ['owners']));
      expect(await shadowSchemas(db.url)).toEqual(['strongroom_restore_live01']);
    } finally {
      await alive.end();
    }
  });
});
