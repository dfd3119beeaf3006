import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compress as zstdCompress } from 'zstd-napi';
import { findFrameCompressedSize, getFrameContentSize } from 'zstd-napi/binding';
import { createCompressStream, createDecompressStream } from './compression';
import { ArchiveError } from './errors';
import { idleZstdContexts } from './zstd-decompress';
import { DEFAULT_FRAME_BYTES, idleZstdCompressContexts } from './zstd-compress';
import type { Compression } from './manifest.types';

/** The chunks `input` comes out as after `stages`. */
async function chunksThrough(input: Buffer[], ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(input),
    ...(stages as [NodeJS.ReadWriteStream]),
    new Writable({
      write(chunk: Buffer, _e, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return out;
}

async function through(input: Buffer[], ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  return Buffer.concat(await chunksThrough(input, ...stages));
}

const cut = (b: Buffer, size: number): Buffer[] =>
  Array.from({ length: Math.ceil(b.length / size) }, (_x, i) => b.subarray(i * size, (i + 1) * size));

/** Everything a stream emits, once it ends. */
function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(Buffer.concat(out)));
    stream.on('error', reject);
  });
}

function compressible(size: number): Buffer {
  const line = Buffer.from('42\tAda Lovelace\tada@example.com\t2024-01-01 00:00:00+00\n');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

describe.each<Compression>(['zstd', 'gzip', 'none'])('%s', (c) => {
  it.each([0, 1, 65535, 3 * 1024 * 1024])('round-trips %i random bytes', async (size) => {
    const plain = randomBytes(size);
    const packed = await through([plain], createCompressStream(c));
    expect((await through([packed], createDecompressStream(c))).equals(plain)).toBe(true);
  });

  it('shrinks compressible data', async () => {
    const plain = compressible(4 * 1024 * 1024);
    const packed = await through([plain], createCompressStream(c));
    if (c === 'none') expect(packed.length).toBe(plain.length);
    else expect(packed.length).toBeLessThan(plain.length / 10);
    expect((await through([packed], createDecompressStream(c))).equals(plain)).toBe(true);
  });

  it('rejects a level out of range', () => {
    expect(() => createCompressStream(c, 99)).toThrow(/compression level/);
  });
});

/** Debian's zstd package; the test that needs it is skipped where it is not installed. */
const ZSTD_TOOL = '/usr/bin/zstd';

describe('zstd as independent frames (frameBytes)', () => {
  const FRAME = 256 * 1024;
  /** The sizes of the zstd frames `packed` is made of, in order. */
  function frameSizes(packed: Buffer): number[] {
    const sizes: number[] = [];
    for (let at = 0; at < packed.length;) {
      const n = findFrameCompressedSize(packed.subarray(at));
      sizes.push(n);
      at += n;
    }
    return sizes;
  }

  it.each([
    ['smaller than a frame', 10_000],
    ['of exactly a frame', FRAME],
    ['larger than a frame', FRAME * 2 + 123],
  ])(
    'cuts input arriving in chunks %s into frames of the size, which read back as one stream',
    async (_name, chunk) => {
      // Compressible, incompressible, compressible: frames handed on in the output buffer (random
      // bytes) and frames copied out of it follow each other without overwriting one another.
      const plain = Buffer.concat([compressible(FRAME + 5000), randomBytes(2 * FRAME), compressible(FRAME / 2)]);
      const packed = await through(cut(plain, chunk), createCompressStream('zstd', 1, { frameBytes: FRAME }));
      expect(frameSizes(packed)).toHaveLength(Math.ceil(plain.length / FRAME));
      expect((await through(cut(packed, 7777), createDecompressStream('zstd'))).equals(plain)).toBe(true);
      // Each frame holds its own share of the input: the first is whole and compressed.
      const first = packed.subarray(0, frameSizes(packed)[0]);
      expect(getFrameContentSize(first)).toBe(FRAME);
      expect(first.length).toBeLessThan(FRAME / 10);
    },
  );

  it('writes one empty frame for no input, and ignores the frame size for gzip and none', async () => {
    const empty = await through([], createCompressStream('zstd', 1, { frameBytes: FRAME }));
    expect(frameSizes(empty)).toHaveLength(1);
    expect(await through([empty], createDecompressStream('zstd'))).toHaveLength(0);
    const plain = compressible(3 * FRAME);
    for (const c of ['gzip', 'none'] as const) {
      const packed = await through([plain], createCompressStream(c, undefined, { frameBytes: FRAME }));
      expect((await through([packed], createDecompressStream(c))).equals(plain)).toBe(true);
    }
    expect(() => createCompressStream('zstd', 1, { frameBytes: 0 })).toThrow(/frame size/);
  });

  // The archive format promises plain zstd: the reference tool reads the frames as one stream.
  (existsSync(ZSTD_TOOL) ? describe : describe.skip)('with the zstd command-line tool', () => {
    it('is read back whole', async () => {
      const plain = Buffer.concat([compressible(2 * FRAME), randomBytes(FRAME + 17)]);
      const packed = await through([plain], createCompressStream('zstd', 1, { frameBytes: FRAME }));
      expect(frameSizes(packed).length).toBe(4);
      expect(execFileSync(ZSTD_TOOL, ['-d', '-c', '-q'], { input: packed, maxBuffer: 1 << 26 }).equals(plain)).toBe(
        true,
      );
    });
  });

  it('carries the content checksum in every frame, so damage in any frame is caught', async () => {
    const plain = randomBytes(3 * FRAME);
    const packed = await through([plain], createCompressStream('zstd', 1, { frameBytes: FRAME }));
    const sizes = frameSizes(packed);
    // Random bytes land in raw blocks: only the checksum notices a flipped byte in the last frame.
    const damaged = Buffer.from(packed);
    damaged[sizes[0] + sizes[1] + 100] ^= 0x01;
    await expect(through([damaged], createDecompressStream('zstd'))).rejects.toMatchObject({ code: 'corrupt-data' });
  });
});

describe('decompression failures', () => {
  it('fails on corrupt zstd and on a zstd stream cut mid-frame', async () => {
    const packed = await through([randomBytes(10000)], createCompressStream('zstd'));
    await expect(through([randomBytes(100)], createDecompressStream('zstd'))).rejects.toMatchObject({
      code: 'corrupt-data',
    });
    await expect(
      through([packed.subarray(0, packed.length - 5)], createDecompressStream('zstd')),
    ).rejects.toBeInstanceOf(ArchiveError);
  });

  it('zstd frames carry a content checksum, so damage to raw data is caught; frames without one still read', async () => {
    // Incompressible data lands in raw blocks: without the checksum a flipped byte there
    // would decompress "successfully" into different plaintext.
    const plain = randomBytes(100_000);
    const packed = await through([plain], createCompressStream('zstd'));
    // Frame header descriptor (after the 4-byte magic): bit 2 is Content_Checksum_flag.
    expect(packed[4] & 0x04).toBe(0x04);
    const bad = Buffer.from(packed);
    bad[Math.floor(bad.length / 2)] ^= 0x01;
    await expect(through([bad], createDecompressStream('zstd'))).rejects.toMatchObject({ code: 'corrupt-data' });
    // Archives written before the checksum was turned on: no checksum in the frame, same reader.
    const old = zstdCompress(plain);
    expect(old[4] & 0x04).toBe(0);
    expect((await through([old], createDecompressStream('zstd'))).equals(plain)).toBe(true);
  });

  it('fails on a gzip stream cut short', async () => {
    const packed = await through([randomBytes(10000)], createCompressStream('gzip'));
    await expect(through([packed.subarray(0, packed.length - 5)], createDecompressStream('gzip'))).rejects.toThrow();
  });

  it('zstd completes for every kind of reader: paused async iteration, slow, and in odd input chunks', async () => {
    const plain = Buffer.concat([randomBytes(20_000), Buffer.alloc(5_000_000, 7), randomBytes(10_000)]);
    const packed = await through([plain], createCompressStream('zstd'));
    for (const chunkSize of [3, 999, 65536, packed.length]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < packed.length; i += chunkSize) pieces.push(packed.subarray(i, i + chunkSize));
      const out: Buffer[] = [];
      let n = 0;
      for await (const chunk of Readable.from(pieces).pipe(createDecompressStream('zstd'))) {
        out.push(chunk as Buffer);
        // Yield to the event loop now and then, as a consumer writing to a database would.
        if (++n % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(Buffer.concat(out).equals(plain)).toBe(true);
    }
  });

  it('zstd output follows the reader: a highly compressible chunk does not expand all at once', async () => {
    const bomb = zstdCompress(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const stream = createDecompressStream('zstd');
    stream.write(bomb);
    // Give it every chance to run ahead of a reader that never reads.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.readableLength).toBeLessThanOrEqual(4 * 1024 * 1024);
    const out = await through([bomb], createDecompressStream('zstd'));
    expect(out.length).toBe(64 * 1024 * 1024);
    stream.destroy();
  });
});

describe('zstd decompression output', () => {
  it('is gathered into whole buffers across input chunks, not a fresh buffer per block', async () => {
    // Hex of random bytes: about 2:1, so each 64 KiB input chunk expands to about two blocks.
    const plain = Buffer.from(randomBytes(3 * 1024 * 1024).toString('hex'));
    const packed = await through([plain], createCompressStream('zstd'));
    const pieces: Buffer[] = [];
    for (let i = 0; i < packed.length; i += 64 * 1024) pieces.push(packed.subarray(i, i + 64 * 1024));
    const chunks = await chunksThrough(pieces, createDecompressStream('zstd'));
    expect(chunks.length).toBeGreaterThan(2);
    // Every chunk but the last fills its 512 KiB buffer to within the 32 KiB of room kept, and owns it alone.
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThan(480 * 1024);
      expect(c.buffer.byteLength - c.length).toBeLessThan(32 * 1024);
    }
    expect(Buffer.concat(chunks).equals(plain)).toBe(true);
  });
});

describe('zstd decompression contexts', () => {
  it('are reused from one stream to the next, also after a stream abandoned mid-frame', async () => {
    const plain = compressible(300 * 1024);
    const packed = await through([plain], createCompressStream('zstd'));
    expect((await through([packed], createDecompressStream('zstd'))).equals(plain)).toBe(true);
    const kept = idleZstdContexts();
    expect(kept).toBeGreaterThan(0);
    // A stream destroyed in the middle of a frame hands its context back reset...
    const cut = createDecompressStream('zstd');
    expect(idleZstdContexts()).toBe(kept - 1);
    cut.write(packed.subarray(0, packed.length >> 1));
    cut.destroy();
    await new Promise((r) => setImmediate(r));
    expect(idleZstdContexts()).toBe(kept);
    // ...so the next stream, which takes it, reads a whole frame as a fresh one would.
    expect((await through([packed], createDecompressStream('zstd'))).equals(plain)).toBe(true);
    expect(idleZstdContexts()).toBe(kept);
  });
});

describe('zstd compression output and contexts', () => {
  it('writes the default frame size, pushing each frame in a buffer of about its own size', async () => {
    // Hex of random bytes: compresses to about half. Fed in 64 KiB chunks, as rows arrive.
    const plain = Buffer.from(randomBytes(3 * DEFAULT_FRAME_BYTES).toString('hex')).subarray(
      0,
      5 * DEFAULT_FRAME_BYTES + 99,
    );
    const chunks = await chunksThrough(cut(plain, 64 * 1024), createCompressStream('zstd'));
    expect(chunks.map((c) => getFrameContentSize(c))).toEqual([...Array(5).fill(DEFAULT_FRAME_BYTES), 99]);
    for (const c of chunks) {
      expect(findFrameCompressedSize(c)).toBe(c.length);
      // The buffer behind a frame holds little else: at most what compressBound reserves.
      expect(c.buffer.byteLength).toBeLessThanOrEqual(2 * c.length + 64 * 1024);
    }
    // Buffer#equals, not toEqual: jest compares a Buffer's bytes one by one, for seconds per MiB.
    expect((await through([Buffer.concat(chunks)], createDecompressStream('zstd'))).equals(plain)).toBe(true);
  });

  it('keeps streams on one thread apart when their frames are gathered from chunks by turns', async () => {
    // Both streams gather frames in the thread's one scratch buffer; written alternately, each
    // must still get its own bytes back.
    const a = compressible(3 * DEFAULT_FRAME_BYTES + 5);
    const b = randomBytes(2 * DEFAULT_FRAME_BYTES + 7);
    const [sa, sb] = [createCompressStream('zstd', 1), createCompressStream('zstd', 1)];
    const outA = collect(sa);
    const outB = collect(sb);
    const [ca, cb] = [cut(a, 100_000), cut(b, 70_000)];
    for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
      if (ca[i]) sa.write(ca[i]);
      if (cb[i]) sb.write(cb[i]);
    }
    sa.end();
    sb.end();
    const [pa, pb] = await Promise.all([outA, outB]);
    expect((await through([pa], createDecompressStream('zstd'))).equals(a)).toBe(true);
    expect((await through([pb], createDecompressStream('zstd'))).equals(b)).toBe(true);
  });

  it('reuses contexts from one stream to the next, also after a stream destroyed mid-frame', async () => {
    const plain = compressible(300 * 1024);
    const packed = await through([plain], createCompressStream('zstd'));
    const kept = idleZstdCompressContexts();
    expect(kept).toBeGreaterThan(0);
    const cut = createCompressStream('zstd');
    expect(idleZstdCompressContexts()).toBe(kept - 1);
    cut.write(plain.subarray(0, plain.length >> 1));
    cut.destroy();
    await new Promise((r) => setImmediate(r));
    expect(idleZstdCompressContexts()).toBe(kept);
    // The next stream takes that context, reset, and writes exactly what a fresh one writes.
    expect((await through([plain], createCompressStream('zstd'))).equals(packed)).toBe(true);
    expect(idleZstdCompressContexts()).toBe(kept);
  });
});
