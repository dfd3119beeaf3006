import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCompressStream } from './compression';
import { AdaptiveZstdCompressStream, chooseZstdLevel, PROBE_BYTES } from './zstd-compress';
import { ZstdDecompressStream } from './zstd-decompress';

/**
 * Rows like an application's: an id, a few words of a 3,000-word vocabulary picked with a skew
 * (as in real text), a number, a date. Level 3 finds more here than level 1 does.
 */
function rowsText(bytes: number): Buffer {
  let x = 12345;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2147483648);
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'po', 'an', 'el', 'or', 'us'];
  const vocabulary = Array.from({ length: 3000 }, () =>
    Array.from({ length: 2 + (next() % 3) }, () => syllables[next() % syllables.length]).join(''),
  );
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const words = Array.from({ length: 4 + (next() % 12) }, () => {
      const r = next() / 2147483648;
      return vocabulary[Math.floor(r * r * r * vocabulary.length)];
    });
    const line = `${i}\t${words.join(' ')}\t${next() % 100000}\t2024-${1 + (next() % 12)}-${1 + (next() % 28)}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** bytea of random bytes as COPY text writes it: hex, no repeated sequences to find. */
function hexText(bytes: number): Buffer {
  return Buffer.from(`\\\\x${randomBytes(bytes / 2).toString('hex')}`).subarray(0, bytes);
}

async function roundTrip(input: Buffer, chunk = 64 * 1024): Promise<{ stored: Buffer; level: number | null }> {
  const c = new AdaptiveZstdCompressStream(3);
  const stored: Buffer[] = [];
  const pieces = Array.from({ length: Math.ceil(input.length / chunk) }, (_, i) =>
    input.subarray(i * chunk, (i + 1) * chunk),
  );
  await pipeline(
    Readable.from(pieces),
    c,
    new Writable({
      write: (b: Buffer, _e, done) => {
        stored.push(b);
        done();
      },
    }),
  );
  return { stored: Buffer.concat(stored), level: c.level() };
}

async function decompress(stored: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([stored]),
    new ZstdDecompressStream(),
    new Writable({
      write: (b: Buffer, _e, done) => {
        out.push(b);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

/** The frame header's Content_Checksum_flag (RFC 8878, 3.1.1.1.1): every frame we write carries one. */
function hasContentChecksum(frame: Buffer): boolean {
  expect(frame.readUInt32LE(0)).toBe(0xfd2fb528);
  return (frame[4] & 0b100) !== 0;
}

describe('zstd level chosen per part', () => {
  it('takes level 1 where level 3 finds nothing to gain, and the default where it does', () => {
    expect(chooseZstdLevel(hexText(PROBE_BYTES), 3)).toBe(1);
    expect(chooseZstdLevel(randomBytes(PROBE_BYTES), 3)).toBe(1);
    expect(chooseZstdLevel(rowsText(PROBE_BYTES), 3)).toBe(3);
    // An explicit fast default is never raised.
    expect(chooseZstdLevel(rowsText(PROBE_BYTES), 1)).toBe(1);
  });

  it('writes ordinary checksummed frames that read back byte for byte, whatever level it chose', async () => {
    const cases: Array<[string, Buffer, number]> = [
      ['hex', hexText(3 * PROBE_BYTES + 17), 1],
      ['rows', rowsText(3 * PROBE_BYTES + 17), 3],
      // Shorter than a probe: the default level, no probing.
      ['small hex', hexText(10_000), 3],
      ['empty', Buffer.alloc(0), 3],
    ];
    for (const [name, input, level] of cases) {
      const { stored, level: chosen } = await roundTrip(input);
      expect({ name, chosen }).toEqual({ name, chosen: level });
      expect(hasContentChecksum(stored)).toBe(true);
      expect((await decompress(stored)).equals(input)).toBe(true);
    }
  });

  it('compresses hex-encoded random bytes no worse than level 3 would', async () => {
    const input = hexText(2 * PROBE_BYTES);
    const adaptive = (await roundTrip(input)).stored.length;
    const fixed: Buffer[] = [];
    await pipeline(
      Readable.from([input]),
      createCompressStream('zstd', 3),
      new Writable({
        write: (b: Buffer, _e, done) => {
          fixed.push(b);
          done();
        },
      }),
    );
    expect(adaptive).toBeLessThanOrEqual(Buffer.concat(fixed).length);
  });

  it('is what the default compression step uses, and an explicit level is kept as given', () => {
    expect(createCompressStream('zstd')).toBeInstanceOf(AdaptiveZstdCompressStream);
    expect(createCompressStream('zstd', 3)).not.toBeInstanceOf(AdaptiveZstdCompressStream);
    expect(createCompressStream('zstd', undefined, { frameBytes: 1 << 20 })).toBeInstanceOf(AdaptiveZstdCompressStream);
    expect(createCompressStream('zstd', 1, { frameBytes: 1 << 20 })).not.toBeInstanceOf(AdaptiveZstdCompressStream);
  });
});
