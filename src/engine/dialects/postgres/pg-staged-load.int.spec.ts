/**
 * The restore into an empty database with its tables staged (pg-staged-load.ts), against a real
 * PostgreSQL and pg_dump's own sections: what it restores is what pg_dump sees in the source;
 * which tables and indexes the loaders took and which fell back to the main transaction; and
 * that a failure on a loader leaves the target empty, staging schemas included.
 */
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import type { RestoreInput } from '../dialect';
import { dropAbandonedShadows } from './pg-shadow-prepare';
import { pgDumpSection, restoreInput, sql, takeBackup } from './pg-spec-helpers';
import { STAGE_DEAL_BYTES, STAGE_SPLIT_BYTES } from './pg-load-pool';
import { createPostgresDialect } from './postgres.dialect';

function pgDump(url: string, args: string[]): string {
  const res = spawnSync('pg_dump', [...args, `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
  return res.stdout;
}

/** The whole database as pg_dump prints it, comments and its per-run \restrict key aside. */
const wholeDump = (url: string): string =>
  pgDump(url, [])
    .split('\n')
    .filter((l) => !l.startsWith('--') && !/^\\(un)?restrict\b/.test(l))
    .join('\n');

const sections = (url: string) => ({
  preData: pgDumpSection(url, 'pre-data'),
  postData: pgDumpSection(url, 'post-data'),
});

/** Whether every page of the table is all-frozen: rows COPYed FREEZE into a table its own transaction created. */
async function frozen(url: string, table: string): Promise<boolean> {
  const rows = await sql<{ frozen: boolean }>(
    url,
    `SELECT bool_and(all_frozen) AS frozen FROM pg_visibility_map('${table}'::regclass)`,
  );
  return rows[0].frozen;
}

/** Each foreign key, and whether the restore's main transaction added it (the one that attached plain's primary key). */
const keysAddedByMain = (url: string) =>
  sql<{ conname: string; main: boolean }>(
    url,
    `SELECT conname, xmin::text = (SELECT xmin::text FROM pg_constraint WHERE conname = 'plain_pkey') AS main
       FROM pg_constraint WHERE contype = 'f' ORDER BY conname`,
  );

const STAGING = `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strongroom\\_restore\\_%'`;

describe('PostgreSQL restore into an empty database, tables staged in parallel', () => {
  let source: TestDatabase;
  const targets: TestDatabase[] = [];
  const target = async (): Promise<TestDatabase> => {
    const t = await createPgDatabase('stgdst');
    targets.push(t);
    await sql(t.url, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
    return t;
  };

  beforeAll(async () => {
    source = await createPgDatabase('stgsrc');
    await sql(
      source.url,
      `CREATE TYPE mood AS ENUM ('ok', 'sad');
       CREATE FUNCTION norm(text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT lower($1) $$;
       CREATE SCHEMA "Odd Schema";
       CREATE TABLE plain (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         email text UNIQUE,
         doc jsonb,
         note text COLLATE "C" CHECK (note <> 'a;b'),
         created timestamptz DEFAULT now(),
         total numeric(12, 2) GENERATED ALWAYS AS (length(note) * 1.5) STORED
       ) WITH (fillfactor = 90);
       ALTER TABLE plain ALTER COLUMN note SET STORAGE EXTERNAL;
       ALTER TABLE plain ALTER COLUMN email SET STATISTICS 500;
       CREATE INDEX plain_doc ON plain USING gin (doc);
       CREATE INDEX plain_lower ON plain (lower(email));
       CREATE INDEX plain_norm ON plain (public.norm(email));
       COMMENT ON INDEX plain_doc IS 'documents';
       CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
       CREATE DOMAIN lowered AS text CHECK (public.norm(VALUE) = VALUE);
       CREATE TABLE feelings (id serial PRIMARY KEY, m mood, n positive, note text DEFAULT 'public.mood',
         parent int REFERENCES feelings ON DELETE CASCADE);
       CREATE INDEX feelings_sad ON feelings (id) WHERE m = 'sad';
       CREATE TABLE tagged (id int PRIMARY KEY, tag lowered);
       CREATE TABLE "Odd Schema"."Child; Table" (id int PRIMARY KEY, plain_id bigint REFERENCES plain, note text,
         tagged_id int REFERENCES tagged);
       CREATE TABLE ring_a (id int PRIMARY KEY, b_id int);
       CREATE TABLE ring_b (id int PRIMARY KEY, a_id int REFERENCES ring_a);
       ALTER TABLE ring_a ADD FOREIGN KEY (b_id) REFERENCES ring_b;
       INSERT INTO ring_a SELECT g, NULL FROM generate_series(1, 30) g;
       INSERT INTO ring_b SELECT g, g FROM generate_series(1, 30) g;
       UPDATE ring_a SET b_id = 31 - id;
       CREATE VIEW plain_view AS SELECT id, email FROM plain;
       INSERT INTO plain (email, doc, note)
         SELECT 'u' || g || '@x.org', jsonb_build_object('g', g), 'note ' || g FROM generate_series(1, 300) g;
       INSERT INTO feelings (m, n, parent)
         SELECT (ARRAY['ok', 'sad'])[1 + g % 2]::mood, g, nullif(g / 2, 0) FROM generate_series(1, 20) g;
       INSERT INTO tagged SELECT g, 't' || g FROM generate_series(1, 5) g;
       INSERT INTO "Odd Schema"."Child; Table" SELECT g, g, 'c;' || g, 1 + g % 5 FROM generate_series(1, 50) g;
       SELECT setval('feelings_id_seq', 77);`,
    );
  });
  afterAll(async () => {
    await source.drop();
    for (const t of targets) await t.drop();
  });

  async function restore(url: string, tune: (input: RestoreInput) => void = () => undefined) {
    const backup = await takeBackup(createPostgresDialect(source.url));
    const input = restoreInput(backup, 'replace');
    for (const t of input.tables) t.bytes = backup.data.get(t.name)!.bytes.length;
    tune(input);
    return createPostgresDialect(url).restoreDatabase({ ddl: sections(source.url), largeObjects: null }, input);
  }

  it.each([
    ['each table and its indexes in one transaction', 0, true],
    ['a large table and its indexes as separate jobs', STAGE_SPLIT_BYTES, true],
    ['a larger table on both loaders at once (its rows then not frozen)', STAGE_DEAL_BYTES, false],
  ])('restores what pg_dump sees in the source, loading %s', async (_label, bytes, plainFrozen) => {
    const t = await target();
    const done = await restore(t.url, (input) => {
      if (bytes) input.tables.find((x) => x.name === 'plain')!.bytes = bytes;
    });
    expect(done.tables.map((x) => [x.name, x.rowsWritten]).sort()).toEqual([
      ['Odd Schema.Child; Table', 50],
      ['feelings', 20],
      ['plain', 300],
      ['ring_a', 30],
      ['ring_b', 30],
      ['tagged', 5],
    ]);
    // Every definition and row, as pg_dump prints them (pg_visibility aside: the test's own).
    await sql(t.url, 'DROP EXTENSION pg_visibility');
    expect(wholeDump(t.url)).toEqual(wholeDump(source.url));
    await sql(t.url, 'CREATE EXTENSION pg_visibility');
    // Staged: rows frozen on the loaders, however small the table; the enum and the plain domain
    // were staged with it. A domain whose check calls the backup's own function cannot be created
    // before the transaction that creates the function: its table loads there, unfrozen.
    expect(await frozen(t.url, 'plain')).toBe(plainFrozen);
    expect(await frozen(t.url, '"Odd Schema"."Child; Table"')).toBe(true);
    expect(await frozen(t.url, 'feelings')).toBe(true);
    expect(await frozen(t.url, 'tagged')).toBe(false);
    expect(await sql(t.url, STAGING)).toEqual([]);
    // The keys between staged tables were added (and checked) on the loaders, in transactions
    // of their own, the two between ring_a and ring_b too (each locks both tables first, in one
    // order); the one to the table the main transaction loaded was added there.
    expect(await keysAddedByMain(t.url)).toEqual([
      { conname: 'Child; Table_plain_id_fkey', main: false },
      { conname: 'Child; Table_tagged_id_fkey', main: true },
      { conname: 'feelings_parent_fkey', main: false },
      { conname: 'ring_a_b_id_fkey', main: false },
      { conname: 'ring_b_a_id_fkey', main: false },
    ]);
  });

  /** Runs a restore of `rows` (by table) that must fail with `error`, and checks that it left the target as it was. */
  async function expectFailureLeavingItEmpty(rows: Record<string, () => Promise<string>>, error: RegExp) {
    const t = await target();
    const objects = `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace >= 16384`;
    const before = await sql(t.url, objects);
    await expect(
      restore(t.url, (input) => {
        for (const [name, text] of Object.entries(rows)) {
          const table = input.tables.find((x) => x.name === name)!;
          table.rowFormat = undefined;
          table.open = async () => Readable.from([Buffer.from(await text())]);
        }
      }),
    ).rejects.toThrow(error);
    expect(await sql(t.url, STAGING)).toEqual([]);
    expect(await sql(t.url, objects)).toEqual(before);
    return t;
  }

  it('leaves a key whose rows break it to the main transaction, which fails naming it and leaves the target empty', async () => {
    // A child of a plain row the backup does not hold.
    await expectFailureLeavingItEmpty(
      { 'Odd Schema.Child; Table': async () => '1\t999999\tlost\t1\n' },
      /failed at fk constraint Child; Table Child; Table_plain_id_fkey: .*violates foreign key constraint/,
    );
  });

  it('leaves the target empty when a loader fails, and drops its staging schemas', async () => {
    // Every row twice: the primary key's unique index fails on the loader building it.
    const twice = async () => {
      const text = await sql<{ t: string }>(
        source.url,
        `SELECT string_agg(concat_ws(E'\\t', id, email, doc, note, created), E'\\n') || E'\\n' AS t FROM plain`,
      );
      return text[0].t + text[0].t;
    };
    const t = await expectFailureLeavingItEmpty({ plain: twice }, /plain/);
    expect(await sql(t.url, `SELECT count(*)::int AS n FROM pg_type WHERE typname = 'mood'`)).toEqual([{ n: 0 }]);
  });

  it('drops the staging schemas of a restore whose connections are gone, and only those', async () => {
    const t = await target();
    await sql(t.url, 'CREATE SCHEMA strongroom_restore_aaaa11_1; CREATE SCHEMA strongroom_restore_bbbb22_1');
    const alive = new Client({ connectionString: t.url, application_name: 'strongroom-restore:bbbb22' });
    await alive.connect();
    try {
      const c = new Client({ connectionString: t.url });
      await c.connect();
      await dropAbandonedShadows(c).finally(() => c.end());
      expect(await sql(t.url, STAGING)).toEqual([{ nspname: 'strongroom_restore_bbbb22_1' }]);
    } finally {
      await alive.end();
    }
  });
});
