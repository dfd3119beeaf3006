/**
 * SQLite fidelity: every database of the corpus goes backup → deep verify → CLI disaster
 * restore into an empty file with --create-schema → canonical dump equal → mutate → dry run
 * equals the real change → replace → canonical dump equal again. The backup is taken by the
 * engine the service uses (writeBackup), restores go through the recovery code and the real
 * command line.
 */
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { readManifest } from '../../src/engine/backup/read-backup';
import { verifyBackup } from '../../src/engine/backup/verify-backup';
import { writeBackup } from '../../src/engine/backup/write-backup';
import { createSqliteDialect } from '../../src/engine/dialects/sqlite';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { planTables, restoreTables } from '../../src/engine/restore/restore-backup';
import { runCli } from '../cli/cli-process';
import { tempDir } from '../support/databases';
import { canonicalDump, integrityProblems, rowChanges, virtualTables } from './sqlite-canonical-dump';
import { CORPUS, type CorpusDatabase } from './sqlite-corpus';
import { fullBackupSpec } from '../../src/engine/backup/write-backup.fixture';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;
const keys = keySourceFromConfig({ keys: KEYRING });
const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

function build(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** `sqlite3 .dump`, with the AUTOINCREMENT counters sorted (their order is SQLite's bookkeeping). */
function cliDump(path: string): string {
  const res = spawnSync('sqlite3', [path, '.dump'], { encoding: 'latin1' });
  if (res.status !== 0) throw new Error(res.stderr);
  const lines = res.stdout.split('\n');
  const at = lines.flatMap((l, i) => (l.startsWith('INSERT INTO sqlite_sequence') ? [i] : []));
  const sorted = at.map((i) => lines[i]).sort();
  at.forEach((i, n) => (lines[i] = sorted[n]));
  return lines.join('\n');
}

/** A replace never lowers an AUTOINCREMENT counter: ids handed out since the backup are not handed out again. */
function withoutCounters(dump: Record<string, string[]>): Record<string, string[]> {
  const { sqlite_sequence: _, ...rest } = dump;
  return rest;
}

describe('SQLite fidelity corpus', () => {
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;

  beforeAll(() => {
    dir = tempDir('strongroom-fidelity-');
    storage = new LocalStorage(join(dir.path, 'store'));
  });
  afterAll(() => dir.remove());

  it('covers every feature the brief names, and FTS5/R*Tree are compiled in', () => {
    expect(CORPUS.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'fts5-regular',
        'fts5-external-content',
        'fts5-contentless',
        'rtree',
        'invalid-utf8-and-blobs',
        'implicit-rowid-gaps',
        'app-orm',
        'app-notes',
      ]),
    );
    const db = new Database(':memory:');
    expect(
      db
        .prepare(`SELECT sqlite_compileoption_used('ENABLE_FTS5') + sqlite_compileoption_used('ENABLE_RTREE')`)
        .pluck()
        .get(),
    ).toBe(2);
    db.close();
  });

  it.each(CORPUS.map((c) => [c.name, c] as const))(
    '%s comes back identical from a disaster restore and a replace',
    async (_name, c: CorpusDatabase) => {
      const source = join(dir.path, `${c.name}.db`);
      build(source, c.sql);
      const journalBefore = canonicalDump(source)['pragma:'].find((p) => p.startsWith('journal_mode'));
      const original = canonicalDump(source);

      // Backup with the engine the service uses.
      const dialect = createSqliteDialect(`sqlite:${source}`);
      const id = randomUUID();
      const backupDir = `backups/${id}`;
      try {
        const tables = (await dialect.listTables()).map((t) => t.name);
        const manifest = await writeBackup(
          dialect,
          storage,
          fullBackupSpec(tables, keys, { id, dir: backupDir, compression: 'gzip', parallel: 1 }),
        );
        expect(manifest.inventory?.schemas.main).toBeDefined();
        // Every object kind of the live catalog is in the archive's inventory.
        const live = new Database(source, { readonly: true });
        const kinds = new Set(
          (
            live
              .prepare(`SELECT DISTINCT type FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'`)
              .pluck()
              .all() as string[]
          ).map((k) => k),
        );
        live.close();
        const inv = manifest.inventory?.schemas.main ?? {};
        for (const k of kinds) {
          if (k === 'table') expect(Object.keys(inv).some((x) => x === 'table' || x === 'virtual-table')).toBe(true);
          else expect({ kind: k, present: k in inv }).toEqual({ kind: k, present: true });
        }
        if (virtualTables(new Database(source, { readonly: true })).length)
          expect(inv['virtual-table']?.count).toBeGreaterThan(0);
        expect(inv.pragma?.count).toBe(6);
      } finally {
        await dialect.close();
      }
      // Taking the backup left the application's file as it was (journal mode included).
      expect(canonicalDump(source)).toEqual(original);
      expect(canonicalDump(source)['pragma:']).toContain(journalBefore);

      const verified = await verifyBackup(storage, backupDir, keys, { deep: true });
      expect(verified.checks.filter((ch) => !ch.ok)).toEqual([]);
      expect(verified.checks.find((ch) => ch.name === 'inventory')).toMatchObject({ ok: true });

      // Disaster restore with the real command line into a new, empty file.
      const fresh = join(dir.path, `${c.name}.restored.db`);
      const res = await runCli(['restore', id, '--database-url', `sqlite:${fresh}`, '--create-schema', '--yes'], {
        DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
        BACKUP_DIR: join(dir.path, 'store'),
        BACKUP_ENCRYPTION_KEYS: KEYRING,
      });
      expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
      expect(canonicalDump(fresh)).toEqual(original);
      expect(integrityProblems(fresh)).toEqual([]);
      if (hasSqlite3 && virtualTables(new Database(fresh, { readonly: true })).length === 0)
        expect(cliDump(fresh)).toBe(cliDump(source));

      // Mutate, then the dry run must predict the replace exactly.
      build(source, c.mutate);
      const mutated = canonicalDump(source);
      const m = await readManifest(storage, backupDir);
      const target = createSqliteDialect(`sqlite:${source}`);
      try {
        const spec = {
          storage,
          dir: backupDir,
          manifest: m,
          keys,
          mode: 'replace' as const,
          tables: m.tables.map((t) => t.name),
        };
        const plan = await planTables(target, spec);
        expect(canonicalDump(source)).toEqual(mutated);
        await restoreTables(target, spec);
        const restored = canonicalDump(source);
        for (const p of plan) {
          const n = c.withoutRowidKeys?.[p.name];
          const keyOf = n ? (row: string) => row.split('|').slice(0, n).join('|') : undefined;
          expect({ table: p.name, ...rowChanges(mutated[p.name] ?? [], restored[p.name] ?? [], keyOf) }).toEqual({
            table: p.name,
            insert: p.insert,
            update: p.update,
            delete: p.delete,
            unchanged: p.unchanged,
          });
        }
        expect(withoutCounters(restored)).toEqual(withoutCounters(original));
        const counterOf = (row: string) =>
          Number(Buffer.from(row.split('|')[1].slice('integer:'.length), 'hex').toString());
        for (const counter of original.sqlite_sequence ?? []) {
          const now = (restored.sqlite_sequence ?? []).find((r) => r.split('|')[0] === counter.split('|')[0]) as string;
          expect(counterOf(now)).toBeGreaterThanOrEqual(counterOf(counter));
        }
        expect(integrityProblems(source)).toEqual([]);
      } finally {
        await target.close();
      }
      expect(existsSync(fresh)).toBe(true);
    },
  );
});
