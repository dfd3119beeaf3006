/**
 * One behavioural contract for every BackupStorage driver. Each driver's spec calls
 * `describeStorageConformance` with a factory that returns a fresh, empty store per test.
 */
import { StorageNotFoundError, type BackupStorage } from './storage';
import { InvalidStorageKeyError } from './storage-keys';
import {
  bufferStream,
  failingStream,
  randomStream,
  readAll,
  sha256Hex,
  sha256Of,
  stallingStream,
} from './storage-test-streams';

export interface StorageFixture {
  storage: BackupStorage;
  dispose(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Big enough to need several multipart parts at the 5 MiB minimum part size. */
export const LARGE_SIZE = 30 * MiB;

export const INVALID_KEYS = ['', '/abs/key', 'a/../b', '..', '.', 'a/./b', 'a//b', 'a/', 'a\0b', 'a/.b.tmp-0a1b'];

export function describeStorageConformance(name: string, create: () => Promise<StorageFixture>): void {
  describe(`${name} storage conformance`, () => {
    let fixture: StorageFixture;
    let storage: BackupStorage;

    beforeEach(async () => {
      fixture = await create();
      storage = fixture.storage;
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    async function putText(key: string, text: string): Promise<void> {
      await storage.put(key, bufferStream(text));
    }

    async function getText(key: string): Promise<string> {
      return (await readAll(await storage.get(key))).toString('utf8');
    }

    async function keys(prefix: string): Promise<string[]> {
      return (await storage.list(prefix)).map((o) => o.key);
    }

    it('describes itself without secrets', () => {
      expect(storage.kind).toMatch(/^(local|s3)$/);
      expect(storage.location.length).toBeGreaterThan(0);
      expect(storage.location).not.toMatch(/S3RVER|secret/i);
    });

    it('passes its health check', async () => {
      await expect(storage.check()).resolves.toBeUndefined();
    });

    it.each([
      ['empty', 0],
      ['small', 1000],
      ['large (multipart)', LARGE_SIZE],
    ])('round-trips a %s object byte for byte', async (_label, size) => {
      const body = randomStream(size);
      const key = `backups/b1/parts/${size}.bin`;
      await expect(storage.put(key, body)).resolves.toEqual({ size });
      const read = await sha256Of(await storage.get(key));
      expect(read).toEqual({ sha256: body.sha256(), size });
      const info = await storage.stat(key);
      expect(info?.key).toBe(key);
      expect(info?.size).toBe(size);
      expect(info?.modifiedAt).toBeInstanceOf(Date);
      expect(Number.isNaN(info?.modifiedAt.getTime())).toBe(false);
    });

    it('keeps keys with spaces and non-ASCII characters intact', async () => {
      const key = 'backups/ä ö+x/part #1 (copy).bin';
      await putText(key, 'unicode');
      await expect(getText(key)).resolves.toBe('unicode');
      await expect(keys('backups/ä ö')).resolves.toEqual([key]);
    });

    it('overwrites an existing object', async () => {
      await putText('m/manifest.json', 'first version, longer');
      await putText('m/manifest.json', 'second');
      await expect(getText('m/manifest.json')).resolves.toBe('second');
      expect(await storage.list('m/')).toEqual([expect.objectContaining({ key: 'm/manifest.json', size: 6 })]);
    });

    it('stat returns null for absent objects and for directory-like prefixes', async () => {
      await putText('d/e/f', 'x');
      await expect(storage.stat('nope')).resolves.toBeNull();
      await expect(storage.stat('d/e/nope')).resolves.toBeNull();
      await expect(storage.stat('d/e')).resolves.toBeNull();
    });

    it('get of a missing key rejects with StorageNotFoundError', async () => {
      await putText('present/one', '1');
      for (const key of ['missing', 'present/two', 'no/such/dir/file']) {
        const err = await storage.get(key).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StorageNotFoundError);
        expect((err as StorageNotFoundError).key).toBe(key);
      }
    });

    it('lists by string prefix through nested levels, sorted by key', async () => {
      const all = ['b/2/y/z', 'b/1', 'b10/a', 'c', 'b/2/x', 'a'];
      for (const key of all) await putText(key, key);
      await expect(keys('')).resolves.toEqual(['a', 'b/1', 'b/2/x', 'b/2/y/z', 'b10/a', 'c']);
      await expect(keys('b/')).resolves.toEqual(['b/1', 'b/2/x', 'b/2/y/z']);
      await expect(keys('b')).resolves.toEqual(['b/1', 'b/2/x', 'b/2/y/z', 'b10/a']);
      await expect(keys('b/2/y')).resolves.toEqual(['b/2/y/z']);
      await expect(keys('b/2/')).resolves.toEqual(['b/2/x', 'b/2/y/z']);
      await expect(keys('nothing/')).resolves.toEqual([]);
      const sizes = await storage.list('b/2/');
      expect(sizes.map((o) => o.size)).toEqual([5, 7]);
    });

    it('delete removes one object and is idempotent', async () => {
      await putText('x/1', 'one');
      await putText('x/2', 'two');
      await storage.delete('x/1');
      await expect(storage.stat('x/1')).resolves.toBeNull();
      await expect(storage.delete('x/1')).resolves.toBeUndefined();
      await expect(storage.delete('never/was/here')).resolves.toBeUndefined();
      await expect(keys('x/')).resolves.toEqual(['x/2']);
    });

    it('deletePrefix removes a whole directory, only that directory, idempotently', async () => {
      for (const key of ['bk/1/manifest.json', 'bk/1/parts/0001', 'bk/1/parts/0002', 'bk/10/manifest.json', 'bk/2']) {
        await putText(key, key);
      }
      await storage.deletePrefix('bk/1');
      await expect(keys('')).resolves.toEqual(['bk/10/manifest.json', 'bk/2']);
      await expect(storage.deletePrefix('bk/1/')).resolves.toBeUndefined();
      await expect(storage.deletePrefix('not/there')).resolves.toBeUndefined();
      await expect(keys('')).resolves.toEqual(['bk/10/manifest.json', 'bk/2']);
    });

    it('deletePrefix refuses to wipe the whole store', async () => {
      await putText('keep/me', 'k');
      await expect(storage.deletePrefix('')).rejects.toThrow(InvalidStorageKeyError);
      await expect(storage.deletePrefix('/')).rejects.toThrow(InvalidStorageKeyError);
      await expect(keys('')).resolves.toEqual(['keep/me']);
    });

    it.each([
      ['small', 100 * 1024],
      ['multipart-sized', 12 * MiB],
    ])('a %s source that fails midway leaves the previous object intact', async (_label, bytes) => {
      await putText('p/part', 'previous');
      await expect(storage.put('p/part', failingStream(bytes, 'source exploded'))).rejects.toThrow(/source exploded/);
      await expect(getText('p/part')).resolves.toBe('previous');
      await expect(storage.put('p/new', failingStream(bytes, 'source exploded'))).rejects.toThrow(/source exploded/);
      await expect(storage.stat('p/new')).resolves.toBeNull();
      await expect(keys('')).resolves.toEqual(['p/part']);
    });

    it('an already-aborted signal writes nothing', async () => {
      const controller = new AbortController();
      controller.abort();
      const body = bufferStream('data');
      await expect(storage.put('ab/one', body, { signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
      await expect(storage.stat('ab/one')).resolves.toBeNull();
      expect(body.destroyed).toBe(true);
    });

    it('aborting mid-write rejects, stops reading the source and keeps the previous object', async () => {
      await putText('ab/part', 'previous');
      const controller = new AbortController();
      const { stream, stalled } = stallingStream(6 * MiB);
      const put = storage.put('ab/part', stream, { signal: controller.signal });
      await stalled;
      controller.abort();
      await expect(put).rejects.toMatchObject({ name: 'AbortError' });
      expect(stream.destroyed).toBe(true);
      await expect(getText('ab/part')).resolves.toBe('previous');
      await expect(keys('')).resolves.toEqual(['ab/part']);
    });

    it.each(INVALID_KEYS.map((k) => [JSON.stringify(k), k]))(
      'rejects the invalid key %s everywhere',
      async (_label, key) => {
        await expect(storage.put(key, bufferStream('x'))).rejects.toThrow(InvalidStorageKeyError);
        await expect(storage.get(key)).rejects.toThrow(InvalidStorageKeyError);
        await expect(storage.stat(key)).rejects.toThrow(InvalidStorageKeyError);
        await expect(storage.delete(key)).rejects.toThrow(InvalidStorageKeyError);
        await expect(keys('')).resolves.toEqual([]);
      },
    );

    it('rejects invalid list prefixes and names the key in the message', async () => {
      await expect(storage.list('/abs')).rejects.toThrow(/invalid storage key "\/abs"/);
      await expect(storage.list('a/../')).rejects.toThrow(InvalidStorageKeyError);
      await expect(storage.list('a\0')).rejects.toThrow(/NUL/);
      await expect(storage.deletePrefix('../')).rejects.toThrow(InvalidStorageKeyError);
    });

    it('stores content-addressed bytes exactly (no transfer encoding artefacts)', async () => {
      const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await storage.put('bin/all-bytes', bufferStream(data));
      const back = await readAll(await storage.get('bin/all-bytes'));
      expect(sha256Hex(back)).toBe(sha256Hex(data));
    });
  });
}
