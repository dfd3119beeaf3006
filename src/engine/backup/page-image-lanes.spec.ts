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
import { materializeImage, nextSegmentBytes, segmentLanes } from './page-image-archive';
import { writeBackup } from './write-backup';
import { fullBackupSpec } from './write-backup.fixture';

describe('page image lanes', () => {
  it('are two worker lanes and, on two cores only, one on this thread', () => {
    expect(segmentLanes(2)).toEqual([false, false, true]);
    expect(segmentLanes(1)).toEqual([false, false, true]);
    expect(segmentLanes(8)).toEqual([false, false, false]);
  });
});

describe('segment sizes', () => {
  const MIB = 1024 * 1024;
  /** The segments an image of `bytes` is cut into, in order. */
  function plan(bytes: number, lanes: number, pageSize = 4096): number[] {
    const sizes: number[] = [];
    for (let left = bytes; left > 0; left -= sizes[sizes.length - 1])
      sizes.push(nextSegmentBytes(left, lanes, pageSize));
    return sizes;
  }

  it('shrink towards the end of the image, from 64 MiB to 4 MiB, in whole pages that cover it exactly', () => {
    const bytes = 648 * MIB + 5 * 4096;
    const sizes = plan(bytes, 3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(bytes);
    expect(sizes[0]).toBe(64 * MIB);
    expect(Math.max(...sizes)).toBe(64 * MIB);
    // Never larger than the one before it, and the last whole ones are the smallest allowed.
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]);
    expect(sizes.slice(-3, -1)).toEqual([4 * MIB, 4 * MIB]);
    expect(sizes.every((n) => n % 4096 === 0)).toBe(true);
    // The segments the lanes take last are a small share of the image, so they finish together.
    expect(sizes.slice(-3).reduce((a, b) => a + b, 0)).toBeLessThan(bytes / 50);
  });

  it('are whole pages even when a page is larger than the smallest segment, and one for a tiny image', () => {
    expect(plan(10 * 65536, 3, 65536)).toEqual([10 * 65536]);
    expect(plan(4096, 3)).toEqual([4096]);
    expect(nextSegmentBytes(0, 3, 4096)).toBe(0);
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
    expect(size).toBeGreaterThanOrEqual(16 * 1024 * 1024);

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
