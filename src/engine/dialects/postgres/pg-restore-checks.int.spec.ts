/**
 * The checks before a whole-database restore into an empty database (CLI --create-schema),
 * against a real PostgreSQL: an extension the server cannot install is a blocker, a role the
 * cluster lacks a warning (unless ownership and grants are left out), and nothing is written.
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createPostgresDialect } from './postgres.dialect';
import { sql } from './pg-spec-helpers';

describe('PostgreSQL whole-database restore checks', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPgDatabase('dbchecks');
  });
  afterAll(() => db.drop());

  const ddl = {
    preData: [
      'CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;',
      'CREATE EXTENSION IF NOT EXISTS strongroom_no_such_extension WITH SCHEMA public;',
      'CREATE TABLE public.t (id integer);',
      'ALTER TABLE public.t OWNER TO strongroom_no_such_owner;',
    ].join('\n'),
    postData: 'GRANT SELECT ON TABLE public.t TO strongroom_no_such_reader;\nGRANT SELECT ON TABLE public.t TO PUBLIC;',
  };

  it('names extensions the server cannot install as blockers and missing roles as warnings, writing nothing', async () => {
    const d = createPostgresDialect(db.url);
    const checks = await d.checkRestoreDatabase({ ddl });
    expect(checks.blockers).toEqual([
      expect.objectContaining({ kind: 'missing-extension', object: 'strongroom_no_such_extension' }),
    ]);
    expect(checks.warnings.map((w) => [w.kind, w.object])).toEqual([
      ['missing-role', 'strongroom_no_such_owner'],
      ['missing-role', 'strongroom_no_such_reader'],
    ]);
    expect(
      await sql(db.url, `SELECT relname FROM pg_class WHERE relname = 't' AND relnamespace = 'public'::regnamespace`),
    ).toEqual([]);
    // With ownership and grants left out, roles no longer matter.
    expect((await d.checkRestoreDatabase({ ddl, noOwner: true, noPrivileges: true })).warnings).toEqual([]);
  });
});
