import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { tempDir } from '../../../../test/support/databases';
import { readFileRange } from '../../archive/file-range';
import type { PageImage } from '../dialect';
import { SqliteSnapshot } from './sqlite-snapshot';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The image, written out as a file, opened as a database: what a restore would read. */
async function rowsOfImage(image: PageImage, dir: string): Promise<unknown[]> {
  // Read in two ranges that split a page, as the segments of a backup do.
  const cut = image.pageSize + 100;
  const bytes = Buffer.concat([
    await bytesOf(readFileRange(image.range(0, cut))),
    await bytesOf(readFileRange(image.range(cut, image.bytes))),
  ]);
  expect(bytes.length).toBe(image.bytes);
  const file = join(dir, `image-${Math.random().toString(36).slice(2)}.db`);
  writeFileSync(file, bytes);
  const db = new Database(file);
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return db.prepare('SELECT id, v FROM t ORDER BY id').raw().all();
  } finally {
    db.close();
  }
}

describe('SQLite page image', () => {
  let dir: ReturnType<typeof tempDir>;
  let work: string;
  let n = 0;
  beforeEach(() => {
    dir = tempDir('strongroom-pages-');
    work = join(dir.path, 'work');
    mkdirSync(work);
  });
  afterEach(() => dir.remove());

  function database(journal: 'wal' | 'delete'): { path: string; writer: Database.Database } {
    const path = join(dir.path, `db${++n}.db`);
    const writer = new Database(path);
    writer.pragma(`journal_mode = ${journal}`);
    writer.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v);`);
    writer.exec(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT i, 'row ' || i FROM n`,
    );
    return { path, writer };
  }
  const expected = Array.from({ length: 2000 }, (_, i) => [i + 1, `row ${i + 1}`]);

  it('copies a WAL file with frames through the backup API, at the snapshot, and removes the copy on close', async () => {
    const { path, writer } = database('wal');
    const snap = await SqliteSnapshot.open(path, ['t']);
    try {
      // Committed after the snapshot: not in the image.
      writer.exec(`UPDATE t SET v = 'late' WHERE id = 1; INSERT INTO t VALUES (9999, 'late')`);
      const image = await snap.pageImage({ workDir: work });
      expect(image).toMatchObject({ kind: 'sqlite-pages', source: 'copy' });
      expect(readdirSync(work)).toHaveLength(1);
      expect(await rowsOfImage(image as PageImage, dir.path)).toEqual(expected);
      expect(await snap.rowCounts()).toEqual({ t: 2000 });
    } finally {
      await snap.close();
      writer.close();
    }
    expect(readdirSync(work)).toEqual([]);
  });

  it('reads an emptied WAL file in place: a commit after the snapshot goes to the WAL, not into the image', async () => {
    const { path, writer } = database('wal');
    writer.pragma('wal_checkpoint(TRUNCATE)');
    const snap = await SqliteSnapshot.open(path, ['t']);
    try {
      const image = await snap.pageImage({ workDir: work });
      expect(image).toMatchObject({ source: 'file' });
      writer.exec(`UPDATE t SET v = 'late' WHERE id <= 1000; INSERT INTO t VALUES (9999, 'late')`);
      // A checkpoint cannot write into the file while the snapshot reads it alone.
      writer.pragma('wal_checkpoint(PASSIVE)');
      expect(await rowsOfImage(image as PageImage, dir.path)).toEqual(expected);
    } finally {
      await snap.close();
      writer.close();
    }
    expect(readdirSync(work)).toEqual([]);
  });

  it('reads a rollback-journal file in place under the snapshot’s lock', async () => {
    const { path, writer } = database('delete');
    const snap = await SqliteSnapshot.open(path, ['t']);
    try {
      const image = (await snap.pageImage({ workDir: work })) as PageImage;
      expect(image.source).toBe('file');
      // Writers wait for the snapshot: the file cannot change under it.
      writer.pragma('busy_timeout = 0');
      expect(() => writer.exec(`INSERT INTO t VALUES (9999, 'late')`)).toThrow(/locked|busy/i);
      expect(await rowsOfImage(image, dir.path)).toEqual(expected);
    } finally {
      await snap.close();
      writer.close();
    }
  });

  it('gives no image of a file holding tables the backup leaves out', async () => {
    const { path, writer } = database('delete');
    writer.exec('CREATE TABLE strongroom_api_keys (id INTEGER PRIMARY KEY, secret TEXT)');
    writer.close();
    const snap = await SqliteSnapshot.open(path, ['t']);
    try {
      expect(await snap.pageImage({ workDir: work })).toBeNull();
    } finally {
      await snap.close();
    }
  });
});
