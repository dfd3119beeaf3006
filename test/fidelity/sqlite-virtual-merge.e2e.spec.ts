/**
 * Merge and missing-only restores of SQLite full-text and R*Tree tables: rows written through
 * the module (matched by rowid), external-content indexes rebuilt from their restored content,
 * contentless indexes refused by name. After every restore each full-text index passes its
 * own 'integrity-check', the dry run predicted the change exactly, and searches find what the
 * merged rows say.
 */
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { writeBackup } from '../../src/engine/backup/write-backup';
import type { RestoreMode } from '../../src/engine/dialects/dialect';
import { createSqliteDialect } from '../../src/engine/dialects/sqlite';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import type { Manifest } from '../../src/engine/archive/manifest.types';
import { planTables, restoreTables } from '../../src/engine/restore/restore-backup';
import { tablesReplaceOnly, tablesWithoutKey } from '../../src/engine/restore/preflight';
import { runCli } from '../cli/cli-process';
import { tempDir } from '../support/databases';
import { canonicalDump, integrityProblems, rowChanges } from './sqlite-canonical-dump';
import { CORPUS } from './sqlite-corpus';
import { fullBackupSpec } from '../../src/engine/backup/write-backup.fixture';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;
const keys = keySourceFromConfig({ keys: KEYRING });

function exec(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

function rowids(path: string, sql: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(sql).pluck().all() as number[]).map(Number).sort((a, b) => a - b);
  } finally {
    db.close();
  }
}

/** What a merge (backup rows win) or a missing-only (live rows win) should leave, from the two dumps; rows keyed by their first value. */
function expected(mode: RestoreMode, backup: string[], live: string[]): string[] {
  const key = (r: string) => r.split('|')[0];
  const out = new Map(live.map((r) => [key(r), r]));
  for (const r of backup) if (mode === 'merge' || !out.has(key(r))) out.set(key(r), r);
  return [...out.values()].sort();
}

describe('SQLite merge and missing-only of full-text and R*Tree tables', () => {
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;

  beforeAll(() => {
    dir = tempDir('strongroom-vmerge-');
    storage = new LocalStorage(join(dir.path, 'store'));
  });
  afterAll(() => dir.remove());

  async function backup(path: string): Promise<{ id: string; manifest: Manifest }> {
    const dialect = createSqliteDialect(`sqlite:${path}`);
    const id = randomUUID();
    try {
      const tables = (await dialect.listTables()).map((t) => t.name);
      const manifest = await writeBackup(
        dialect,
        storage,
        fullBackupSpec(tables, keys, { id, dir: `backups/${id}`, compression: 'gzip', parallel: 1 }),
      );
      return { id, manifest };
    } finally {
      await dialect.close();
    }
  }

  const ALSO_DELETE: Record<string, string> = {
    'fts5-regular': 'DELETE FROM docs WHERE rowid = 7',
    rtree: 'DELETE FROM boxes WHERE id = 8',
  };
  const cases = ['fts5-regular', 'fts5-external-content', 'fts4-and-geopoly', 'rtree', 'app-notes'].flatMap((name) =>
    (['merge', 'missing-only'] as const).map((mode) => [name, mode] as const),
  );

  it.each(cases)(
    '%s: %s restores through the module, the dry run predicts it, and every index stays sound',
    async (name, mode) => {
      const c = CORPUS.find((x) => x.name === name);
      if (!c) throw new Error(`no corpus database ${name}`);
      const path = join(dir.path, `${name}-${mode}.db`);
      exec(path, c.sql);
      const original = canonicalDump(path);
      const { id, manifest } = await backup(path);
      // A deleted row as well, so missing-only has something to bring back in every case.
      exec(path, `${c.mutate}; ${ALSO_DELETE[name] ?? ''}`);
      const mutated = canonicalDump(path);
      // Tables without a key of their own (history logs) stay out: a merge needs something to match on.
      const tables = manifest.tables.map((t) => t.name).filter((t) => !tablesWithoutKey(manifest, [t], mode).length);
      expect(tables.length).toBeGreaterThan(0);
      expect(tablesReplaceOnly(manifest, tables, mode)).toEqual([]);

      const target = createSqliteDialect(`sqlite:${path}`);
      try {
        const spec = { storage, dir: `backups/${id}`, manifest, keys, mode, tables };
        const plan = await planTables(target, spec);
        await restoreTables(target, spec);
        const restored = canonicalDump(path);
        for (const p of plan) {
          // Live rows the backup does not hold are left alone and not in the plan's `unchanged`.
          const { unchanged: _, ...changed } = rowChanges(mutated[p.name] ?? [], restored[p.name] ?? []);
          expect({ table: p.name, ...changed }).toEqual({
            table: p.name,
            insert: p.insert,
            update: p.update,
            delete: p.delete,
          });
          expect({ table: p.name, rows: restored[p.name] ?? [] }).toEqual({
            table: p.name,
            rows: expected(mode, original[p.name] ?? [], mutated[p.name] ?? []),
          });
        }
        // Something really happened: every case's mutation leaves the backup something to bring back.
        expect(plan.reduce((n, p) => n + p.insert + p.update, 0)).toBeGreaterThan(0);
      } finally {
        await target.close();
      }
      expect(integrityProblems(path)).toEqual([]);
    },
  );

  it('a merged own-content FTS5 index finds the merged text, and a missing-only one keeps the live text', async () => {
    const c = CORPUS.find((x) => x.name === 'fts5-regular') as (typeof CORPUS)[number];
    const results: Record<string, Record<string, number[]>> = {};
    for (const mode of ['merge', 'missing-only'] as const) {
      const path = join(dir.path, `search-${mode}.db`);
      exec(path, c.sql);
      const { id, manifest } = await backup(path);
      // After the backup: row 3 rewritten, row 7 deleted, row 20 added.
      exec(
        path,
        `UPDATE docs SET body = 'changed' WHERE rowid = 3; DELETE FROM docs WHERE rowid = 7; INSERT INTO docs (rowid, title, body) VALUES (20, 'New', 'after the backup');`,
      );
      const target = createSqliteDialect(`sqlite:${path}`);
      try {
        await restoreTables(target, { storage, dir: `backups/${id}`, manifest, keys, mode, tables: ['docs'] });
      } finally {
        await target.close();
      }
      const match = (q: string) => rowids(path, `SELECT rowid FROM docs WHERE docs MATCH '${q}'`);
      results[mode] = {
        whole: match('whole'),
        changed: match('changed'),
        restores: match('restores'),
        after: match('after'),
      };
      exec(path, `INSERT INTO docs (docs) VALUES ('integrity-check')`);
    }
    expect(results).toEqual({
      merge: { whole: [3], changed: [], restores: [7], after: [20] },
      'missing-only': { whole: [], changed: [3], restores: [7], after: [20] },
    });
  });

  it('an R*Tree merge finds boxes where the backup put them', async () => {
    const c = CORPUS.find((x) => x.name === 'rtree') as (typeof CORPUS)[number];
    const path = join(dir.path, 'rtree-search.db');
    exec(path, c.sql);
    const { id, manifest } = await backup(path);
    exec(
      path,
      `UPDATE boxes SET min_x = 500, max_x = 600 WHERE id = 1; DELETE FROM boxes WHERE id = 2; INSERT INTO boxes VALUES (30, 1, 2, 1, 2, 'late')`,
    );
    const target = createSqliteDialect(`sqlite:${path}`);
    try {
      await restoreTables(target, { storage, dir: `backups/${id}`, manifest, keys, mode: 'merge', tables: ['boxes'] });
    } finally {
      await target.close();
    }
    expect(rowids(path, `SELECT id FROM boxes WHERE min_x <= 3 AND max_x >= 3`)).toEqual([1, 2]);
    expect(rowids(path, `SELECT id FROM boxes WHERE max_x >= 500`)).toEqual([]);
    expect(rowids(path, `SELECT id FROM boxes`)).toEqual([1, 2, 8, 30]);
  });

  it('a contentless full-text index is refused in merge mode, naming the table and why', async () => {
    const c = CORPUS.find((x) => x.name === 'fts5-contentless') as (typeof CORPUS)[number];
    const path = join(dir.path, 'contentless.db');
    exec(path, c.sql);
    const { id, manifest } = await backup(path);
    const shadows = manifest.tables.filter((t) => t.structure.contentlessIndex === 'terms').map((t) => t.name);
    expect(shadows.length).toBeGreaterThan(0);
    expect(tablesReplaceOnly(manifest, shadows, 'merge').map((t) => t.table)).toEqual(shadows);
    expect(tablesReplaceOnly(manifest, shadows, 'replace')).toEqual([]);
    exec(path, c.mutate);
    const before = canonicalDump(path);
    const res = await runCli(['restore', id, '--database-url', `sqlite:${path}`, '--mode', 'missing-only', '--yes'], {
      DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
      BACKUP_DIR: join(dir.path, 'store'),
      BACKUP_ENCRYPTION_KEYS: KEYRING,
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${shadows[0]}`);
    expect(res.stderr).toContain('contentless full-text index terms');
    expect(canonicalDump(path)).toEqual(before);
  });
});
