/**
 * A full backup's page image: the database file's pages as the backup's read transaction sees
 * them, read in byte ranges so the part pipeline can compress several ranges at once. Two ways
 * to get them, both consistent with the snapshot:
 *
 * - `file`: the live file itself, when nothing of the snapshot lives elsewhere. In a
 *   rollback-journal file the snapshot's SHARED lock keeps every writer out of the file until it
 *   ends. In a WAL file with no frames the snapshot reads the file alone (WAL read lock 0), and a
 *   checkpoint cannot write into the file while that lock is held; new commits go to the WAL.
 *   The bytes are read by a child process: closing any descriptor of the database file in this
 *   process would drop every POSIX lock the process holds on it (SQLite's own included).
 * - `copy`: otherwise (a WAL with frames), SQLite's online backup API copies the pages into a
 *   temporary file first, on the snapshot's own connection, so it copies that snapshot and never
 *   restarts; the copy is removed by `close`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { PageImage } from '../dialect';
import type { SqliteDb } from './sqlite-connection';

/** Pages copied per step of the online backup: each step holds the event loop while it copies. */
const COPY_STEP_BYTES = 8 * 1024 * 1024;
/** A WAL file this small has no frame (its header is 32 bytes). */
const WAL_HEADER_BYTES = 32;

/** Reads bytes [start, end) of a file in a child process and checks that every byte came. */
const RANGE_READER = `
const fs = require('node:fs');
const [file, start, end] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
if (end <= start) process.exit(0);
fs.createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 })
  .on('error', (e) => { process.stderr.write(e.message); process.exit(1); })
  .pipe(process.stdout);
`;

function fileRange(file: string, start: number, end: number): Readable {
  const child = spawn(process.execPath, ['-e', RANGE_READER, file, String(start), String(end)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s.slice(0, 2000)));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (e) => {
      stderr ||= e.message;
      resolve(-1);
    });
  });
  async function* bytes(): AsyncGenerator<Buffer> {
    let n = 0;
    try {
      for await (const c of child.stdout) {
        n += (c as Buffer).length;
        yield c as Buffer;
      }
      const code = await exited;
      if (code !== 0 || n !== end - start)
        throw new Error(
          `reading bytes ${start}-${end} of ${file} gave ${n} bytes (exit ${code})${stderr ? `: ${stderr}` : ''}`,
        );
    } finally {
      if (child.exitCode === null) child.kill();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

export interface OpenedPageImage extends PageImage {
  /** Removes the temporary copy, if one was made. Safe to call twice. */
  close(): void;
}

/**
 * Opens the image of `db`'s main database. `db` must be inside the read transaction whose
 * snapshot the image is to be, and stay in it until every range was read.
 */
export async function openPageImage(
  db: SqliteDb,
  opts: { workDir: string; signal?: AbortSignal },
): Promise<OpenedPageImage> {
  if (!db.inTransaction) throw new Error('a page image needs the snapshot’s read transaction');
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  const pageCount = Number(db.pragma('page_count', { simple: true }));
  const bytes = pageSize * pageCount;
  const file = (db.prepare(`SELECT file FROM pragma_database_list WHERE name = 'main'`).pluck().get() as string) || '';
  if (!file) throw new Error('the database has no file to take a page image of');
  const journal = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  const walBytes = (() => {
    try {
      return statSync(`${file}-wal`).size;
    } catch {
      return 0;
    }
  })();
  // Checked after the snapshot was taken: a WAL that has no frame now had none at the snapshot
  // (a WAL is only emptied when no reader needs its frames, and this one would).
  if (journal !== 'wal' || walBytes <= WAL_HEADER_BYTES) {
    return {
      kind: 'sqlite-pages',
      pageSize,
      pageCount,
      bytes,
      source: 'file',
      read: (start, end) => fileRange(file, start, end),
      close: () => undefined,
    };
  }
  const dir = mkdtempSync(join(opts.workDir, 'strongroom-image-'));
  const copy = join(dir, 'image.db');
  const removeCopy = () => rmSync(dir, { recursive: true, force: true });
  try {
    const rate = Math.max(1, Math.ceil(COPY_STEP_BYTES / pageSize));
    await db.backup(copy, {
      progress: () => {
        if (opts.signal?.aborted) throw new Error('the page copy was cancelled');
        return rate;
      },
    });
    const size = statSync(copy).size;
    if (size < bytes) throw new Error(`the page copy has ${size} bytes, the snapshot ${bytes}`);
  } catch (err) {
    removeCopy();
    throw err;
  }
  return {
    kind: 'sqlite-pages',
    pageSize,
    pageCount,
    bytes,
    source: 'copy',
    read: (start, end) =>
      end > start
        ? createReadStream(copy, { start, end: end - 1, highWaterMark: 1 << 20 })
        : Readable.from([], { objectMode: false }),
    close: removeCopy,
  };
}
