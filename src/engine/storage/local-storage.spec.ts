import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from './local-storage';
import { describeStorageConformance } from './storage.conformance';
import { isTempName } from './storage-keys';
import { bufferStream, failingStream, readAll, stallingStream } from './storage-test-streams';

describeStorageConformance('local', async () => {
  const dir = tempDir('strongroom-local-storage-');
  return { storage: new LocalStorage(join(dir.path, 'store')), dispose: async () => dir.remove() };
});

/** Every file name under `dir`, recursively, symlinks not followed. */
function allNames(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    out.push(entry.name);
    if (entry.isDirectory()) out.push(...allNames(join(dir, entry.name)));
  }
  return out;
}

/**
 * Makes `dir` unwritable even for root (which ignores mode bits) by setting the immutable
 * attribute; returns the undo. The precondition is checked so the test cannot pass vacuously.
 */
function makeReadOnly(dir: string): () => void {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chattr', ['+i', dir]);
  else chmodSync(dir, 0o555);
  const undo = () => (asRoot ? execFileSync('chattr', ['-i', dir]) : chmodSync(dir, 0o755));
  try {
    writeFileSync(join(dir, 'probe'), 'x');
  } catch {
    return undo;
  }
  undo();
  throw new Error(`test setup: could not make ${dir} read-only`);
}

describe('LocalStorage (local-only behaviour)', () => {
  let dir: ReturnType<typeof tempDir>;
  let root: string;
  let storage: LocalStorage;

  beforeEach(() => {
    dir = tempDir('strongroom-local-only-');
    root = join(dir.path, 'store');
    storage = new LocalStorage(root);
  });

  afterEach(() => dir.remove());

  it('leaves no temp files after failed and aborted writes', async () => {
    await storage.put('a/b/keep', bufferStream('keep'));
    await expect(storage.put('a/b/fail', failingStream(300 * 1024, 'disk gremlin'))).rejects.toThrow(
      /failed to write "a\/b\/fail".*disk gremlin/,
    );
    const controller = new AbortController();
    const { stream, stalled } = stallingStream(1024 * 1024);
    const put = storage.put('a/b/aborted', stream, { signal: controller.signal });
    await stalled;
    controller.abort();
    await expect(put).rejects.toThrow(/aborted/);
    expect(allNames(root).filter(isTempName)).toEqual([]);
    expect(allNames(root).sort()).toEqual(['a', 'b', 'keep']);
  });

  it('writes through a temp file beside the target that list() never shows', async () => {
    const { stream, stalled } = stallingStream(64 * 1024);
    const controller = new AbortController();
    const put = storage.put('t/obj', stream, { signal: controller.signal });
    await stalled;
    const temps = readdirSync(join(root, 't')).filter(isTempName);
    expect(temps).toHaveLength(1);
    expect(temps[0]).toMatch(/^\.obj\.tmp-[0-9a-f]+$/);
    await expect(storage.list('')).resolves.toEqual([]);
    await expect(storage.stat('t/obj')).resolves.toBeNull();
    controller.abort();
    await expect(put).rejects.toThrow(/aborted/);
  });

  it('does not follow a symlink that escapes the root', async () => {
    const outside = join(dir.path, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'top secret');
    mkdirSync(root, { recursive: true });
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(join(outside, 'secret'), join(root, 'secret-link'));

    await expect(storage.list('')).resolves.toEqual([]);
    await expect(storage.get('escape/secret')).rejects.toThrow(/symlink/);
    await expect(storage.get('secret-link')).rejects.toThrow(/symlink/);
    await expect(storage.stat('escape/secret')).rejects.toThrow(/symlink/);
    await expect(storage.stat('secret-link')).rejects.toThrow(/symlink/);
    await expect(storage.put('escape/planted', bufferStream('evil'))).rejects.toThrow(/symlink/);
    await expect(storage.put('escape/deeper/planted', bufferStream('evil'))).rejects.toThrow(/symlink/);
    await expect(storage.deletePrefix('escape')).rejects.toThrow(/symlink/);
    await storage.delete('secret-link');

    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret');
    expect(existsSync(join(root, 'secret-link'))).toBe(false);
  });

  it('deletePrefix removes symlinks inside the tree without touching their targets', async () => {
    const outside = join(dir.path, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'top secret');
    await storage.put('bk/1/part', bufferStream('p'));
    symlinkSync(outside, join(root, 'bk', '1', 'link'));
    await storage.deletePrefix('bk/1');
    expect(existsSync(join(root, 'bk', '1'))).toBe(false);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret');
  });

  it('reports a read-only directory clearly, naming the key', async () => {
    await storage.put('ro/existing', bufferStream('old'));
    const undo = makeReadOnly(join(root, 'ro'));
    try {
      await expect(storage.put('ro/new', bufferStream('x'))).rejects.toThrow(
        /local storage: failed to write "ro\/new" under .*\(no write permission \/ read-only\)/,
      );
      await expect(readAll(await storage.get('ro/existing'))).resolves.toEqual(Buffer.from('old'));
    } finally {
      undo();
    }
  });

  it('check() fails clearly when the root is not writable', async () => {
    await storage.check();
    const undo = makeReadOnly(root);
    try {
      await expect(storage.check()).rejects.toThrow(/local storage .* is not usable/);
    } finally {
      undo();
    }
  });

  it('check() fails when the root is a file', async () => {
    writeFileSync(join(dir.path, 'file'), 'x');
    await expect(new LocalStorage(join(dir.path, 'file')).check()).rejects.toThrow(/is not usable/);
  });

  it('refuses to write where a key segment is an existing file', async () => {
    await storage.put('f', bufferStream('file'));
    await expect(storage.put('f/child', bufferStream('x'))).rejects.toThrow(/"f" in key "f\/child" is a file/);
  });

  it('removeStaleTempFiles removes only old temp files of crashed writes', async () => {
    await storage.put('s/obj', bufferStream('kept'));
    const stale = join(root, 's', '.obj.tmp-00aa');
    const fresh = join(root, 's', '.obj.tmp-00bb');
    writeFileSync(stale, 'half');
    writeFileSync(fresh, 'in progress');
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    utimesSync(stale, hourAgo, hourAgo);

    await expect(storage.removeStaleTempFiles({ olderThanMs: 10 * 60 * 1000 })).resolves.toBe(1);
    expect(readdirSync(join(root, 's')).sort()).toEqual(['.obj.tmp-00bb', 'obj']);
    await expect(storage.removeStaleTempFiles({ olderThanMs: 0 })).resolves.toBe(1);
    expect(readdirSync(join(root, 's'))).toEqual(['obj']);
  });

  it('creates the root on first write', async () => {
    expect(existsSync(root)).toBe(false);
    await storage.put('first', bufferStream('1'));
    expect(readFileSync(join(root, 'first'), 'utf8')).toBe('1');
  });
});
