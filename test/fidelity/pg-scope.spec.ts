/**
 * What a full PostgreSQL backup covers: every object kind the live catalog holds reaches the
 * archive, an object the archive lacks fails the backup by name, and configured exclusions
 * are applied and recorded.
 */
import { join } from 'node:path';
import { engineRestore } from '../../src/cli/engine-restore';
import { keysForManifest } from '../../src/engine/backup/backup-keys';
import { readDatabaseDdl } from '../../src/engine/backup/read-backup';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import { PostgresDialect } from '../../src/engine/dialects/postgres/postgres.dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { createPgDatabase, tempDir, type TestDatabase, pgQuery } from '../support/databases';
import { fullBackup, keys } from './pg-fidelity-helpers';
import { KITCHEN_SINK } from './pg-corpus';

const query = pgQuery;

/**
 * Objects as the catalog's own dependency graph lists them (independently of Strongroom's
 * inventory query): everything that belongs to a user schema or to a user relation.
 */
const LIVE_OBJECTS = `
  WITH user_ns AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'),
  owned AS (
    SELECT DISTINCT d.classid, d.objid FROM pg_depend d
    WHERE d.deptype IN ('n', 'a') AND d.objsubid = 0
      AND ((d.refclassid = 'pg_namespace'::regclass AND d.refobjid IN (SELECT oid FROM user_ns))
        OR (d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns))))
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype IN ('e', 'i'))
  )
  SELECT a.type, a.object_names[cardinality(a.object_names)] AS name FROM owned, pg_identify_object_as_address(owned.classid, owned.objid, 0) a
  UNION ALL SELECT 'extension', extname FROM pg_extension WHERE extname <> 'plpgsql'
  UNION ALL SELECT 'publication', pubname FROM pg_publication
  UNION ALL SELECT 'large object', oid::text FROM pg_largeobject_metadata`;

describe('what a full PostgreSQL backup covers', () => {
  const dir = tempDir();
  const storage = new LocalStorage(join(dir.path, 'store'));
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
    dir.remove();
  });

  it('archives every kind of object the live catalog holds', async () => {
    db = await createPgDatabase('sink');
    await query(db.url, KITCHEN_SINK);
    const dialect = createDialect(db.url);
    try {
      const m = await fullBackup(dialect, storage);
      const sections = await readDatabaseDdl(storage, `backups/${m.id}`, m, await keysForManifest(keys, m));
      const ddl = `${sections!.ddl.preData}\n${sections!.ddl.postData}`;
      const live = await query<{ type: string; name: string | null }>(db.url, LIVE_OBJECTS);
      const kinds = new Map<string, { live: number; archived: number }>();
      for (const o of live) {
        if (o.type === 'default value' || o.name === null) continue;
        const k = kinds.get(o.type) ?? { live: 0, archived: 0 };
        k.live++;
        // pg_dump names every object it writes, quoted where needed; large objects by their oid.
        const quoted = /^[a-z_][a-z0-9_]*$/.test(o.name) ? o.name : `"${o.name.replace(/"/g, '""')}"`;
        if (ddl.includes(quoted) || ddl.includes(o.name)) k.archived++;
        kinds.set(o.type, k);
      }
      // The corpus above must really exercise these kinds, or the check below proves little.
      for (const kind of [
        'table',
        'index',
        'function',
        'type',
        'sequence',
        'view',
        'materialized view',
        'trigger',
        'rule',
        'policy',
        'table constraint',
        'collation',
        'operator',
        'aggregate',
        'procedure',
        'text search configuration',
        'extension',
        'publication',
        'large object',
      ]) {
        expect([kind, kinds.has(kind)]).toEqual([kind, true]);
      }
      for (const [kind, k] of kinds) expect({ kind, archived: k.archived }).toEqual({ kind, archived: k.live });
      // The inventory counts the same kinds (its own names for them).
      const inv = m.inventory!.schemas;
      expect(Object.keys(inv.app).sort()).toEqual(
        expect.arrayContaining([
          'aggregate',
          'check constraint',
          'collation',
          'composite type',
          'domain',
          'enum',
          'exclusion constraint',
          'foreign key',
          'function',
          'index',
          'materialized view',
          'operator',
          'partitioned table',
          'policy',
          'primary key',
          'procedure',
          'range type',
          'row level security',
          'rule',
          'sequence',
          'table',
          'text search configuration',
          'trigger',
          'unique constraint',
          'view',
        ]),
      );
      expect(Object.keys(inv[''])).toEqual(
        expect.arrayContaining(['extension', 'large object', 'publication', 'schema']),
      );
    } finally {
      await dialect.close();
    }
  });

  it('fails a backup whose DDL lacks an object, naming it', async () => {
    const dialect = new PostgresDialect(db.url);
    const snap = await dialect.openSnapshot(
      (await dialect.listTables()).map((t) => t.name),
      { wholeDatabase: true },
    );
    try {
      const ddl = await snap.databaseDdl!();
      const cut = ddl.preData.replace(/^--\n-- Name: sad_things; Type: VIEW;[\s\S]*?(?=^--\n-- Name:)/m, '');
      expect(cut).not.toEqual(ddl.preData);
      await expect(snap.inventory!({ ...ddl, preData: cut }, { 'app.things': 1, 'app.parts': 0 })).rejects.toThrow(
        /could not capture 1 object\(s\).*view app\.sad_things/,
      );
      await expect(snap.inventory!(ddl, { 'app.things': 1 })).rejects.toThrow(
        /did not archive the rows of table\(s\) app\.parts/,
      );
    } finally {
      await snap.close();
      await dialect.close();
    }
  });

  it('leaves out what configuration excludes and records it', async () => {
    const src = await createPgDatabase('scope');
    const copy = await createPgDatabase('scopecopy');
    try {
      await query(
        src.url,
        `
        CREATE SCHEMA keep; CREATE SCHEMA scratch;
        CREATE TABLE keep.a (id int PRIMARY KEY); INSERT INTO keep.a VALUES (1), (2);
        CREATE TABLE scratch.tmp (id int); INSERT INTO scratch.tmp VALUES (1);
        CREATE TABLE logs (line text); INSERT INTO logs VALUES ('x');
        CREATE VIEW log_lines AS SELECT line FROM logs;
        CREATE TABLE strongroom_leases (name text PRIMARY KEY);`,
      );
      const dialect = createDialect(src.url, { scope: { excludeSchemas: ['scr*'], excludeTables: ['logs'] } });
      let m;
      try {
        // The caller leaves its bookkeeping table out, as the backup service does.
        const tables = (await dialect.listTables()).map((t) => t.name).filter((n) => n !== 'strongroom_leases');
        expect(tables).toEqual(expect.arrayContaining(['keep.a', 'scratch.tmp', 'logs']));
        m = await fullBackup(dialect, storage, tables);
      } finally {
        await dialect.close();
      }
      expect(m.excluded).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'schema', name: 'scratch' }),
          expect.objectContaining({ kind: 'table-data', name: 'logs' }),
          expect.objectContaining({ kind: 'table', name: 'strongroom_leases' }),
        ]),
      );
      expect(m.tables.map((t) => t.name).sort()).toEqual(['keep.a']);
      await engineRestore(
        { storage, dir: `backups/${m.id}`, manifest: m, keys },
        {
          url: copy.url,
          mode: 'replace',
          createSchema: true,
          files: false,
          allowSchemaMismatch: false,
        },
      );
      const rels = await query<{ name: string }>(
        copy.url,
        `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v') AND n.nspname IN ('public', 'keep', 'scratch') ORDER BY 1`,
      );
      expect(rels.map((r) => r.name)).toEqual(['keep.a', 'public.log_lines', 'public.logs']);
      expect(await query(copy.url, 'SELECT count(*)::int AS n FROM keep.a')).toEqual([{ n: 2 }]);
      expect(await query(copy.url, 'SELECT count(*)::int AS n FROM logs')).toEqual([{ n: 0 }]);
    } finally {
      await src.drop();
      await copy.drop();
    }
  });
});
