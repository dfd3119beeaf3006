/**
 * Full SQLite backups as a page image: taken at the snapshot (a WAL file whose frames make the
 * backup API copy the pages first), cut into several segments, and every operation on such an
 * archive works by opening the image as a scratch database: deep verify, a per-table restore, a
 * dry run, a full replace and the command line's disaster restore. A damaged segment is named
 * and changes nothing; a cancelled backup leaves neither parts nor its temporary copy.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { verifyBackup } from '../../src/engine/backup/verify-backup';
import { BackupAbortedError, writeBackup, type WriteBackupSpec } from '../../src/engine/backup/write-backup';
import { createSqliteDialect } from '../../src/engine/dialects/sqlite';
import { dryRunTables, restoreTables } from '../../src/engine/restore/restore-backup';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import type { Manifest } from '../../src/engine/archive/manifest.types';
import { runCli } from '../cli/cli-process';
import { canonicalDump, integrityProblems } from '../fidelity/sqlite-canonical-dump';
import { tempDir } from '../support/databases';
import { fullBackupSpec } from '../../src/engine/backup/write-backup.fixture';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;
const keys = keySourceFromConfig({ keys: KEYRING });

describe('SQLite page-image backups', () => {
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let work: string;
  let source: string;
  let writer: Database.Database;
  let original: Record<string, string[]>;

  beforeAll(() => {
    dir = tempDir('strongroom-image-');
    storage = new LocalStorage(join(dir.path, 'store'));
    work = join(dir.path, 'work');
    mkdirSync(work);
    source = join(dir.path, 'app.db');
    // Kept open: its WAL keeps frames, so the backup copies the pages with the online backup API.
    writer = new Database(source);
    writer.pragma('journal_mode = WAL');
    writer.exec(`
      PRAGMA user_version = 7;
      CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE files (project_id INTEGER NOT NULL REFERENCES projects (id), body BLOB);
      CREATE TABLE tags (label TEXT);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
        INSERT INTO projects SELECT i, 'project ' || i FROM n;
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
        INSERT INTO files SELECT 1 + i % 50, randomblob(3500) FROM n;
      INSERT INTO tags (rowid, label) VALUES (3, 'a'), (10, 'b'), (11, CAST(x'ff00fe' AS TEXT));`);
    original = canonicalDump(source);
  });
  afterAll(() => {
    writer.close();
    dir.remove();
  });

  const spec = (over: Partial<WriteBackupSpec> = {}): WriteBackupSpec =>
    fullBackupSpec(['files', 'projects', 'tags'], keys, { workDir: work, ...over });

  async function backup(over: Partial<WriteBackupSpec> = {}): Promise<Manifest> {
    const dialect = createSqliteDialect(`sqlite:${source}`);
    try {
      return await writeBackup(dialect, storage, spec(over));
    } finally {
      await dialect.close();
    }
  }

  it('backs up the pages and restores, dry-runs and verifies from them', async () => {
    const m = await backup();
    expect(m.image).toMatchObject({ kind: 'sqlite-pages', source: 'copy', pageSize: 4096 });
    expect(m.image?.parts.length).toBeGreaterThan(1);
    expect(m.image?.parts.map((p) => p.name)).toEqual(m.image?.parts.map((_p, i) => `parts/image-000${i + 1}.pages`));
    expect(m.tables.map((t) => [t.name, t.rows, t.part])).toEqual([
      ['projects', 50, undefined],
      ['files', 1500, undefined],
      ['tags', 3, undefined],
    ]);
    expect(m.inventory?.rows).toEqual({ 'main.files': 1500, 'main.projects': 50, 'main.tags': 3 });
    expect(readdirSync(work)).toEqual([]);
    expect(canonicalDump(source)).toEqual(original);

    const verified = await verifyBackup(storage, `backups/${m.id}`, keys, { deep: true });
    expect(verified.checks.filter((c) => !c.ok)).toEqual([]);
    expect(verified.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['page image', 'deep restore', 'table files', 'inventory']),
    );

    const target = createSqliteDialect(`sqlite:${source}`);
    const restore = { storage, dir: `backups/${m.id}`, manifest: m, keys };
    try {
      writer.exec(`UPDATE projects SET name = 'renamed' WHERE id = 1; DELETE FROM tags WHERE rowid = 10;`);
      // One table: tags comes back, the renamed project stays renamed.
      await restoreTables(target, { ...restore, mode: 'replace', tables: ['tags'] });
      expect(canonicalDump(source).tags).toEqual(original.tags);
      expect(writer.prepare('SELECT name FROM projects WHERE id = 1').pluck().get()).toBe('renamed');

      const dry = await dryRunTables(target, { ...restore, mode: 'replace', tables: ['projects', 'files', 'tags'] });
      expect(dry.blockers).toEqual([]);
      expect(dry.tables.find((t) => t.name === 'projects')).toMatchObject({ update: 1, unchanged: 49 });
      expect(dry.tables.find((t) => t.name === 'files')).toMatchObject({ unchanged: 1500 });

      await restoreTables(target, { ...restore, mode: 'replace', tables: ['projects', 'files', 'tags'] });
      expect(canonicalDump(source)).toEqual(original);
    } finally {
      await target.close();
    }
    expect(readdirSync(work)).toEqual([]);

    const fresh = join(dir.path, 'restored.db');
    const res = await runCli(['restore', m.id, '--database-url', `sqlite:${fresh}`, '--create-schema', '--yes'], {
      DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
      BACKUP_DIR: join(dir.path, 'store'),
      BACKUP_ENCRYPTION_KEYS: KEYRING,
    });
    expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
    expect(canonicalDump(fresh)).toEqual(original);
    expect(integrityProblems(fresh)).toEqual([]);
  });

  it('names a damaged image segment, and a restore from it changes nothing', async () => {
    const m = await backup({ compression: 'none' });
    const name = m.image?.parts[1].name as string;
    const file = join(dir.path, 'store', 'backups', m.id, name);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);

    const verified = await verifyBackup(storage, `backups/${m.id}`, keys);
    expect(verified.ok).toBe(false);
    expect(verified.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([`part ${name}`]);

    writer.exec(`UPDATE projects SET name = 'changed' WHERE id = 2`);
    const before = canonicalDump(source);
    const target = createSqliteDialect(`sqlite:${source}`);
    try {
      await expect(
        restoreTables(target, {
          storage,
          dir: `backups/${m.id}`,
          manifest: m,
          keys,
          mode: 'replace',
          tables: ['projects'],
        }),
      ).rejects.toThrow(name);
    } finally {
      await target.close();
    }
    expect(canonicalDump(source)).toEqual(before);
    expect(readdirSync(work)).toEqual([]);
    writer.exec(`UPDATE projects SET name = 'project 2' WHERE id = 2`);
  });

  it.each(['snapshot', 'tables'] as const)(
    'a backup cancelled at its %s phase leaves no part and no temporary copy',
    async (phase) => {
      const cancel = new AbortController();
      const s = spec({ signal: cancel.signal, onProgress: (p) => p.phase === phase && cancel.abort() });
      const dialect = createSqliteDialect(`sqlite:${source}`);
      try {
        await expect(writeBackup(dialect, storage, s)).rejects.toBeInstanceOf(BackupAbortedError);
      } finally {
        await dialect.close();
      }
      expect(await storage.list(s.dir)).toEqual([]);
      expect(readdirSync(work)).toEqual([]);
    },
  );

  it('keeps per-table rows when asked, and for a file holding tables the backup leaves out', async () => {
    expect((await backup({ fullFormat: 'rows' })).image).toBeUndefined();
    expect((await backup({ tables: ['projects', 'files'] })).image).toBeUndefined();
  });
});
