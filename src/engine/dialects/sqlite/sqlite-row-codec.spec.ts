import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import {
  canEncodeInSql,
  decodeRow,
  decodeValue,
  encodeRow,
  encodeRowJson,
  encodeValue,
  MAX_SQL_ROW_COLUMNS,
  readLines,
  registerSqlValueFunction,
  RowChunker,
  sqlRowJson,
  type SqliteValue,
} from './sqlite-row-codec';

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

describe('sqlite-ndjson computed by SQLite (sqlRowJson)', () => {
  // Every affinity, so values arrive as SQLite stored them, not as they were bound.
  const COLUMNS = ['k', 'any', 't', 'i', 'r', 'n', 'b', 'bad_utf8'];
  const SCHEMA = `CREATE TABLE v (k INTEGER PRIMARY KEY, "any", t TEXT, i INTEGER, r REAL, n NUMERIC, b BLOB, bad_utf8 TEXT)`;
  const value = fc.oneof(
    fc.constant(null),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 0n),
    fc.double({ noNaN: true }),
    fc.constantFrom(-0, 1, 0.1, 1e21, 1e-7, Infinity, -Infinity, Number.MIN_VALUE),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) }),
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  );
  // Arbitrary bytes stored as TEXT: invalid UTF-8 must come out as the per-value path gives it.
  const row = fc.tuple(fc.array(value, { minLength: 6, maxLength: 6 }), fc.uint8Array({ maxLength: 24 }));

  it('gives the same bytes as encodeRowJson for any stored values', () => {
    const db = new Database(':memory:');
    try {
      db.exec(SCHEMA);
      registerSqlValueFunction(db);
      const insert = db.prepare(`INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT))`);
      const cols = COLUMNS.map((c) => `"${c}"`);
      const viaSql = db.prepare(`SELECT ${sqlRowJson(cols)} FROM v ORDER BY k`).pluck();
      const viaJs = db
        .prepare(`SELECT ${cols.join(', ')} FROM v ORDER BY k`)
        .raw(true)
        .safeIntegers(true);
      fc.assert(
        fc.property(fc.array(row, { minLength: 1, maxLength: 6 }), (rows) => {
          db.exec('DELETE FROM v');
          rows.forEach(([values, bytes], k) => insert.run(k, ...values, Buffer.from(bytes)));
          const expected = (viaJs.all() as unknown[][]).map(encodeRowJson);
          expect(viaSql.all()).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    } finally {
      db.close();
    }
  });

  it('is used for UTF-8 databases up to the function argument limit only', () => {
    expect(canEncodeInSql('UTF-8', MAX_SQL_ROW_COLUMNS)).toBe(true);
    expect(canEncodeInSql('UTF-8', MAX_SQL_ROW_COLUMNS + 1)).toBe(false);
    expect(canEncodeInSql('UTF-16le', 3)).toBe(false);
  });
});

describe('RowChunker', () => {
  it('emits whole lines only, in order, and a line larger than a chunk on its own', () => {
    const chunks: Buffer[] = [];
    const chunker = new RowChunker(64, (c) => chunks.push(c));
    const rows = [['ü'.repeat(10)], ['x'.repeat(100)], [1n], ['𝄞']];
    for (const r of rows) chunker.add(r);
    chunker.addJson('[2]');
    chunker.flush();
    chunker.flush();
    expect(Buffer.concat(chunks).toString('utf8')).toBe(rows.map(encodeRow).join('') + '[2]\n');
    for (const c of chunks) expect(c.at(-1)).toBe(0x0a);
    expect(chunks.map((c) => c.toString('utf8').split('\n').length - 1)).toEqual([1, 1, 3]);
  });
});
