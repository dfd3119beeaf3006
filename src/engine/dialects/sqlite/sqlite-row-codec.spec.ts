import fc from 'fast-check';
import { Readable } from 'node:stream';
import { decodeRow, decodeValue, encodeRow, encodeValue, readLines, type SqliteValue } from './sqlite-row-codec';

const roundTrip = (v: SqliteValue): SqliteValue => decodeValue(JSON.parse(encodeValue(v)));

describe('sqlite-ndjson value encoding', () => {
  it.each<[SqliteValue, string]>([
    [null, 'null'],
    [42n, '42'],
    [BigInt(Number.MAX_SAFE_INTEGER), '9007199254740991'],
    [BigInt(Number.MAX_SAFE_INTEGER) + 1n, '{"$i":"9007199254740992"}'],
    [-(2n ** 63n), '{"$i":"-9223372036854775808"}'],
    [0.5, '0.5'],
    [1, '{"$f":"1"}'],
    [-0, '{"$f":"-0"}'],
    [Infinity, '{"$f":"Infinity"}'],
    [-Infinity, '{"$f":"-Infinity"}'],
    [1e300, '{"$f":"1e+300"}'],
    ['{"$b":"AA=="}', '"{\\"$b\\":\\"AA==\\"}"'],
    [Buffer.from([0, 255]), '{"$b":"AP8="}'],
    [Buffer.alloc(0), '{"$b":""}'],
  ])('encodes %p as %s and back', (value, json) => {
    expect(encodeValue(value)).toBe(json);
    const back = roundTrip(value);
    if (Buffer.isBuffer(value)) expect(Buffer.compare(back as Buffer, value)).toBe(0);
    else expect(Object.is(back, value) || back === value).toBe(true);
  });

  it('keeps the storage class: an integer is a bigint and an integral REAL stays a number', () => {
    expect(roundTrip(1n)).toBe(1n);
    expect(typeof roundTrip(1)).toBe('number');
  });

  it('round-trips any value of any storage class (property)', () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.double({ noNaN: true }),
      fc.string({ unit: 'grapheme' }),
      fc.uint8Array().map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (row) => {
        const line = encodeRow(row);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        const back = decodeRow(line.slice(0, -1), row.length, () => 'row 1');
        // Encoding what was decoded must give the same bytes (deep verify relies on it).
        expect(encodeRow(back)).toBe(line);
      }),
    );
  });

  it.each([
    ['{"$x":"1"}', /unknown value tag/],
    ['{"$i":"9223372036854775808"}', /unknown value tag/],
    ['{"$b":"not base64!"}', /unknown value tag/],
    ['{"$f":"1","$b":""}', /unknown value tag/],
    ['12345678901234567890', /beyond 2\^53/],
    ['true', /unexpected JSON value/],
    ['[1]', /unexpected JSON value/],
  ])('rejects the foreign value %s', (json, message) => {
    expect(() => decodeRow(`[${json}]`, 1, () => 'table t row 3')).toThrow(message);
    expect(() => decodeRow(`[${json}]`, 1, () => 'table t row 3')).toThrow(/table t row 3, value 1/);
  });

  it('rejects lines that are not arrays of the expected width', () => {
    expect(() => decodeRow('{"a":1}', 1, () => 'r')).toThrow(/expected a JSON array/);
    expect(() => decodeRow('[1,2]', 3, () => 'r')).toThrow(/expected 3 values, found 2/);
    expect(() => decodeRow('[1,', 1, () => 'r')).toThrow(/not valid JSON/);
  });
});

describe('readLines', () => {
  const collect = async (parts: (Buffer | string)[]): Promise<string[]> => {
    const out: string[] = [];
    for await (const l of readLines(Readable.from(parts))) out.push(l);
    return out;
  };

  it('reassembles lines and multi-byte characters split across chunks', async () => {
    const bytes = Buffer.from('["ü𝄞"]\n[2]\n', 'utf8');
    const parts = [...bytes].map((b) => Buffer.from([b]));
    await expect(collect(parts)).resolves.toEqual(['["ü𝄞"]', '[2]']);
  });

  it('refuses a stream cut in the middle of a line', async () => {
    await expect(collect(['[1]\n[2'])).rejects.toThrow(/truncated/);
  });
});
