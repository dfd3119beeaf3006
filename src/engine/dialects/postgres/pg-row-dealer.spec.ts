import { Readable } from 'node:stream';
import { BinaryRowCounter } from './pg-copy-binary';
import { RowDealer } from './pg-row-dealer';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** A binary COPY stream: header (with a 3-byte extension), rows of 0 to 3 fields (NULLs too), trailer. */
function binaryCopy(rows: number): { bytes: Buffer; rows: Buffer[] } {
  const header = Buffer.concat([SIGNATURE, Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9])]);
  const out: Buffer[] = [];
  for (let r = 0; r < rows; r++) {
    const fields = r % 4;
    const parts = [Buffer.from([0, fields])];
    for (let f = 0; f < fields; f++) {
      if ((r + f) % 5 === 0) parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      else {
        const value = Buffer.alloc((r * 7 + f * 13) % 300, r % 256);
        const len = Buffer.alloc(4);
        len.writeInt32BE(value.length);
        parts.push(len, value);
      }
    }
    out.push(Buffer.concat(parts));
  }
  return { bytes: Buffer.concat([header, ...out, Buffer.from([0xff, 0xff])]), rows: out };
}

/** The stream cut into uneven pieces, so integers and rows straddle chunk edges. */
function chunked(bytes: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let o = 0, k = 1; o < bytes.length; k = (k * 31 + 7) % 997) {
    pieces.push(bytes.subarray(o, o + k + 1));
    o += k + 1;
  }
  return Readable.from(pieces);
}

async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('RowDealer', () => {
  it('deals text rows to streams read at once, whole lines each, every row once', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${i}\tvalue ${'x'.repeat(i % 97)}\n`);
    const dealer = new RowDealer(chunked(Buffer.from(lines.join(''))), false, 4096);
    const shares = await Promise.all([drain(dealer.share()), drain(dealer.share()), drain(dealer.share())]);
    const got = shares.flatMap((s) =>
      s
        .toString()
        .split(/(?<=\n)/)
        .filter(Boolean),
    );
    expect(shares.every((s) => s.length > 0)).toBe(true);
    expect(got.sort()).toEqual([...lines].sort());
    expect(dealer.exhausted).toBe(true);
  });

  it('gives each binary stream the header and trailer around whole rows, every row once', async () => {
    const { bytes, rows } = binaryCopy(3000);
    const dealer = new RowDealer(chunked(bytes), true, 2048);
    const shares = await Promise.all([drain(dealer.share()), drain(dealer.share())]);
    let total = 0;
    const seen: string[] = [];
    for (const s of shares) {
      const counter = new BinaryRowCounter();
      counter.push(s);
      total += counter.rows;
      expect(s.subarray(0, SIGNATURE.length)).toEqual(SIGNATURE);
      expect(s.subarray(-2)).toEqual(Buffer.from([0xff, 0xff]));
      // The rows between header (19 + 3 bytes) and trailer, re-cut by the rows' own lengths.
      let o = SIGNATURE.length + 11;
      for (const r of rows) {
        if (!s.subarray(o, o + r.length).equals(r)) continue;
        seen.push(r.toString('hex'));
        o += r.length;
      }
    }
    expect(total).toBe(rows.length);
    expect(shares.every((s) => s.length > SIGNATURE.length + 13)).toBe(true);
    expect(seen.sort()).toEqual(rows.map((r) => r.toString('hex')).sort());
  });

  it('gives a stream that starts after the rows are handed out a valid empty COPY', async () => {
    const { bytes } = binaryCopy(10);
    const dealer = new RowDealer(Readable.from([bytes]), true);
    const first = await drain(dealer.share());
    const late = await drain(dealer.share());
    expect(first).toEqual(bytes);
    expect(late).toEqual(Buffer.concat([bytes.subarray(0, SIGNATURE.length + 11), Buffer.from([0xff, 0xff])]));
  });

  it.each([
    ['text', false],
    ['binary', true],
  ])(
    'never holds a row larger than the limit whole (%s): the stream that met it takes the rest',
    async (_f, binary) => {
      const big = 'y'.repeat(50_000);
      let bytes: Buffer;
      if (binary) {
        const { bytes: b } = binaryCopy(400);
        // A 50 kB field in a row of its own, spliced in after the header and the first 200 rows.
        const head = SIGNATURE.length + 11;
        let o = head;
        for (let r = 0; r < 200; r++) {
          const fields = b.readInt16BE(o);
          o += 2;
          for (let f = 0; f < fields; f++) o += 4 + Math.max(0, b.readInt32BE(o));
        }
        const len = Buffer.alloc(4);
        len.writeInt32BE(big.length);
        bytes = Buffer.concat([b.subarray(0, o), Buffer.from([0, 1]), len, Buffer.from(big), b.subarray(o)]);
      } else {
        const lines = Array.from({ length: 400 }, (_, i) => `${i}\tv${i}\n`);
        lines.splice(200, 0, `big\t${big}\n`);
        bytes = Buffer.from(lines.join(''));
      }
      const dealer = new RowDealer(chunked(bytes), binary, 1024, 8192);
      const seen: number[] = [];
      const shares = await Promise.all(
        [dealer.share(), dealer.share()].map(async (stream) => {
          const parts: Buffer[] = [];
          for await (const c of stream) {
            seen.push((c as Buffer).length);
            parts.push(c as Buffer);
          }
          return Buffer.concat(parts);
        }),
      );
      // Bounded: no piece handed out is much larger than the limit (a source piece is under 1 kB).
      expect(Math.max(...seen)).toBeLessThan(8192 + 1024);
      if (binary) {
        let total = 0;
        for (const s of shares) {
          const counter = new BinaryRowCounter();
          counter.push(s);
          total += counter.rows;
        }
        expect(total).toBe(401);
      } else {
        const got = shares.flatMap((s) =>
          s
            .toString()
            .split(/(?<=\n)/)
            .filter(Boolean),
        );
        expect(got.sort()).toEqual(
          bytes
            .toString()
            .split(/(?<=\n)/)
            .filter(Boolean)
            .sort(),
        );
      }
      expect(shares.some((s) => s.includes(Buffer.from(big)))).toBe(true);
    },
  );

  it('fails a stream whose source ends inside a row', async () => {
    const { bytes } = binaryCopy(10);
    const dealer = new RowDealer(Readable.from([bytes.subarray(0, bytes.length - 7)]), true);
    await expect(drain(dealer.share())).rejects.toThrow(/middle of a row/);
  });
});
