/**
 * Fidelity on PostgreSQL: for every database of the corpus, a full backup, a deep verify, a
 * disaster restore into an empty database (the CLI's engine path with --create-schema), and
 * pg_dump's own view of both databases (schema, and sorted data) must be equal; then a
 * mutation of the copy, a dry run whose plan equals the change, a replace, and equal again.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { engineRestore } from '../../src/cli/engine-restore';
import { verifyBackup } from '../../src/engine/backup/verify-backup';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import type { Dialect } from '../../src/engine/dialects/dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { planTables } from '../../src/engine/restore/restore-backup';
import { createPgDatabase, pgServerUrl, tempDir, type TestDatabase } from '../support/databases';
import { CORPUS, type CorpusCase } from './pg-corpus';
import { fullBackup, keys } from './pg-fidelity-helpers';

async function run(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function pgDump(url: string, args: string[]): Promise<string> {
  const r = await promisify(execFile)('pg_dump', [...args, '--dbname', url], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`pg_dump failed: ${e.stderr ?? e.message}`);
  });
  // pg_dump 15.14+ brackets its output with a random \restrict key.
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict'))
    .join('\n');
}

/**
 * Schema as pg_dump writes it, and the data lines sorted (rows of tables without a key have no
 * order). The two dumps run side by side: each mostly waits on the server.
 */
async function dumps(url: string): Promise<{ schema: string; data: string }> {
  const [schema, data] = await Promise.all([pgDump(url, ['--schema-only']), pgDump(url, ['--data-only'])]);
  return { schema, data: data.split('\n').sort().join('\n') };
}

describe('PostgreSQL fidelity corpus', () => {
  const dir = tempDir();
  const storage = new LocalStorage(join(dir.path, 'store'));
  afterAll(() => dir.remove());

  describe.each(CORPUS.map((c) => [c.name, c] as [string, CorpusCase]))('%s', (_name, c) => {
    let source: TestDatabase;
    let target: TestDatabase;
    let dialect: Dialect;
    beforeAll(async () => {
      source = await createPgDatabase('fid');
      target = await createPgDatabase('fidcopy');
      await run(source.url, c.setup);
      dialect = createDialect(source.url);
    });
    afterAll(async () => {
      await dialect.close();
      await source.drop();
      await target.drop();
    });

    it('comes back identical from a disaster restore and from a replace', async () => {
      const before = await dumps(source.url);
      const m = await fullBackup(dialect, storage);
      expect(m.inventory).toBeDefined();
      const b = { storage, dir: `backups/${m.id}`, manifest: m, keys };

      const verdict = await verifyBackup(storage, b.dir, keys, { deep: true, scratchServerUrl: pgServerUrl() });
      expect(verdict.checks.filter((k) => !k.ok)).toEqual([]);
      expect(verdict.checks.find((k) => k.name === 'inventory')?.ok).toBe(true);

      const restored = await engineRestore(b, {
        url: target.url,
        mode: 'replace',
        createSchema: true,
        files: false,
        allowSchemaMismatch: false,
      });
      expect(restored.missingRoles).toEqual([]);
      const copy = await dumps(target.url);
      expect(copy.schema).toEqual(before.schema);
      expect(copy.data).toEqual(before.data);

      await run(target.url, c.mutate);
      const copyDialect = createDialect(target.url);
      try {
        const live = new Map((await copyDialect.listTables()).map((t) => [t.name, t]));
        const counts = new Map<string, number>();
        const cl = new Client({ connectionString: target.url });
        await cl.connect();
        try {
          for (const t of live.keys()) {
            const quoted = t
              .split('.')
              .map((p) => `"${p}"`)
              .join('.');
            const res = await cl.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted}`);
            counts.set(t, res.rows[0].n);
          }
        } finally {
          await cl.end();
        }
        const plan = await planTables(copyDialect, { ...b, mode: 'replace', tables: m.tables.map((t) => t.name) });
        for (const p of plan) {
          const t = m.tables.find((x) => x.name === p.name)!;
          const want = t.structure.primaryKey.length
            ? (c.expect[p.name] ?? { insert: 0, update: 0, delete: 0 })
            : { insert: t.rows, update: 0, delete: counts.get(p.name) };
          expect({ table: p.name, insert: p.insert, update: p.update, delete: p.delete }).toEqual({
            table: p.name,
            ...want,
          });
        }
      } finally {
        await copyDialect.close();
      }

      await engineRestore(b, {
        url: target.url,
        mode: 'replace',
        createSchema: false,
        files: false,
        allowSchemaMismatch: false,
      });
      const again = await dumps(target.url);
      expect(again.schema).toEqual(before.schema);
      expect(again.data).toEqual(before.data);
    });
  });
});
