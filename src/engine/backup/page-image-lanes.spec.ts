/**
 * A page image large enough for several segments goes through every lane (segmentLanes): part
 * workers that read their segments from the file themselves, and, on two cores, this thread.
 * Checked on a real file and real storage: the segments read back, in order, to the file's bytes,
 * and the database file's descriptor, which the workers read through, is still open afterwards
 * (closing it would drop the process's locks on the file).
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../test/support/databases';
import { partWorkers } from '../archive/part-worker-pool';
import { createSqliteDialect } from '../dialects/sqlite';
import { LocalStorage } from '../storage/local-storage';
import { keySourceFromConfig } from './backup-keys';
import { materializeImage, segmentBytes, segmentLanes } from './page-image-archive';
import { writeBackup } from './write-backup';
import { fullBackupSpec } from './write-backup.fixture';

describe('page image lanes', () => {
  it('are two worker lanes and, on two cores only, one on this thread', () => {
    expect(segmentLanes(2)).toEqual([false, false, true]);
    expect(segmentLanes(1)).toEqual([false, false, true]);
    expect(segmentLanes(8)).toEqual([false, false, false]);
  });
});

describe('a page image of several segments', () => {
  const keys = keySourceFromConfig({ keys: `k1:${randomBytes(32).toString('base64')}` });
  let dir: ReturnType<typeof tempDir>;

  beforeAll(() => {
    dir = tempDir('strongroom-image-lanes-');
  });
  afterAll(() => dir.remove());

  it('is written by every lane and reads back to the file, the file’s descriptor left open', async () => {
    const source = join(dir.path, 'blobs.db');
    const work = join(dir.path, 'work');
    mkdirSync(work);
    const db = new Database(source);
    db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO blobs (body) VALUES (?)');
    // About 20 MiB of random bytes in a rollback-journal file: five 4 MiB segments.
    db.transaction(() => {
      for (let i = 0; i < 80; i++) insert.run(randomBytes(256 * 1024));
    })();
    db.close();
    const size = readFileSync(source).length;
    expect(Math.ceil(size / segmentBytes(size, 4096))).toBeGreaterThanOrEqual(4);

    const storage = new LocalStorage(join(dir.path, 'store'));
    const jobsBefore = partWorkers.jobs;
    const dialect = createSqliteDialect(`sqlite:${source}`);
    let m;
    try {
      m = await writeBackup(dialect, storage, fullBackupSpec(['blobs'], keys, { workDir: work }));
    } finally {
      await dialect.close();
    }
    expect(m.image?.parts.length).toBeGreaterThanOrEqual(4);
    // The worker lanes took segments of their own (one job each).
    expect(partWorkers.jobs - jobsBefore).toBeGreaterThanOrEqual(2);

    const scratch = await materializeImage(storage, `backups/${m.id}`, m, keys.keyring, work);
    try {
      expect(readFileSync(scratch.file).equals(readFileSync(source))).toBe(true);
    } finally {
      scratch.remove();
    }

    // The snapshot read the file through a descriptor the workers shared: a second backup still
    // reads the same file through it, which it could not had a worker closed it.
    const again = createSqliteDialect(`sqlite:${source}`);
    try {
      const m2 = await writeBackup(again, storage, fullBackupSpec(['blobs'], keys, { workDir: work }));
      expect(m2.image?.sha256).toBe(m.image?.sha256);
    } finally {
      await again.close();
    }
  });
});
