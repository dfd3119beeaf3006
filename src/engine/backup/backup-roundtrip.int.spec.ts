/**
 * The engine's backup path end to end on real databases and real storage: write, verify,
 * deep-verify, and every way a stored backup can be damaged or unreadable.
 */
import { fullBackupSpec } from './write-backup.fixture';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import Database from 'better-sqlite3';
import { createDialect } from '../dialects/create-dialect';
import type { Dialect } from '../dialects/dialect';
import { LocalStorage } from '../storage/local-storage';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../../../test/support/databases';
import { keySourceFromConfig, KeySource } from './backup-keys';
import { verifyBackup } from './verify-backup';
import { writeBackup, WriteBackupSpec } from './write-backup';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');

async function seed(db: TestDatabase): Promise<void> {
  const ddl = [
    `CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, budget NUMERIC)`,
    `CREATE TABLE tasks (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), title TEXT, done BOOLEAN)`,
  ];
  if (db.engine === 'postgres') {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    for (const s of ddl) await c.query(s);
    await c.query(`INSERT INTO projects SELECT g, 'project ' || g, g * 10.5 FROM generate_series(1, 50) g`);
    await c.query(
      `INSERT INTO tasks SELECT g, 1 + g % 50, 'task ' || g || repeat('x', g % 300), g % 2 = 0 FROM generate_series(1, 3000) g`,
    );
    await c.end();
  } else {
    const d = new Database(db.url.slice('sqlite:'.length));
    for (const s of ddl) d.exec(s);
    const p = d.prepare('INSERT INTO projects VALUES (?, ?, ?)');
    const t = d.prepare('INSERT INTO tasks VALUES (?, ?, ?, ?)');
    d.transaction(() => {
      for (let i = 1; i <= 50; i++) p.run(i, `project ${i}`, i * 10.5);
      for (let i = 1; i <= 3000; i++) t.run(i, 1 + (i % 50), `task ${i}${'x'.repeat(i % 300)}`, i % 2);
    })();
    d.close();
  }
}

describe.each(ENGINES)('writeBackup + verifyBackup on %s', (engine) => {
  let db: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let dialect: Dialect;
  const keys: KeySource = keySourceFromConfig({ keys: `a:${KEY_A}` });

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await seed(db);
    dir = tempDir();
    storage = new LocalStorage(join(dir.path, 'store'));
    dialect = createDialect(db.url);
  });
  afterAll(async () => {
    await dialect.close();
    await db.drop();
    dir.remove();
  });

  // These cases are about per-table parts; the page image has its own spec (page-image.e2e).
  const spec = (over: Partial<WriteBackupSpec> = {}): WriteBackupSpec =>
    fullBackupSpec(['projects', 'tasks'], keys, { fullFormat: 'rows', ...over });
  const serverUrl = () => (engine === 'postgres' ? db.url : undefined);

  it('writes a complete, verifiable backup with the manifest last', async () => {
    const files = tempDir();
    mkdirSync(join(files.path, 'sub'));
    writeFileSync(join(files.path, 'sub', 'report.pdf'), randomBytes(100_000));
    const s = spec({ fileRoots: [files.path] });
    const progress: string[] = [];
    const m = await writeBackup(dialect, storage, { ...s, onProgress: (p) => progress.push(p.phase) });
    expect(m.tables.map((t) => [t.name, t.rows])).toEqual([
      ['projects', 50],
      ['tasks', 3000],
    ]);
    // Tables of built-in types travel as binary COPY on PostgreSQL (pg-copy-binary.ts); the deep
    // verify below rebuilds them and compares their content checksums in that form.
    expect(m.tables.map((t) => t.rowFormat)).toEqual(
      engine === 'postgres' ? ['pg-copy-binary', 'pg-copy-binary'] : [undefined, undefined],
    );
    expect(m.encryption).toMatchObject({ algorithm: 'AES-256-GCM', keyId: 'a' });
    expect(m.files).toMatchObject({ count: 1, bytes: 100_000 });
    expect(progress[progress.length - 1]).toBe('done');
    const stored = await storage.list(s.dir);
    expect(stored.map((o) => o.key)).toContain(`${s.dir}/manifest.json`);
    const v = await verifyBackup(storage, s.dir, keys, { deep: true, scratchServerUrl: serverUrl() });
    expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['manifest', 'deep restore', 'table tasks']));
    files.remove();
  });

  it('names the part when any stored byte is flipped, and the manifest when it is', async () => {
    const s = spec();
    const m = await writeBackup(dialect, storage, s);
    const root = join(dir.path, 'store', s.dir);
    for (const name of ['parts/schema.sql', 'parts/0002.rows', 'manifest.json']) {
      const file = join(root, name);
      const original = readFileSync(file);
      const damaged = Buffer.from(original);
      damaged[Math.floor(damaged.length / 2)] ^= 0x01;
      writeFileSync(file, damaged);
      const v = await verifyBackup(storage, s.dir, keys);
      expect(v.ok).toBe(false);
      const bad = v.checks.find((c) => !c.ok);
      expect(bad?.name).toBe(name === 'manifest.json' ? 'manifest' : `part ${name}`);
      writeFileSync(file, original);
    }
    expect((await verifyBackup(storage, s.dir, keys)).ok).toBe(true);
    expect(m.tables).toHaveLength(2);
  });

  it('fails clearly with a wrong key or without one', async () => {
    const s = spec();
    await writeBackup(dialect, storage, s);
    const wrong = await verifyBackup(storage, s.dir, keySourceFromConfig({ keys: `a:${KEY_B}` }));
    expect(wrong.ok).toBe(false);
    expect(wrong.checks.find((c) => !c.ok)?.detail).toMatch(/wrong key|authentic/i);
    const missing = await verifyBackup(storage, s.dir, keySourceFromConfig({}));
    expect(missing.ok).toBe(false);
    expect(missing.checks.find((c) => !c.ok)?.detail).toMatch(/BACKUP_ENCRYPTION_KEYS is not set/);
    const rotated = await verifyBackup(storage, s.dir, keySourceFromConfig({ keys: `a:${KEY_A},b:${KEY_B}` }));
    expect(rotated.ok).toBe(true);
  });

  it('leaves nothing behind when the backup fails, and earlier backups intact', async () => {
    const good = spec();
    await writeBackup(dialect, storage, good);
    const bad = spec({ fileRoots: ['/nonexistent/strongroom-artefacts'] });
    await expect(writeBackup(dialect, storage, bad)).rejects.toThrow(/does not exist/);
    expect(await storage.list(bad.dir)).toEqual([]);
    expect((await verifyBackup(storage, good.dir, keys)).ok).toBe(true);
  });

  it('backs up without encryption and with gzip when asked', async () => {
    const s = spec({ keys: keySourceFromConfig({}), compression: 'gzip' });
    const m = await writeBackup(dialect, storage, s);
    expect(m.encryption).toBeNull();
    expect(m.compression).toBe('gzip');
    expect((await verifyBackup(storage, s.dir, keySourceFromConfig({}))).ok).toBe(true);
  });

  it('honours the compression level: a higher zstd level stores fewer bytes, and both verify', async () => {
    const fast = spec({ compressionLevel: 1 });
    const small = spec({ compressionLevel: 19 });
    const mFast = await writeBackup(dialect, storage, fast);
    const mSmall = await writeBackup(dialect, storage, small);
    const stored = (m: typeof mFast) => m.tables.reduce((n, t) => n + (t.part?.size ?? 0), 0);
    expect(stored(mSmall)).toBeLessThan(stored(mFast));
    expect(mSmall.tables.map((t) => t.sha256)).toEqual(mFast.tables.map((t) => t.sha256));
    expect((await verifyBackup(storage, small.dir, keys)).ok).toBe(true);
  });

  it('derives the key from a passphrase with scrypt and needs the same passphrase to read', async () => {
    const s = spec({ keys: keySourceFromConfig({ passphrase: 'correct horse battery staple' }) });
    const m = await writeBackup(dialect, storage, s);
    expect(m.encryption?.kdf?.name).toBe('scrypt');
    expect(
      (await verifyBackup(storage, s.dir, keySourceFromConfig({ passphrase: 'correct horse battery staple' }))).ok,
    ).toBe(true);
    expect(
      (await verifyBackup(storage, s.dir, keySourceFromConfig({ passphrase: 'wrong horse battery staple' }))).ok,
    ).toBe(false);
  });

  it('keeps no temp files in storage', () => {
    const all = readdirSync(join(dir.path, 'store'), { recursive: true }) as string[];
    expect(all.filter((f) => /tmp/.test(f))).toEqual([]);
  });
});
