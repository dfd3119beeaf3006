/**
 * Backup storage in a local directory. Writes go to a temp file beside the target and are
 * renamed into place only after the data is fsynced, so a crash leaves either the old object,
 * the new one, or a stray temp file (never a truncated object under the real key).
 *
 * Symlinks inside the root are never followed: the tree is Strongroom's own, so a link in it
 * is either a mistake or an attempt to read or write outside the root.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Dirent } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageNotFoundError, type BackupStorage, type StoredObject } from './storage';
import { checkPrefix, compareKeys, directoryPrefix, isTempName, parseKey, tempNameFor } from './storage-keys';

const READ_CHUNK = 1024 * 1024;
const MIN_READ_CHUNK = 16 * 1024;

export class LocalStorageError extends Error {
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LocalStorageError';
  }
}

const OPEN_READ = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW;
const OPEN_TEMP = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LocalStorage implements BackupStorage {
  readonly kind = 'local';
  readonly location: string;
  private readonly root: string;

  constructor(rootDir: string) {
    if (!rootDir) throw new Error('local storage: root directory is not set');
    this.root = resolve(rootDir);
    this.location = this.root;
  }

  async put(key: string, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    const segments = parseKey(key);
    const name = segments[segments.length - 1];
    const { signal } = opts;
    if (signal?.aborted) {
      body.destroy();
      throw this.abortError(key, signal);
    }
    let dir: string;
    try {
      await mkdir(this.root, { recursive: true });
      dir = (await this.walkDirs(key, segments.slice(0, -1), true)) as string;
    } catch (err) {
      body.destroy();
      throw this.wrap(err, key, 'prepare directory for');
    }
    const tempPath = join(dir, tempNameFor(name, randomBytes(8).toString('hex')));
    let handle: FileHandle | undefined;
    let size = 0;
    try {
      handle = await open(tempPath, OPEN_TEMP, 0o644);
      const sink = fileSink(handle, (n) => (size += n));
      await pipeline(body, sink, signal ? { signal } : {});
      await handle.close();
      handle = undefined;
      await rename(tempPath, join(dir, name));
      await fsyncDir(dir);
      return { size };
    } catch (err) {
      body.destroy();
      await handle?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      if (signal?.aborted) throw this.abortError(key, signal);
      throw this.wrap(err, key, 'write');
    }
  }

  async get(key: string): Promise<Readable> {
    const segments = parseKey(key);
    const dir = await this.walkDirs(key, segments.slice(0, -1), false).catch((err) => {
      throw this.wrap(err, key, 'read');
    });
    if (dir === null) throw new StorageNotFoundError(key);
    let handle: FileHandle;
    try {
      handle = await open(join(dir, segments[segments.length - 1]), OPEN_READ);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') throw new StorageNotFoundError(key);
      throw this.wrap(err, key, 'read');
    }
    const info = await handle.stat().catch(async (err) => {
      await handle.close();
      throw this.wrap(err, key, 'read');
    });
    if (!info.isFile()) {
      await handle.close();
      throw new StorageNotFoundError(key);
    }
    // 1 MiB reads: parts are read start to end, and 64 KiB reads cost about 2.5× the syscalls' CPU.
    // A smaller file gets buffers of its own size: each read allocates a buffer of the full read
    // size (and copies a short read out of it), so the 500 small parts of a many-table restore
    // churned through a gigabyte of 1 MiB buffers and kept the garbage collector busy.
    return handle.createReadStream({ highWaterMark: Math.min(READ_CHUNK, Math.max(info.size, MIN_READ_CHUNK)) });
  }

  async stat(key: string): Promise<StoredObject | null> {
    const segments = parseKey(key);
    try {
      const dir = await this.walkDirs(key, segments.slice(0, -1), false);
      if (dir === null) return null;
      const info = await lstat(join(dir, segments[segments.length - 1]));
      if (info.isSymbolicLink()) throw this.symlinkError(key);
      if (!info.isFile()) return null;
      return { key, size: info.size, modifiedAt: new Date(info.mtimeMs) };
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return null;
      throw this.wrap(err, key, 'stat');
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix);
    // Walk only the deepest directory the prefix fully names, then filter by the partial rest.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const dirSegments = dirKey === '' ? [] : dirKey.split('/');
    const result: StoredObject[] = [];
    try {
      const dir = await this.walkDirs(prefix, dirSegments, false);
      if (dir === null) return [];
      await this.collect(dir, dirKey, prefix, result);
    } catch (err) {
      throw this.wrap(err, prefix, 'list');
    }
    return result.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    const segments = parseKey(key);
    try {
      const dir = await this.walkDirs(key, segments.slice(0, -1), false);
      if (dir === null) return;
      const path = join(dir, segments[segments.length - 1]);
      const info = await lstat(path);
      // A directory is not an object; unlinking a symlink is safe (it never touches the target).
      if (info.isDirectory()) return;
      await unlink(path);
      await fsyncDir(dir);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return;
      throw this.wrap(err, key, 'delete');
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const dirKey = directoryPrefix(prefix).slice(0, -1);
    const segments = dirKey.split('/');
    try {
      const parent = await this.walkDirs(prefix, segments.slice(0, -1), false);
      if (parent === null) return;
      const path = join(parent, segments[segments.length - 1]);
      const info = await lstat(path);
      if (info.isSymbolicLink()) throw this.symlinkError(prefix);
      if (!info.isDirectory()) return;
      // fs.rm removes symlinks found inside the tree without following them.
      await rm(path, { recursive: true, force: true });
      await fsyncDir(parent);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return;
      throw this.wrap(err, prefix, 'delete prefix');
    }
  }

  async check(): Promise<void> {
    const probe = join(this.root, tempNameFor('check', randomBytes(8).toString('hex')));
    try {
      // Created here as put() would, so a fresh install is healthy before its first backup.
      await mkdir(this.root, { recursive: true });
      const info = await stat(this.root);
      if (!info.isDirectory()) throw new Error('not a directory');
      // A real write, because access(W_OK) says yes to root on read-only mounts' parent dirs.
      const handle = await open(probe, OPEN_TEMP, 0o600);
      await handle.close();
      await unlink(probe);
    } catch (err) {
      await unlink(probe).catch(() => undefined);
      throw new LocalStorageError(`local storage ${this.root} is not usable: ${describe(err)}`, '', { cause: err });
    }
  }

  /**
   * Removes temp files left by writes that crashed. Only files untouched for `olderThanMs`
   * are removed, so a write in progress in another process (the CLI) is not cut short.
   * Returns how many files were removed.
   */
  async removeStaleTempFiles(opts: { olderThanMs?: number } = {}): Promise<number> {
    const olderThanMs = opts.olderThanMs ?? 15 * 60 * 1000;
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      for (const entry of await readdirOrEmpty(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          await visit(path);
        } else if (entry.isFile() && isTempName(entry.name)) {
          const info = await lstat(path).catch(() => null);
          if (info && info.mtimeMs <= cutoff) {
            await unlink(path).catch((err) => {
              if (errorCode(err) !== 'ENOENT') throw err;
            });
            removed++;
          }
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  private async collect(dir: string, dirKey: string, prefix: string, out: StoredObject[]): Promise<void> {
    for (const entry of await readdirOrEmpty(dir)) {
      if (isTempName(entry.name)) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        // Descend only where keys below could still match the prefix.
        const asDir = `${key}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await this.collect(path, key, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = await lstat(path).catch((err) => {
          if (errorCode(err) === 'ENOENT') return null; // deleted while listing
          throw err;
        });
        if (info?.isFile()) out.push({ key, size: info.size, modifiedAt: new Date(info.mtimeMs) });
      }
      // Symlinks and special files are never objects and never followed.
    }
  }

  /**
   * Resolves the directory holding a key one segment at a time, refusing symlinks, so no
   * path can lead outside the root. With `create`, missing directories are made (and their
   * parents fsynced so the new entries survive a crash). Without it, a missing directory
   * yields null.
   */
  private async walkDirs(key: string, segments: string[], create: boolean): Promise<string | null> {
    let dir = this.root;
    for (const segment of segments) {
      const next = join(dir, segment);
      let info = await lstat(next).catch((err) => {
        if (errorCode(err) === 'ENOENT') return null;
        throw err;
      });
      if (info === null) {
        if (!create) return null;
        try {
          await mkdir(next, 0o755);
          await fsyncDir(dir);
        } catch (err) {
          if (errorCode(err) !== 'EEXIST') throw err;
        }
        info = await lstat(next);
      }
      if (info.isSymbolicLink()) throw this.symlinkError(key);
      if (!info.isDirectory()) {
        throw new LocalStorageError(`local storage: "${segment}" in key "${key}" is a file, not a directory`, key);
      }
      dir = next;
    }
    return dir;
  }

  private symlinkError(key: string): LocalStorageError {
    return new LocalStorageError(
      `local storage: refusing to follow a symlink on the path of "${key}" under ${this.root}`,
      key,
    );
  }

  private abortError(key: string, signal: AbortSignal): LocalStorageError {
    const err = new LocalStorageError(`local storage: write of "${key}" was aborted`, key, { cause: signal.reason });
    err.name = 'AbortError';
    return err;
  }

  private wrap(err: unknown, key: string, action: string): Error {
    if (err instanceof LocalStorageError || err instanceof StorageNotFoundError) return err;
    const code = errorCode(err);
    const hint =
      code === 'ENOSPC'
        ? ' (disk full)'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? ' (no write permission / read-only)'
          : code === 'ELOOP'
            ? ' (target is a symlink; not followed)'
            : '';
    return new LocalStorageError(
      `local storage: failed to ${action} "${key}" under ${this.root}${hint}: ${describe(err)}`,
      key,
      {
        cause: err,
      },
    );
  }
}

/** A Writable over a file handle: each chunk is written in full before the next is accepted. */
function fileSink(handle: FileHandle, onWritten: (n: number) => void): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      writeFully(handle, chunk).then(() => {
        onWritten(chunk.length);
        callback();
      }, callback);
    },
    final(callback) {
      handle.sync().then(() => callback(), callback);
    },
  });
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}
