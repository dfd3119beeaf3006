import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from '../storage/local-storage';
import { packArchive, unpackArchive } from './archive-tar';
import { ArchiveError } from './errors';
import { Keyring } from './keyring';
import { serializeManifest } from './manifest';
import { sampleManifest } from './manifest.fixture';
import type { Manifest } from './manifest.types';
import { openPart, writePart } from './part-io';

const ring = new Keyring([['k1', randomBytes(32)]]);
const SRC = 'backups/src';
const Q = 'quarantine/q1';
let root: ReturnType<typeof tempDir>;
let storage: LocalStorage;

beforeEach(() => {
  root = tempDir('strongroom-tar-');
  storage = new LocalStorage(root.path);
});
afterEach(() => root.remove());

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A real backup directory: three encrypted zstd parts and a manifest listing them. */
async function makeBackup(): Promise<{ manifest: Manifest; data: Map<string, Buffer> }> {
  const data = new Map<string, Buffer>([
    ['parts/schema.sql', Buffer.from('CREATE TABLE users (id integer primary key);\n')],
    ['parts/0001.rows', randomBytes(200_000)],
    ['parts/files.tar', Buffer.alloc(0)],
  ]);
  const opts = { compression: 'zstd' as const, encryption: ring.active() };
  const parts = new Map();
  for (const [name, buf] of data) parts.set(name, await writePart(storage, SRC, name, Readable.from([buf]), opts));
  const base = sampleManifest();
  const m = sampleManifest({
    schema: { ...base.schema, part: parts.get('parts/schema.sql') },
    tables: [{ ...base.tables[0], part: parts.get('parts/0001.rows') }],
    files: { count: 0, bytes: 0, roots: [], part: parts.get('parts/files.tar') },
    encryption: { algorithm: 'AES-256-GCM', keyId: 'k1', frameSize: 65536 },
  });
  const bytes = serializeManifest(m);
  await storage.put(`${SRC}/manifest.json`, Readable.from([bytes]));
  return { manifest: JSON.parse(bytes.toString()) as Manifest, data };
}

interface Entry {
  name: string;
  data?: Buffer;
  type?: tar.Header['type'];
  linkname?: string;
}

async function buildTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(pack);
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, size: e.data?.length ?? 0 };
      if (e.type && e.type !== 'file') pack.entry(header, (err) => (err ? reject(err) : resolve())).end(null);
      else pack.entry(header, e.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return done;
}

async function archiveEntries(): Promise<Entry[]> {
  const extract = tar.extract();
  const archive = await collect(packArchive(storage, SRC));
  const out: Entry[] = [];
  const feeding = (async () => {
    extract.end(archive);
  })();
  for await (const entry of extract) out.push({ name: entry.header.name, data: await collect(entry) });
  await feeding;
  return out;
}

async function quarantineFiles(): Promise<string[]> {
  return (await storage.list('quarantine/')).map((o) => o.key);
}

async function unpackFails(archive: Buffer, opts = {}): Promise<ArchiveError> {
  let caught: unknown;
  try {
    await unpackArchive(Readable.from([archive]), storage, Q, opts);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ArchiveError);
  expect(await quarantineFiles()).toEqual([]);
  return caught as ArchiveError;
}

describe('packArchive / unpackArchive', () => {
  it('round-trips: same manifest, byte-identical parts, manifest last', async () => {
    const { manifest, data } = await makeBackup();
    const entries = await archiveEntries();
    expect(entries.map((e) => e.name)).toEqual([
      'parts/schema.sql',
      'parts/0001.rows',
      'parts/files.tar',
      'manifest.json',
    ]);
    expect(entries[3].data?.equals(readFileSync(join(root.path, SRC, 'manifest.json')))).toBe(true);

    const imported = await unpackArchive(packArchive(storage, SRC), storage, Q);
    expect(imported).toEqual(manifest);
    for (const [name, plain] of data) {
      expect(readFileSync(join(root.path, Q, name)).equals(readFileSync(join(root.path, SRC, name)))).toBe(true);
      const part = [imported.schema.part, imported.tables[0].part, imported.files.part].find((p) => p?.name === name);
      expect((await collect(await openPart(storage, Q, part!, imported, ring))).equals(plain)).toBe(true);
    }
    expect(await storage.stat(`${Q}/manifest.json`)).toBeNull();
  });

  it('accepts the archive in tiny input chunks', async () => {
    const { manifest } = await makeBackup();
    const archive = await collect(packArchive(storage, SRC));
    const tiny = Readable.from(
      (function* () {
        for (let i = 0; i < archive.length; i += 333) yield archive.subarray(i, i + 333);
      })(),
    );
    expect(await unpackArchive(tiny, storage, Q)).toEqual(manifest);
  });

  it('releases the part being read when the downloader goes away', async () => {
    await makeBackup();
    let open = 0;
    const counting = Object.create(storage) as LocalStorage;
    counting.get = async (key: string) => {
      const stream = await storage.get(key);
      open++;
      stream.once('close', () => open--);
      return stream;
    };
    const download = packArchive(counting, SRC);
    const first = await new Promise<Buffer>((resolve) => download.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    download.destroy();
    // Resolves only once every storage stream closed; if one leaks the test times out.
    await new Promise<void>((resolve) => {
      const check = () => (open === 0 ? resolve() : setTimeout(check, 10).unref());
      check();
    });
    expect(open).toBe(0);
  });

  it('fails the download stream when a part is missing from storage', async () => {
    await makeBackup();
    await storage.delete(`${SRC}/parts/0001.rows`);
    await expect(collect(packArchive(storage, SRC))).rejects.toMatchObject({
      code: 'missing-part',
      part: 'parts/0001.rows',
    });
  });

  describe('rejects hostile or broken archives and empties the quarantine', () => {
    let good: Entry[];
    beforeEach(async () => {
      await makeBackup();
      good = await archiveEntries();
    });
    const without = (name: string) => good.filter((e) => e.name !== name);
    const manifestEntry = () => good[good.length - 1];

    it('path traversal', async () => {
      const err = await unpackFails(
        await buildTar([good[0], { name: '../x', data: Buffer.from('evil') }, ...good.slice(1)]),
      );
      expect(err.message).toMatch(/"\.\.\/x" has an unsafe or unexpected name/);
      // Nothing outside the source backup survives: not the entry written before the bad one, not `x`.
      const files = readdirSync(root.path, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
      expect(files.every((d) => join(d.parentPath, d.name).startsWith(join(root.path, SRC)))).toBe(true);
    });

    it.each(['/etc/passwd', 'parts/../../x', 'parts/a/../../x', 'parts\\x', 'other/x', './parts/0001.rows'])(
      'unsafe name %j',
      async (name) => {
        const err = await unpackFails(await buildTar([good[0], { name, data: Buffer.from('x') }, ...good.slice(1)]));
        expect(err.code).toBe('invalid-archive');
      },
    );

    it('symbolic and hard links, directories', async () => {
      for (const type of ['symlink', 'link', 'directory'] as const) {
        const err = await unpackFails(
          await buildTar([good[0], { name: 'parts/l', type, linkname: '/etc/passwd' }, ...good.slice(1)]),
        );
        expect(err.message).toMatch(new RegExp(`is a ${type}`));
      }
    });

    it('duplicate names', async () => {
      const err = await unpackFails(await buildTar([good[0], good[0], ...good.slice(1)]));
      expect(err.message).toMatch(/"parts\/schema.sql" appears twice/);
    });

    it('an entry the manifest does not list, before or after the manifest', async () => {
      const extra = { name: 'parts/9999.rows', data: randomBytes(10) };
      expect((await unpackFails(await buildTar([extra, ...good]))).message).toMatch(
        /"parts\/9999.rows" is not listed in the manifest/,
      );
      expect((await unpackFails(await buildTar([...good, extra]))).message).toMatch(/is not listed in the manifest/);
    });

    it('a missing part, or no manifest', async () => {
      expect(await unpackFails(await buildTar(without('parts/0001.rows')))).toMatchObject({
        code: 'missing-part',
        part: 'parts/0001.rows',
      });
      expect((await unpackFails(await buildTar(without('manifest.json')))).message).toMatch(/no manifest.json/);
    });

    it('a changed part or manifest', async () => {
      const changed = good.map((e) =>
        e.name === 'parts/0001.rows' ? { ...e, data: Buffer.concat([e.data!.subarray(1), Buffer.from([1])]) } : e,
      );
      expect(await unpackFails(await buildTar(changed))).toMatchObject({
        code: 'checksum-mismatch',
        part: 'parts/0001.rows',
      });
      const m = manifestEntry();
      const edited = Buffer.from(m.data!.toString().replace('"rows": 2', '"rows": 3'));
      expect((await unpackFails(await buildTar([...good.slice(0, -1), { ...m, data: edited }]))).message).toMatch(
        /manifest checksum mismatch/,
      );
    });

    it('input over the size limit', async () => {
      const archive = await buildTar(good);
      expect((await unpackFails(archive, { maxBytes: archive.length - 1 })).message).toMatch(
        /larger than the \d+-byte limit/,
      );
      await expect(
        unpackArchive(Readable.from([archive]), storage, Q, { maxBytes: archive.length }),
      ).resolves.toBeTruthy();
    });

    it('an upload that breaks off passes its own error through', async () => {
      const archive = await buildTar(good);
      const broken = Readable.from(
        (async function* () {
          yield archive.subarray(0, archive.length - 3000);
          throw new Error('client closed the connection');
        })(),
      );
      await expect(unpackArchive(broken, storage, Q)).rejects.toThrow('client closed the connection');
      expect(await quarantineFiles()).toEqual([]);
    });

    it('something that is not a tar, or a tar cut short', async () => {
      expect((await unpackFails(randomBytes(5000))).code).toBe('invalid-archive');
      const archive = await buildTar(good);
      for (const len of [100, 1024, Math.floor(archive.length / 2), archive.length - 1024 - 600]) {
        expect((await unpackFails(archive.subarray(0, len))).code).toMatch(
          /invalid-archive|missing-part|size-mismatch/,
        );
      }
    });
  });
});
