/**
 * Every path that builds a restored table's indexes builds a GIN index with GIN_BUILD_WORK_MEM
 * (a GIN build is slower with more memory, pg-indexes.ts) and every other index with the
 * restore's own maintenance_work_mem. The indexes' expressions are probes that fail the build,
 * and so the restore, when the setting in force while CREATE INDEX runs is not the expected one.
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import type { RestoreInput } from '../dialect';
import { GIN_BUILD_WORK_MEM } from './pg-indexes';
import { STAGE_SPLIT_BYTES } from './pg-load-pool';
import { pgDumpSection, restoreInput, sql, takeBackup, type Backup } from './pg-spec-helpers';
import { createPostgresDialect } from './postgres.dialect';

const RESTORE_MEM = '77MB';

/** The probe: fails a build unless maintenance_work_mem is `expected` while it runs. */
const PROBE = `
  CREATE SCHEMA probe;
  CREATE FUNCTION probe.built_with(v anyelement, expected text) RETURNS anyelement LANGUAGE plpgsql IMMUTABLE AS $$
  BEGIN
    -- Only while an index is built: inserts and ANALYZE evaluate the expression too.
    IF current_query() ~* 'create\\s+(unique\\s+)?index' AND current_setting('maintenance_work_mem') <> expected THEN
      RAISE EXCEPTION 'index built with maintenance_work_mem %, expected %', current_setting('maintenance_work_mem'), expected;
    END IF;
    RETURN v;
  END $$;`;

const SCHEMA = `${PROBE}
  CREATE TABLE docs (id int PRIMARY KEY, doc jsonb NOT NULL, tag text NOT NULL);
  INSERT INTO docs SELECT g, jsonb_build_object('g', g, 'k', g % 7), 't' || g % 13 FROM generate_series(1, 500) g;
  SET maintenance_work_mem = '${GIN_BUILD_WORK_MEM}';
  CREATE INDEX docs_doc ON docs USING gin (probe.built_with(doc, '${GIN_BUILD_WORK_MEM}'));
  SET maintenance_work_mem = '${RESTORE_MEM}';
  CREATE INDEX docs_tag ON docs (probe.built_with(tag, '${RESTORE_MEM}'));`;

/** The two indexes exist, valid, after the restore: the probes let both builds through. */
async function indexesValid(url: string): Promise<string[]> {
  const rows = await sql<{ name: string }>(
    url,
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'docs'::regclass AND i.indisvalid ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

describe('PostgreSQL restore: GIN indexes build with less memory than the others', () => {
  let source: TestDatabase;
  let backup: Backup;
  const dbs: TestDatabase[] = [];

  beforeAll(async () => {
    source = await createPgDatabase('ginmemsrc');
    await sql(source.url, SCHEMA);
    backup = await takeBackup(createPostgresDialect(source.url));
  });

  afterAll(async () => {
    for (const d of [source, ...dbs]) await d.drop();
  });

  const sized = (bytes: number) => (input: RestoreInput) => {
    for (const t of input.tables) t.bytes = bytes;
    return input;
  };

  it.each([
    ['in place, by the restore transaction', { restoreParallel: 1 }, 0],
    ['on a loader, into a shadow table', { restoreParallel: 2, shadowMinBytes: 0 }, 0],
    ['on two loaders, a large shadow table', { restoreParallel: 2, shadowMinBytes: 0 }, STAGE_SPLIT_BYTES],
  ])('replace over live data, %s', async (_how, options, bytes) => {
    const db = await createPgDatabase('ginmem', { template: source });
    dbs.push(db);
    const d = createPostgresDialect(db.url, { ...options, maintenanceWorkMem: RESTORE_MEM });
    try {
      await sql(db.url, `DELETE FROM docs WHERE id > 250`);
      const res = await d.restore(sized(bytes)(restoreInput(backup, 'replace')));
      expect(res).toEqual([{ name: 'docs', rowsWritten: 500 }]);
    } finally {
      await d.close();
    }
    expect(await indexesValid(db.url)).toEqual(['docs_doc', 'docs_pkey', 'docs_tag']);
  });

  // With the probe in the backup, the loaders cannot build the indexes (the function is not
  // committed yet) and the main transaction builds them from post-data; with the probe already in
  // the target (and left out of the dump), the loaders build them.
  it.each([
    ['the probe in the backup, indexes built by the restore transaction', 0, false],
    ['the probe already there, each table and its indexes on a loader', 0, true],
    ['the probe already there, a large table, its indexes as separate jobs', STAGE_SPLIT_BYTES, true],
  ])('into an empty database: %s', async (_how, bytes, probeInTarget) => {
    const db = await createPgDatabase('ginmemdst');
    dbs.push(db);
    if (probeInTarget) await sql(db.url, PROBE);
    const d = createPostgresDialect(db.url, { maintenanceWorkMem: RESTORE_MEM });
    try {
      const args = probeInTarget ? ['--exclude-schema=probe'] : [];
      const ddl = {
        preData: pgDumpSection(source.url, 'pre-data', args),
        postData: pgDumpSection(source.url, 'post-data', args),
      };
      const res = await d.restoreDatabase({ ddl, largeObjects: null }, sized(bytes)(restoreInput(backup, 'replace')));
      expect(res.tables).toEqual([{ name: 'docs', rowsWritten: 500 }]);
    } finally {
      await d.close();
    }
    expect(await indexesValid(db.url)).toEqual(['docs_doc', 'docs_pkey', 'docs_tag']);
  });

  it('fails the restore when a GIN build runs with the restore setting (the probe can fail)', async () => {
    const db = await createPgDatabase('ginmemneg', { template: source });
    dbs.push(db);
    await expect(
      sql(
        db.url,
        `SET maintenance_work_mem = '${RESTORE_MEM}';
         CREATE INDEX docs_doc_again ON docs USING gin (probe.built_with(doc, '${GIN_BUILD_WORK_MEM}'))`,
      ),
    ).rejects.toThrow(`index built with maintenance_work_mem ${RESTORE_MEM}, expected ${GIN_BUILD_WORK_MEM}`);
  });
});
