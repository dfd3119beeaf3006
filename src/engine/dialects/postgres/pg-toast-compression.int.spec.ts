/**
 * Which TOAST compression restored rows are written with (pg-toast-compression.ts), on each
 * path that writes them: in place, shadow tables, staged into an empty database. The test
 * server is Debian's PostgreSQL 15, built with lz4, its default_toast_compression untouched.
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import type { RestoreInput } from '../dialect';
import { pgDumpSection, restoreInput, sql, takeBackup, type Backup } from './pg-spec-helpers';
import { createPostgresDialect, type PostgresDialectOptions } from './postgres.dialect';

// Values of ~9 KB that compress well: stored compressed, with the session's method.
const SCHEMA = `
  CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, kept text COMPRESSION pglz NOT NULL);
  INSERT INTO notes SELECT g, repeat('note ' || g || ' ', 1000), repeat('kept ' || g || ' ', 1000)
    FROM generate_series(1, 40) g;`;

/** Each column's methods among the stored values, e.g. { body: ['lz4'], kept: ['pglz'] }. */
async function methods(url: string): Promise<Record<string, string[]>> {
  const rows = await sql<{ body: string[]; kept: string[] }>(
    url,
    `SELECT array_agg(DISTINCT pg_column_compression(body)) AS body, array_agg(DISTINCT pg_column_compression(kept)) AS kept FROM notes`,
  );
  return { body: rows[0].body, kept: rows[0].kept };
}

describe('PostgreSQL restore: the TOAST compression of restored rows', () => {
  let source: TestDatabase;
  let backup: Backup;
  let rowsBefore: unknown[];
  const dbs: TestDatabase[] = [];

  beforeAll(async () => {
    source = await createPgDatabase('toastsrc');
    await sql(source.url, SCHEMA);
    backup = await takeBackup(createPostgresDialect(source.url));
    rowsBefore = await sql(source.url, 'SELECT * FROM notes ORDER BY id');
  });

  afterAll(async () => {
    for (const d of [source, ...dbs]) await d.drop();
  });

  it('starts from values the source wrote with pglz, the server default', async () => {
    expect(await sql(source.url, 'SHOW default_toast_compression')).toEqual([{ default_toast_compression: 'pglz' }]);
    expect(await methods(source.url)).toEqual({ body: ['pglz'], kept: ['pglz'] });
  });

  const input = (): RestoreInput => restoreInput(backup, 'replace');

  it.each([
    ['in place', 'auto', 'lz4', { restoreParallel: 1 }],
    ['through a shadow table', 'auto', 'lz4', { restoreParallel: 2, shadowMinBytes: 0 }],
    ['in place', 'server', 'pglz', { restoreParallel: 1 }],
    ['through a shadow table', 'server', 'pglz', { restoreParallel: 2, shadowMinBytes: 0 }],
  ] as const)('replace %s, policy %s: body written with %s', async (_how, policy, method, options) => {
    const db = await createPgDatabase('toastrep', { template: source });
    dbs.push(db);
    await sql(db.url, `DELETE FROM notes WHERE id > 20`);
    const d = createPostgresDialect(db.url, { ...options, toastCompression: policy });
    try {
      await d.restore(input());
    } finally {
      await d.close();
    }
    expect(await methods(db.url)).toEqual({ body: [method], kept: ['pglz'] });
    expect(await sql(db.url, 'SELECT * FROM notes ORDER BY id')).toEqual(rowsBefore);
  });

  it.each([
    ['auto', 'lz4'],
    ['server', 'pglz'],
  ] as const)('into an empty database, policy %s: body written with %s', async (policy, method) => {
    const db = await createPgDatabase('toastdst');
    dbs.push(db);
    const d = createPostgresDialect(db.url, { toastCompression: policy } satisfies PostgresDialectOptions);
    try {
      const ddl = { preData: pgDumpSection(source.url, 'pre-data'), postData: pgDumpSection(source.url, 'post-data') };
      await d.restoreDatabase({ ddl, largeObjects: null }, input());
    } finally {
      await d.close();
    }
    expect(await methods(db.url)).toEqual({ body: [method], kept: ['pglz'] });
    expect(await sql(db.url, 'SELECT * FROM notes ORDER BY id')).toEqual(rowsBefore);
  });

  it('keeps the method an administrator chose for the database, under auto', async () => {
    const db = await createPgDatabase('toastset', { template: source });
    dbs.push(db);
    const [{ name }] = await sql<{ name: string }>(db.url, 'SELECT current_database() AS name');
    await sql(db.url, `ALTER DATABASE "${name}" SET default_toast_compression = 'pglz'`);
    const d = createPostgresDialect(db.url, { restoreParallel: 2, shadowMinBytes: 0 });
    try {
      await d.restore(input());
    } finally {
      await d.close();
    }
    expect(await methods(db.url)).toEqual({ body: ['pglz'], kept: ['pglz'] });
  });
});
