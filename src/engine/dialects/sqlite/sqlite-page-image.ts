/**
 * A full backup's page image: the database file's pages as the backup's read transaction sees
 * them, read in byte ranges so the part pipeline can compress several ranges at once. Two ways
 * to get them, both consistent with the snapshot:
 *
 * - `file`: the live file itself, when nothing of the snapshot lives elsewhere. In a
 *   rollback-journal file the snapshot's SHARED lock keeps every writer out of the file until it
 *   ends. In a WAL file with no frames the snapshot reads the file alone (WAL read lock 0), and a
 *   checkpoint cannot write into the file while that lock is held; new commits go to the WAL.
 *   The bytes are read through a descriptor this process keeps open (see `descriptors`).
 * - `copy`: otherwise (a WAL with frames), SQLite's online backup API copies the pages into a
 *   temporary file first, on the snapshot's own connection, so it copies that snapshot and never
 *   restarts; the copy is removed by `close`.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PageImage } from '../dialect';
import type { SqliteDb } from './sqlite-connection';

/** Pages copied per step of the online backup: each step holds the event loop while it copies. */
const COPY_STEP_BYTES = 8 * 1024 * 1024;
/** A WAL file this small has no frame (its header is 32 bytes). */
const WAL_HEADER_BYTES = 32;

/**
 * Descriptors of database files read in place, opened once per file and kept open: closing a
 * descriptor of the database file would drop every POSIX lock this process holds on it, the
 * snapshot's and other connections' included. One per file the process ever backed up; a
 * descriptor of a file since deleted (it can hold no lock anyone else could see) is closed
 * when the next backup of its path opens the new file.
 */
const descriptors = new Map<string, number>();

function descriptorOf(file: string): number {
  const onDisk = statSync(file);
  const held = descriptors.get(file);
  if (held !== undefined) {
    const st = fstatSync(held);
    if (st.ino === onDisk.ino && st.dev === onDisk.dev && st.nlink > 0) return held;
    if (st.nlink === 0) closeSync(held);
  }
  const fd = openSync(file, 'r');
  descriptors.set(file, fd);
  return fd;
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
    const fd = descriptorOf(file);
    return {
      kind: 'sqlite-pages',
      pageSize,
      pageCount,
      bytes,
      source: 'file',
      // Positioned reads on the shared descriptor, never closed by the reader.
      range: (start, end) => ({ kind: 'file-range', fd, start, end }),
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
    range: (start, end) => ({ kind: 'file-range', path: copy, start, end }),
    close: removeCopy,
  };
}
