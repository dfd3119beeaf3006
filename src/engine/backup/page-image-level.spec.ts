/**
 * The compression level of a full SQLite backup's page image: level 1 unless a level is
 * configured (PAGE_IMAGE_ZSTD_LEVEL), while the backup's other parts keep the compression's
 * default. Checked on real archives: zstd is deterministic for a given input and level, so an
 * image taken without a level has exactly the segment sizes of one taken at level 1, and one at
 * level 3 is smaller. Every one of them reads back to the file's bytes.
 */
import { fullBackupSpec } from './write-backup.fixture';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../test/support/databases';
import { createSqliteDialect } from '../dialects/sqlite';
import { LocalStorage } from '../storage/local-storage';
import type { Manifest } from '../archive/manifest.types';
import { keySourceFromConfig } from './backup-keys';
import { materializeImage, pageImageLevel, PAGE_IMAGE_ZSTD_LEVEL } from './page-image-archive';
import { writeBackup } from './write-backup';

describe('pageImageLevel', () => {
  it('is level 1 for zstd when no level is configured, the configured level otherwise', () => {
    expect(PAGE_IMAGE_ZSTD_LEVEL).toBe(1);
    expect(pageImageLevel('zstd', undefined)).toBe(1);
    expect(pageImageLevel('zstd', 3)).toBe(3);
    expect(pageImageLevel('zstd', 19)).toBe(19);
    // gzip's default is already its fastest level; none has no level.
    expect(pageImageLevel('gzip', undefined)).toBeUndefined();
    expect(pageImageLevel('gzip', 6)).toBe(6);
    expect(pageImageLevel('none', undefined)).toBeUndefined();
  });
});

describe('page image segments on a real archive', () => {
  const keyring = `k1:${randomBytes(32).toString('base64')}`;
  const keys = keySourceFromConfig({ keys: keyring });
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let source: string;
  let work: string;

  beforeAll(() => {
    dir = tempDir('strongroom-image-level-');
    storage = new LocalStorage(join(dir.path, 'store'));
    work = join(dir.path, 'work');
    mkdirSync(work);
    source = join(dir.path, 'app.db');
    const db = new Database(source);
    // Word-like text (compressible, and level 3 finds more of it than level 1), about 2 MiB: a
    // rollback-journal file, so the pages are read from the file itself.
    db.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`);
    const words = ['ledger', 'vault', 'backup', 'restore', 'page', 'segment', 'cipher', 'digest', 'frame', 'audit'];
    const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
    db.transaction(() => {
      let x = 7;
      for (let i = 0; i < 6000; i++) {
        const parts: string[] = [];
        for (let w = 0; w < 40; w++) {
          x = (x * 1103515245 + 12345) % 2147483648;
          parts.push(words[x % words.length] + String(x % 97));
        }
        insert.run(parts.join(' '));
      }
    })();
    db.close();
  });
  afterAll(() => dir.remove());

  async function backup(compressionLevel?: number): Promise<Manifest> {
    const spec = fullBackupSpec(['notes'], keys, {
      ...(compressionLevel === undefined ? {} : { compressionLevel }),
      workDir: work,
    });
    const dialect = createSqliteDialect(`sqlite:${source}`);
    try {
      return await writeBackup(dialect, storage, spec);
    } finally {
      await dialect.close();
    }
  }

  const sizes = (m: Manifest) => (m.image?.parts ?? []).map((p) => p.size);
  const total = (m: Manifest) => sizes(m).reduce((a, b) => a + b, 0);

  it('compresses the image at level 1 by default, at the configured level when there is one', async () => {
    const byDefault = await backup();
    const atOne = await backup(1);
    const atThree = await backup(3);
    expect(byDefault.image).toMatchObject({ kind: 'sqlite-pages', source: 'file' });
    expect(sizes(byDefault).length).toBeGreaterThan(0);
    expect(sizes(byDefault)).toEqual(sizes(atOne));
    expect(total(atThree)).toBeLessThan(total(byDefault));

    const file = readFileSync(source);
    for (const m of [byDefault, atThree]) {
      const scratch = await materializeImage(storage, `backups/${m.id}`, m, keys.keyring, work);
      try {
        expect(readFileSync(scratch.file).equals(file)).toBe(true);
      } finally {
        scratch.remove();
      }
    }
  });
});
