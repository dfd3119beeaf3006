import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from '../storage/local-storage';
import { DEFAULT_FRAME_SIZE } from './encryption';
import { ArchiveError } from './errors';
import { Keyring } from './keyring';
import type { Compression, PartInfo } from './manifest.types';
import { openPart, usePartWorkers, verifyPart, warmPartWorkers, writePart, type PartFormat } from './part-io';
import { partWorkers } from './part-worker-pool';

/** The part pipeline on worker threads: the same results and the same failures as on the main thread. */
const ring = new Keyring([['k1', randomBytes(32)]]);
const DIR = 'backups/w1';
let root: ReturnType<typeof tempDir>;
let storage: LocalStorage;

beforeEach(() => {
  // Reads and writes on workers whatever the machine's core count (the default, 'auto', keeps reads inline on two cores).
  usePartWorkers(true);
  root = tempDir('strongroom-part-workers-');
  storage = new LocalStorage(root.path);
});
afterEach(() => {
  root.remove();
});
afterAll(() => partWorkers.terminateAll());

function rows(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0, n = 0; i < bytes; n++) i += out.write(`${n}\tuser-${n % 997}@example.com\t${n * 7919}\n`, i);
  return out;
}

/** Many small chunks, as a COPY export delivers them. */
function source(buf: Buffer, chunk = 1000): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(stream, new Writable({ write: (c: Buffer, _e, done) => (out.push(c), done()) }));
  return Buffer.concat(out);
}

function fmt(compression: Compression, encrypted: boolean, keyId = 'k1'): PartFormat {
  return {
    compression,
    encryption: encrypted ? { algorithm: 'AES-256-GCM', keyId, frameSize: DEFAULT_FRAME_SIZE } : null,
  };
}

async function write(name: string, data: Buffer, f: PartFormat): Promise<PartInfo> {
  return writePart(storage, DIR, name, source(data), {
    compression: f.compression,
    encryption: f.encryption ? { keyId: f.encryption.keyId, key: ring.get('k1') as Buffer } : null,
  });
}

async function readFailure(part: PartInfo, f: PartFormat, keys: Keyring = ring): Promise<Error> {
  const jobs = partWorkers.jobs;
  const err = await openPart(storage, DIR, part, f, keys)
    .then(readAll)
    .then(
      () => null,
      (e: Error) => e,
    );
  if (!err) throw new Error('expected the read to fail');
  // Large enough that the read ran on a worker, not inline.
  expect(partWorkers.jobs).toBe(jobs + 1);
  return err;
}

describe.each<[Compression, boolean]>([
  ['zstd', true],
  ['gzip', true],
  ['none', false],
])('%s, encrypted=%s', (compression, encrypted) => {
  const f = fmt(compression, encrypted);

  it('round-trips on workers with the digests the main thread computes', async () => {
    const data = rows(3 * 1024 * 1024 + 5);
    const jobs = partWorkers.jobs;
    const onWorkers = await write('parts/a.rows', data, f);
    expect(partWorkers.jobs).toBe(jobs + 1);
    expect((await readAll(await openPart(storage, DIR, onWorkers, f, ring))).equals(data)).toBe(true);
    expect(partWorkers.jobs).toBe(jobs + 2);
    expect(await verifyPart(storage, DIR, onWorkers, f, ring)).toMatchObject({ ok: true });

    // Written on the main thread: the plaintext digest is the same, and each path reads the other's part.
    usePartWorkers(false);
    const inline = await write('parts/b.rows', data, f);
    expect(partWorkers.jobs).toBe(jobs + 3);
    expect(inline).toMatchObject({ rawBytes: onWorkers.rawBytes, rawSha256: onWorkers.rawSha256 });
    expect((await readAll(await openPart(storage, DIR, onWorkers, f, ring))).equals(data)).toBe(true);
    usePartWorkers(true);
    expect((await readAll(await openPart(storage, DIR, inline, f, ring))).equals(data)).toBe(true);
  });

  it('detects a changed stored byte inside the worker, naming the part', async () => {
    const part = await write('parts/c.rows', randomBytes(600_000), f);
    const file = join(root.path, DIR, part.name);
    const original = readFileSync(file);
    const bad = Buffer.from(original);
    bad[Math.floor(original.length / 2)] ^= 0x10;
    writeFileSync(file, bad);
    const err = await readFailure(part, f);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as ArchiveError).code).toBe(encrypted ? 'auth-failed' : 'checksum-mismatch');
    expect(err.message.startsWith(`${part.name}: `)).toBe(true);
    expect(await verifyPart(storage, DIR, part, f, ring)).toMatchObject({ ok: false });
  });
});

it('reports a wrong key and an unknown key id from the worker as on the main thread', async () => {
  const f = fmt('zstd', true);
  const part = await write('parts/k.rows', randomBytes(400_000), f);
  const wrong = await readFailure(part, f, new Keyring([['k1', randomBytes(32)]]));
  expect(wrong).toMatchObject({
    code: 'auth-failed',
    message: `${part.name}: wrong key or corrupted part (frame 0 failed authentication)`,
  });
  const missing = await readFailure(part, f, new Keyring([['k2', randomBytes(32)]]));
  expect(missing).toMatchObject({ code: 'unknown-key', message: `${part.name}: key id "k1" is not in the keyring` });
});

it('fails a read cleanly when its worker dies mid-part', async () => {
  const f = fmt('zstd', true);
  const data = randomBytes(8 * 1024 * 1024);
  const part = await write('parts/d.rows', data, f);
  const stream = await openPart(storage, DIR, part, f, ring);
  let got = 0;
  const reading = pipeline(
    stream,
    new Writable({
      write(c: Buffer, _e, done) {
        got += c.length;
        // The first plaintext arrived: the worker is mid-part.
        if (got === c.length) void partWorkers.terminateAll();
        done();
      },
    }),
  );
  await expect(reading).rejects.toThrow(/part worker stopped unexpectedly/);
  expect(got).toBeLessThan(data.length);
});

it('fails a write cleanly when its worker dies mid-part, and leaves nothing in storage', async () => {
  let sent = 0;
  const slow = new Readable({
    read() {
      sent += 64 * 1024;
      // Once a little is on its way, stop the worker; then keep feeding, as a live export would.
      if (sent === 256 * 1024) void partWorkers.terminateAll();
      setImmediate(() => this.push(sent > 64 * 1024 * 1024 ? null : randomBytes(64 * 1024)));
    },
  });
  await expect(writePart(storage, DIR, 'parts/e.rows', slow, { compression: 'zstd' })).rejects.toThrow(
    /part worker stopped unexpectedly/,
  );
  expect(await storage.list('backups/')).toEqual([]);
  expect(readdirSync(root.path, { recursive: true }).filter((n) => String(n).includes('e.rows'))).toEqual([]);
  // The pool recovers: the next part gets a fresh worker.
  const data = rows(500_000);
  const part = await write('parts/f.rows', data, fmt('zstd', false));
  expect((await readAll(await openPart(storage, DIR, part, fmt('zstd', false), ring))).equals(data)).toBe(true);
});

it('keeps the other parts on a shared worker going when one of them fails', async () => {
  const f = fmt('zstd', true);
  const good = rows(2 * 1024 * 1024);
  const [okPart, badPart] = await Promise.all([write('parts/g.rows', good, f), write('parts/h.rows', good, f)]);
  const file = join(root.path, DIR, badPart.name);
  const bad = readFileSync(file);
  bad[bad.length >> 1] ^= 0x01;
  writeFileSync(file, bad);
  const [ok, failed] = await Promise.allSettled([
    openPart(storage, DIR, okPart, f, ring).then(readAll),
    openPart(storage, DIR, badPart, f, ring).then(readAll),
  ]);
  expect(ok.status === 'fulfilled' && ok.value.equals(good)).toBe(true);
  expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'auth-failed', part: badPart.name } });
  expect(partWorkers.size).toBeLessThanOrEqual(partWorkers.max);
});

it('starts one worker ahead of the first part when asked to, which then takes that part', async () => {
  await partWorkers.terminateAll();
  warmPartWorkers();
  warmPartWorkers();
  expect(partWorkers.size).toBe(1);
  const data = rows(512 * 1024);
  const part = await write('warm.rows', data, fmt('zstd', true));
  // The part ran on the worker already there; none was added for it.
  expect(partWorkers.size).toBe(1);
  expect((await readAll(await openPart(storage, DIR, part, fmt('zstd', true), ring))).equals(data)).toBe(true);
  // Where writes stay on this thread, nothing is started.
  await partWorkers.terminateAll();
  usePartWorkers(false);
  warmPartWorkers();
  expect(partWorkers.size).toBe(0);
});
