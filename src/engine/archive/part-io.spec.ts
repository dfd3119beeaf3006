import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from '../storage/local-storage';
import { DEFAULT_FRAME_SIZE } from './encryption';
import { ArchiveError } from './errors';
import { Keyring } from './keyring';
import type { Compression, EncryptionInfo, PartInfo } from './manifest.types';
import { openPart, verifyPart, writePart, type OpenPartOptions, type PartFormat } from './part-io';

const ring = new Keyring([
  ['old', randomBytes(32)],
  ['k1', randomBytes(32)],
]);
const DIR = 'backups/b1';
let root: ReturnType<typeof tempDir>;
let storage: LocalStorage;

beforeEach(() => {
  root = tempDir('strongroom-parts-');
  storage = new LocalStorage(root.path);
});
afterEach(() => root.remove());

function compressible(size: number): Buffer {
  const out = Buffer.alloc(size);
  let line = 0;
  for (let i = 0; i < size;) i += out.write(`${line++}\tuser-${line % 97}@example.com\tactive\n`, i);
  return out;
}

/** Yields the buffer in uneven chunks, as a database export would. */
function source(buf: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0, n = 1; i < buf.length; i += n, n = (n * 7 + 13) % 100_003) yield buf.subarray(i, i + n);
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(stream, new Writable({ write: (c: Buffer, _e, done) => (out.push(c), done()) }));
  return Buffer.concat(out);
}

function format(compression: Compression, encrypted: boolean): PartFormat {
  const encryption: EncryptionInfo | null = encrypted
    ? { algorithm: 'AES-256-GCM', keyId: 'k1', frameSize: DEFAULT_FRAME_SIZE }
    : null;
  return { compression, encryption };
}

async function write(name: string, data: Buffer, fmt: PartFormat): Promise<PartInfo> {
  return writePart(storage, DIR, name, source(data), {
    compression: fmt.compression,
    encryption: fmt.encryption ? { keyId: 'k1', key: ring.get('k1') as Buffer } : null,
  });
}

async function readError(
  part: PartInfo,
  fmt: PartFormat,
  keys: Keyring | null = ring,
  opts?: OpenPartOptions,
): Promise<ArchiveError> {
  let caught: unknown;
  try {
    await readAll(await openPart(storage, DIR, part, fmt, keys, opts));
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof ArchiveError))
    throw new Error(`expected an ArchiveError, got ${String(caught)} ${JSON.stringify(caught)}`);
  expect((caught as ArchiveError).part).toBe(part.name);
  expect((caught as ArchiveError).message.startsWith(`${part.name}: `)).toBe(true);
  return caught as ArchiveError;
}

const F = DEFAULT_FRAME_SIZE;
const SIZES: Array<[string, () => Buffer]> = [
  ['empty', () => Buffer.alloc(0)],
  ['1 byte', () => randomBytes(1)],
  ['frame-1 bytes', () => randomBytes(F - 1)],
  ['frame bytes', () => randomBytes(F)],
  ['frame+1 bytes', () => randomBytes(F + 1)],
  ['4 MB random', () => randomBytes(4 * 1024 * 1024 + 17)],
  ['6 MB compressible', () => compressible(6 * 1024 * 1024)],
];

describe.each<[Compression, boolean]>([
  ['zstd', true],
  ['zstd', false],
  ['gzip', true],
  ['gzip', false],
  ['none', true],
  ['none', false],
])('%s, encrypted=%s', (compression, encrypted) => {
  const fmt = format(compression, encrypted);

  it.each(SIZES)('round-trips %s and records both digests', async (_label, make) => {
    const data = make();
    const part = await write('parts/0001.rows', data, fmt);
    expect(part.rawBytes).toBe(data.length);
    const stored = readFileSync(join(root.path, DIR, 'parts/0001.rows'));
    expect(part.size).toBe(stored.length);
    expect((await readAll(await openPart(storage, DIR, part, fmt, ring))).equals(data)).toBe(true);
    expect(await verifyPart(storage, DIR, part, fmt, ring)).toMatchObject({ ok: true });
    if (encrypted && data.length > 64) expect(stored.includes(data.subarray(0, 64))).toBe(false);
  });

  it('fails, naming the part, when any stored byte changes', async () => {
    const data = compressible(3 * F);
    const part = await write('parts/0002.rows', data, fmt);
    await eachFlippedByte(join(root.path, DIR, part.name), 0x40, async () => {
      await readError(part, fmt);
      const check = await verifyPart(storage, DIR, part, fmt, ring);
      expect(check.ok).toBe(false);
      expect(check.detail).toContain(part.name);
    });
  });

  it('reading rows without the plaintext SHA-256 (restores) still fails on any changed, swapped or cut byte', async () => {
    const rows = { plaintextSha256: false };
    const data = compressible(5 * F);
    const part = await write('parts/0005.rows', data, fmt);
    expect((await readAll(await openPart(storage, DIR, part, fmt, ring, rows))).equals(data)).toBe(true);
    const file = join(root.path, DIR, part.name);
    const original = await eachFlippedByte(file, 0x01, () => readError(part, fmt, ring, rows));
    // The same bytes in another order (two blocks swapped, e.g. two encrypted frames).
    const block = Math.max(1, Math.floor(original.length / 4));
    const swapped = Buffer.concat([
      original.subarray(block, 2 * block),
      original.subarray(0, block),
      original.subarray(2 * block),
    ]);
    writeFileSync(file, swapped);
    if (!swapped.equals(original)) await readError(part, fmt, ring, rows);
    writeFileSync(file, original);
    // The plaintext's length is still checked, and verification still checks its SHA-256.
    expect((await readError({ ...part, rawBytes: part.rawBytes + 1 }, fmt, ring, rows)).code).toBe('size-mismatch');
    expect((await readError({ ...part, rawBytes: part.rawBytes - 1 }, fmt, ring, rows)).code).toBe('size-mismatch');
    expect(await verifyPart(storage, DIR, { ...part, rawSha256: '0'.repeat(64) }, fmt, ring)).toMatchObject({
      ok: false,
      code: 'checksum-mismatch',
    });
  });

  it('fails before reading when the stored part is shorter or missing', async () => {
    const part = await write('parts/0003.rows', randomBytes(1000), fmt);
    truncateSync(join(root.path, DIR, part.name), part.size - 1);
    expect((await openPart(storage, DIR, part, fmt, ring).catch((e: ArchiveError) => e)) as ArchiveError).toMatchObject(
      {
        code: 'size-mismatch',
        part: part.name,
      },
    );
    await storage.delete(`${DIR}/${part.name}`);
    expect(await verifyPart(storage, DIR, part, fmt, ring)).toEqual({
      ok: false,
      code: 'missing-part',
      detail: `${part.name}: is missing from storage`,
    });
  });

  it('fails at the end when the plaintext is not what the manifest records', async () => {
    const part = await write('parts/0004.rows', randomBytes(5000), fmt);
    expect((await readError({ ...part, rawSha256: '0'.repeat(64) }, fmt)).code).toBe('checksum-mismatch');
    expect((await readError({ ...part, rawBytes: part.rawBytes + 1 }, fmt)).code).toBe('size-mismatch');
    expect((await readError({ ...part, rawBytes: part.rawBytes - 1 }, fmt)).code).toBe('size-mismatch');
  });
});

/**
 * Flips `mask` in one stored byte at a time (the header, early frames, the middle, the tail)
 * and runs `check` against each damaged file; returns the original bytes.
 */
async function eachFlippedByte(file: string, mask: number, check: () => Promise<unknown>): Promise<Buffer> {
  const original = readFileSync(file);
  for (const pos of [0, 7, 40, Math.floor(original.length / 2), original.length - 17, original.length - 1]) {
    const bad = Buffer.from(original);
    bad[pos] ^= mask;
    writeFileSync(file, bad);
    await check();
  }
  return original;
}

describe('openPart streams destroyed unread', () => {
  it('close the stored stream under them', async () => {
    const fmt = format('zstd', true);
    // More stored bytes than the read pipeline buffers, so the file cannot have been read to its end.
    const part = await write('parts/0001.rows', randomBytes(16 * 1024 * 1024), fmt);
    const bodies: Readable[] = [];
    // The real storage, with the streams it hands out kept to look at.
    const watched = Object.create(storage) as LocalStorage;
    watched.get = async (key: string) => {
      const body = await storage.get(key);
      bodies.push(body);
      return body;
    };
    const rows = await openPart(watched, DIR, part, fmt, ring);
    const bodyClosed = new Promise((resolve) => bodies[0].once('close', resolve));
    rows.destroy();
    await new Promise((resolve) => rows.once('close', resolve));
    // Not a timing goal: unfixed, the file would stay open until garbage collection, so wait a while, not forever.
    await Promise.race([bodyClosed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    expect(bodies[0].destroyed).toBe(true);
  });
});

describe('writePart failures leave nothing behind', () => {
  it('removes the part when the source errors midway', async () => {
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(300_000);
        throw new Error('export of table "users" failed');
      })(),
    );
    await expect(writePart(storage, DIR, 'parts/0001.rows', failing, { compression: 'zstd' })).rejects.toThrow(
      'export of table "users" failed',
    );
    expect(await storage.list('backups/')).toEqual([]);
    expect(readdirSync(root.path, { recursive: true }).filter((f) => String(f).includes('0001'))).toEqual([]);
  });

  it('stops and removes the part when aborted', async () => {
    const controller = new AbortController();
    const endless = new Readable({
      read() {
        this.push(randomBytes(64 * 1024));
      },
    });
    const writing = writePart(storage, DIR, 'parts/0001.rows', endless, {
      compression: 'none',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 20);
    await expect(writing).rejects.toThrow(/abort/i);
    expect(endless.destroyed).toBe(true);
    expect(await storage.list('backups/')).toEqual([]);
  });
});

describe('keys', () => {
  const fmt = format('zstd', true);

  it('reads a part written under a key that is no longer active (rotation)', async () => {
    const data = randomBytes(10_000);
    const part = await writePart(storage, DIR, 'parts/old.rows', source(data), {
      compression: 'zstd',
      encryption: { keyId: 'old', key: ring.get('old') as Buffer },
    });
    const oldFmt: PartFormat = {
      compression: 'zstd',
      encryption: { algorithm: 'AES-256-GCM', keyId: 'old', frameSize: F },
    };
    expect((await readAll(await openPart(storage, DIR, part, oldFmt, ring))).equals(data)).toBe(true);
  });

  it('says wrong key, unknown key id, or no keyring, naming the part', async () => {
    const part = await write('parts/0001.rows', randomBytes(1000), fmt);
    const impostor = new Keyring([['k1', randomBytes(32)]]);
    expect((await readError(part, fmt, impostor)).message).toBe(
      `${part.name}: wrong key or corrupted part (frame 0 failed authentication)`,
    );
    const other = new Keyring([['k2', randomBytes(32)]]);
    expect((await readError(part, fmt, other)).message).toBe(`${part.name}: key id "k1" is not in the keyring`);
    await expect(openPart(storage, DIR, part, fmt, null)).rejects.toMatchObject({
      code: 'unknown-key',
      part: part.name,
    });
  });
});
