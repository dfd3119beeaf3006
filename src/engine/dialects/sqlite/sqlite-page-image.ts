/**
 * A full backup's page image: the database file's pages as the backup's read transaction sees
 * them, read in byte ranges so the part pipeline can compress several ranges at once. Two ways
 * to get them, both consistent with the snapshot:
 *
 * - `file`: the live file itself, when nothing of the snapshot lives elsewhere. In a
 *   rollback-journal file the snapshot's SHARED lock keeps every writer out of the file until it
 *   ends. In a WAL file with no frames the snapshot reads the file alone (WAL read lock 0), and a
 *   checkpoint cannot write into the file while that lock is held; new commits go to the WAL.
 *   The bytes are read by child processes (one per lane): closing any descriptor of the
 *   database file in this process would drop every POSIX lock the process holds on it
 *   (SQLite's own included).
 * - `copy`: otherwise (a WAL with frames), SQLite's online backup API copies the pages into a
 *   temporary file first, on the snapshot's own connection, so it copies that snapshot and never
 *   restarts; the copy is removed by `close`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import type { PageImage } from '../dialect';
import type { SqliteDb } from './sqlite-connection';

/** Pages copied per step of the online backup: each step holds the event loop while it copies. */
const COPY_STEP_BYTES = 8 * 1024 * 1024;
/** A WAL file this small has no frame (its header is 32 bytes). */
const WAL_HEADER_BYTES = 32;

/**
 * A child process that reads byte ranges of a file on request ("start end\n" on stdin, exactly
 * end - start bytes back on stdout), so a process is started once per lane, not per range.
 */
const RANGE_READER = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[1], 'r');
const lines = require('node:readline').createInterface({ input: process.stdin });
(async () => {
  for await (const line of lines) {
    let [pos, end] = line.split(' ').map(Number);
    while (pos < end) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, end - pos));
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) { process.stderr.write('the file ended at byte ' + pos); process.exit(1); }
      pos += n;
      if (!process.stdout.write(n === buf.length ? buf : buf.subarray(0, n)))
        await new Promise((r) => process.stdout.once('drain', r));
    }
  }
})().catch((e) => { process.stderr.write(String(e && e.message)); process.exit(1); });
`;

class RangeReader {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  private current: { remaining: number; out: Readable } | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly file: string,
    private readonly onIdle: (r: RangeReader) => void,
  ) {
    this.child = spawn(process.execPath, ['-e', RANGE_READER, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => (this.stderr = (this.stderr + s).slice(0, 2000)));
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => this.deliver(chunk));
    const fail = (why: string) => {
      this.failure ??= new Error(`reading ${this.file} failed: ${why}${this.stderr ? `: ${this.stderr}` : ''}`);
      this.current?.out.destroy(this.failure);
      this.current = null;
    };
    this.child.once('error', (e) => fail(e.message));
    this.child.once('exit', (code, signal) => fail(`the reader exited (${signal ?? code})`));
  }

  read(start: number, end: number): Readable {
    const out = new Readable({
      read: () => this.child.stdout.resume(),
      destroy: (err, cb) => {
        // Abandoned half-way: the rest of its bytes would land in the next range.
        if (this.current?.out === out) this.kill();
        cb(err);
      },
    });
    if (this.failure) {
      process.nextTick(() => out.destroy(this.failure as Error));
      return out;
    }
    this.current = { remaining: end - start, out };
    if (end <= start) this.finish();
    else this.child.stdin.write(`${start} ${end}\n`);
    return out;
  }

  private deliver(chunk: Buffer): void {
    const cur = this.current;
    if (!cur || chunk.length > cur.remaining) {
      this.kill();
      return;
    }
    cur.remaining -= chunk.length;
    if (!cur.out.push(chunk)) this.child.stdout.pause();
    if (cur.remaining === 0) this.finish();
  }

  private finish(): void {
    const cur = this.current as { out: Readable };
    this.current = null;
    cur.out.push(null);
    this.onIdle(this);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

/** Range readers of one file, one per range being read at once; `close` ends them. */
function fileRanges(file: string): { read(start: number, end: number): Readable; close(): void } {
  const idle: RangeReader[] = [];
  const all: RangeReader[] = [];
  let closed = false;
  const release = (r: RangeReader) => (closed ? r.kill() : idle.push(r));
  return {
    read: (start, end) => {
      let r = idle.pop();
      if (!r) {
        r = new RangeReader(file, release);
        all.push(r);
      }
      return r.read(start, end);
    },
    close: () => {
      closed = true;
      for (const r of all) r.kill();
    },
  };
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
    const ranges = fileRanges(file);
    return {
      kind: 'sqlite-pages',
      pageSize,
      pageCount,
      bytes,
      source: 'file',
      read: (start, end) => ranges.read(start, end),
      close: () => ranges.close(),
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
