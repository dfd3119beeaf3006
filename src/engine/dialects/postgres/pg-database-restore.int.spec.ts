/**
 * Whole-database restore into an empty database (restoreDatabase) against a real PostgreSQL:
 * which new tables are loaded frozen, and that everything lands in one transaction.
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { FREEZE_NEW_TABLE_MIN_BYTES } from './pg-restore';
import { createPostgresDialect } from './postgres.dialect';
import { restoreInput, sql, takeBackup } from './pg-spec-helpers';

describe('PostgreSQL restore into an empty database', () => {
  let source: TestDatabase;
  let target: TestDatabase;
  const preData = [
    'CREATE TABLE public.big (id integer NOT NULL, note text);',
    'CREATE TABLE public.small (id integer NOT NULL, big_id integer);',
  ].join('\n');
  const postData = [
    'ALTER TABLE ONLY public.big ADD CONSTRAINT big_pkey PRIMARY KEY (id);',
    'ALTER TABLE ONLY public.small ADD CONSTRAINT small_pkey PRIMARY KEY (id);',
    'ALTER TABLE ONLY public.small ADD CONSTRAINT small_big_id_fkey FOREIGN KEY (big_id) REFERENCES public.big(id);',
  ].join('\n');

  beforeAll(async () => {
    source = await createPgDatabase('dbrsrc');
    target = await createPgDatabase('dbrdst');
    await sql(
      source.url,
      `${preData}\n${postData}\nINSERT INTO big VALUES (1, 'a'), (2, 'b'); INSERT INTO small VALUES (1, 1), (2, 2);`,
    );
    await sql(target.url, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
  });
  afterAll(async () => {
    await source.drop();
    await target.drop();
  });

  it('loads a large new table frozen and a small one as pg_restore does, with the keys checked after', async () => {
    const backup = await takeBackup(createPostgresDialect(source.url), ['big', 'small']);
    const input = restoreInput(backup, 'replace');
    // What the manifest says decides; the rows themselves can stay small.
    for (const t of input.tables) t.bytes = t.name === 'big' ? FREEZE_NEW_TABLE_MIN_BYTES : 100;
    const d = createPostgresDialect(target.url);
    const done = await d.restoreDatabase({ ddl: { preData, postData }, largeObjects: null }, input);
    expect(done.tables).toEqual([
      { name: 'big', rowsWritten: 2 },
      { name: 'small', rowsWritten: 2 },
    ]);
    const frozen = async (table: string) =>
      (
        await sql<{ frozen: boolean }>(
          target.url,
          `SELECT bool_and(all_frozen) AS frozen FROM pg_visibility_map('${table}')`,
        )
      )[0].frozen;
    // FREEZE needs the TRUNCATE, whose fixed cost (an fsync for the empty TOAST index) only a large table repays.
    expect(await frozen('big')).toBe(true);
    expect(await frozen('small')).toBe(false);
    expect(await sql(target.url, `SELECT id, big_id FROM small ORDER BY id`)).toEqual([
      { id: 1, big_id: 1 },
      { id: 2, big_id: 2 },
    ]);
    await expect(sql(target.url, `INSERT INTO small VALUES (3, 9)`)).rejects.toThrow(/small_big_id_fkey/);
  });
});
