/**
 * A byte range of a file, as data a part worker can read itself (a SQLite page image's segment,
 * sqlite-page-image.ts). Why a worker reads it: fed from the main thread, the worker's lane waited
 * whenever the main thread was busy compressing its own lane, and on two cores a page-image
 * backup kept only about 1.2 of them busy; reading its own range, the worker needs the main
 * thread only to store what it wrote.
 */
import { close, open, read } from 'node:fs';
import { Readable } from 'node:stream';

export interface FileRangeSource {
  kind: 'file-range';
  /**
   * A descriptor this process keeps open, read by position and never closed here: a database file
   * whose POSIX locks any close() would drop (file descriptors are shared by all of a process's
   * threads). Or, without one, `path`, a file nothing else writes (a temporary copy).
   */
  fd?: number;
  path?: string;
  start: number;
  end: number;
}

/**
 * Reads in steps of this size: a page image is read whole, so larger steps only cost memory. The
 * size of a page image's zstd frame (PAGE_IMAGE_FRAME_BYTES), so each frame is compressed where
 * its one read landed, without being copied together from smaller reads; larger reads and frames
 * raised a page-image backup's peak memory past 256 MiB.
 */
const READ_BYTES = 1 << 20;

/** Bytes [start, end) of the file; the stream errors if the file ends before `end`. */
export function readFileRange(source: FileRangeSource): Readable {
  return new FileRangeStream(source);
}

/**
 * Positioned reads (pread) of the range. Not fs.createReadStream: destroying one closes its
 * descriptor even with autoClose off, and a pipeline destroys its source on any failure; a
 * database file's descriptor closed that way would drop the process's locks on the file.
 * Only a descriptor this stream opened itself (from `path`) is closed by it.
 */
class FileRangeStream extends Readable {
  private position: number;
  private fd: number | null;
  private readonly owned: boolean;

  constructor(private readonly source: FileRangeSource) {
    super({ highWaterMark: READ_BYTES });
    this.position = source.start;
    this.owned = source.fd === undefined;
    this.fd = source.fd ?? null;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    if (!this.owned) {
      callback();
      return;
    }
    open(this.source.path as string, 'r', (err, fd) => {
      if (!err) this.fd = fd;
      callback(err);
    });
  }

  override _read(): void {
    const want = Math.min(READ_BYTES, this.source.end - this.position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(want);
    read(this.fd as number, buf, 0, want, this.position, (err, n) => {
      if (err) {
        this.destroy(err);
        return;
      }
      if (n === 0) {
        const got = this.position - this.source.start;
        this.destroy(new Error(`read ${got} of ${this.source.end - this.source.start} bytes: the file ended early`));
        return;
      }
      this.position += n;
      this.push(n === want ? buf : buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = null;
    if (!this.owned || fd === null) {
      callback(err);
      return;
    }
    close(fd, () => callback(err));
  }
}
