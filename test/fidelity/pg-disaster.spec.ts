/**
 * The CLI's disaster restore of a full PostgreSQL backup (--create-schema): all or nothing, so
 * a failed attempt leaves the target as it was and a retry works; roles the target cluster
 * lacks are reported, not fatal; --no-owner / --no-privileges as pg_restore.
 */
import { join } from 'node:path';
import { engineRestore } from '../../src/cli/engine-restore';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { createPgDatabase, pgServerUrl, tempDir, type TestDatabase, pgQuery } from '../support/databases';
import { fullBackup, keys } from './pg-fidelity-helpers';

const query = pgQuery;

const OBJECTS = `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`;

describe('CLI disaster restore of a full PostgreSQL backup', () => {
  const dir = tempDir();
  const storage = new LocalStorage(join(dir.path, 'store'));
  const dbs: TestDatabase[] = [];
  const fresh = async (p: string) => {
    const d = await createPgDatabase(p);
    dbs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    await query(pgServerUrl(), 'DROP ROLE IF EXISTS fidelity_gone');
    dir.remove();
  });

  it('leaves the target as it was when it fails, and a retry then works', async () => {
    const src = await fresh('dsrc');
    await query(
      src.url,
      `CREATE EXTENSION citext; CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v citext);
      INSERT INTO app.t VALUES (1, 'a'), (2, 'b'); CREATE SEQUENCE app.s; SELECT nextval('app.s'); SELECT lo_from_bytea(0, 'x');
      CREATE TABLE u (id int REFERENCES app.t); INSERT INTO u VALUES (1);`,
    );
    const d = createDialect(src.url);
    const m = await fullBackup(d, storage).finally(() => d.close());
    const b = { storage, dir: `backups/${m.id}`, manifest: m, keys };

    const target = await fresh('dtgt');
    // Something in the way: the backup's sequence name is taken by a view (not a table, so the
    // emptiness check lets it through), and the restore fails half-way through its DDL.
    await query(target.url, `CREATE SCHEMA app; CREATE VIEW app.s AS SELECT 1 AS x`);
    const before = await query<{ name: string }>(target.url, OBJECTS);
    await expect(
      engineRestore(b, {
        url: target.url,
        mode: 'replace',
        createSchema: true,
        files: false,
        allowSchemaMismatch: false,
      }),
    ).rejects.toThrow(/pre-data DDL failed at schema app/);
    expect(await query<{ name: string }>(target.url, OBJECTS)).toEqual(before);
    expect(await query(target.url, `SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'citext'`)).toEqual([
      { n: 0 },
    ]);
    expect(await query(target.url, 'SELECT count(*)::int AS n FROM pg_largeobject_metadata')).toEqual([{ n: 0 }]);

    await query(target.url, 'DROP SCHEMA app CASCADE');
    const done = await engineRestore(b, {
      url: target.url,
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
    });
    expect(done.tables.map((t) => [t.name, t.rowsWritten]).sort()).toEqual([
      ['app.t', 2],
      ['u', 1],
    ]);
    expect(await query(target.url, `SELECT last_value::int AS v, is_called FROM app.s`)).toEqual([
      { v: 1, is_called: true },
    ]);
    expect(
      await query(target.url, `SELECT convert_from(lo_get(oid), 'UTF8') AS data FROM pg_largeobject_metadata`),
    ).toEqual([{ data: 'x' }]);
  });

  it('reports roles the target cluster lacks, and leaves out owners and grants when asked', async () => {
    const src = await fresh('rsrc');
    await query(
      src.url,
      `DROP ROLE IF EXISTS fidelity_gone; CREATE ROLE fidelity_gone; CREATE TABLE t (id int); INSERT INTO t VALUES (1);
      ALTER TABLE t OWNER TO fidelity_gone; GRANT SELECT ON t TO PUBLIC;`,
    );
    const d = createDialect(src.url);
    const m = await fullBackup(d, storage).finally(() => d.close());
    const b = { storage, dir: `backups/${m.id}`, manifest: m, keys };
    const ACL = `SELECT pg_get_userbyid(relowner) AS owner, relacl::text AS acl FROM pg_class WHERE relname = 't'`;
    const original = await query<{ owner: string; acl: string | null }>(src.url, ACL);
    expect(original[0].owner).toBe('fidelity_gone');
    expect(original[0].acl).toContain('fidelity_gone=');
    await query(src.url, 'DROP TABLE t');
    await query(src.url, 'DROP ROLE fidelity_gone');

    const target = await fresh('rtgt');
    const done = await engineRestore(b, {
      url: target.url,
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
    });
    expect(done.missingRoles).toEqual(['fidelity_gone']);
    expect(await query(target.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);

    await query(target.url, 'CREATE ROLE fidelity_gone');
    const again = await fresh('rtgt2');
    const kept = await engineRestore(b, {
      url: again.url,
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
    });
    expect(kept.missingRoles).toEqual([]);
    expect(await query(again.url, ACL)).toEqual(original);

    const bare = await fresh('rtgt3');
    await engineRestore(b, {
      url: bare.url,
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
      noOwner: true,
      noPrivileges: true,
    });
    expect(await query(bare.url, ACL)).toEqual([{ owner: 'postgres', acl: null }]);
  });
});
