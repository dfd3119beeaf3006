/**
 * The `sqlite-ndjson` row encoding: one JSON array per row, in the table's stored-column
 * order, each line ending in `\n`. A value's JSON form says its SQLite storage class:
 *
 *   NULL                        null
 *   INTEGER, |n| <= 2^53 - 1    bare JSON integer               42
 *   INTEGER beyond that         {"$i":"<decimal>"}              {"$i":"-9223372036854775808"}
 *   REAL, finite, fractional    bare JSON number (has . or e)   0.5, 1.5e-7
 *   REAL, integral / -0 / ±Inf  {"$f":"<String(x)>"}            {"$f":"1"}, {"$f":"-0"}, {"$f":"Infinity"}
 *   TEXT                        JSON string                     "{\"$b\":\"x\"}" stays text
 *   TEXT, not valid UTF-8       {"$t":"<base64 of its bytes>"}  {"$t":"Qf9C"}
 *   BLOB                        {"$b":"<base64>"}               {"$b":""}
 *
 * Why: a bare integral number always means INTEGER and a bare fractional one always REAL, so
 * the storage class survives even in columns without affinity; integral REALs are tagged
 * because JSON cannot tell 1.0 from 1. Only the codec ever emits objects, and text is
 * always a JSON string, so text that looks like a tag can never be mistaken for one.
 * JSON.stringify's number and string output is fully specified, so the bytes are deterministic.
 * SQLite stores whatever bytes it is given as TEXT; text that is not valid UTF-8 cannot be a
 * JSON string without being changed (U+FFFD), so it travels as its bytes and is written back
 * as TEXT with exactly those bytes: a backup never re-encodes the user's data.
 */

import { isUtf8 } from 'node:buffer';
import type { SqliteDb } from './sqlite-connection';

/** TEXT whose bytes are not valid UTF-8, kept as bytes; written back with `CAST(? AS TEXT)`. */
export class TextBytes {
  constructor(readonly bytes: Buffer) {}
}

export type SqliteValue = null | bigint | number | string | Buffer | TextBytes;

/** A JSON value for TEXT given as its stored UTF-8 bytes. */
export function encodeTextBytes(bytes: Buffer): string {
  return isUtf8(bytes) ? JSON.stringify(bytes.toString('utf8')) : `{"$t":"${bytes.toString('base64')}"}`;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function encodeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v <= MAX_SAFE && v >= -MAX_SAFE ? v.toString() : `{"$i":"${v.toString()}"}`;
    case 'number':
      if (Number.isFinite(v) && !Number.isInteger(v)) return JSON.stringify(v);
      return `{"$f":"${Object.is(v, -0) ? '-0' : String(v)}"}`;
    case 'string':
      return JSON.stringify(v);
    default:
      if (Buffer.isBuffer(v)) return `{"$b":"${v.toString('base64')}"}`;
      if (v instanceof TextBytes) return encodeTextBytes(v.bytes);
      throw new TypeError(`SQLite value of unexpected type ${typeof v}`);
  }
}

/** One row's JSON array, without the line end. */
export function encodeRowJson(row: unknown[]): string {
  let line = '[';
  for (let i = 0; i < row.length; i++) {
    if (i > 0) line += ',';
    line += encodeValue(row[i]);
  }
  return line + ']';
}

/** Rows come from a statement in raw + safeIntegers mode, so INTEGER is bigint and REAL is number. */
export function encodeRow(row: unknown[]): string {
  return encodeRowJson(row) + '\n';
}

/**
 * The same row encoding computed by SQLite, so that text and safe integers, most of a typical
 * table, never cross into JavaScript one value at a time: that per-value work was most of
 * the export's CPU. The line comes back as bytes (`sqlRowJsonBytes`), so valid lines are
 * copied without any decoding; a line that is not valid UTF-8 holds text that is not, and
 * `fixInvalidText` turns exactly those strings into `$t` tags.
 * json_array quotes text exactly as JSON.stringify does (", \\, short \b\t\n\f\r escapes,
 * lowercase \u00xx for other controls, everything else as is, invalid UTF-8 passed through)
 * and prints integers in decimal. REAL, BLOB and large INTEGER values go to `encodeValue`
 * through a registered function and are embedded verbatim by json(). The codec spec checks
 * byte equality with `encodeRowJson` on random values of every storage class, so a
 * better-sqlite3 upgrade whose bundled SQLite quotes differently fails there first.
 */
export const SQL_VALUE_FUNCTION = 'strongroom_ndjson_value';
/** SQLite's limit on a function's arguments; wider tables use `encodeRow` on raw rows. */
export const MAX_SQL_ROW_COLUMNS = 1000;

/**
 * `textEncoding` is the database's `PRAGMA encoding`. UTF-16 databases use `encodeRow`:
 * SQLite turns a lone surrogate in UTF-16 text into UTF-8 one way when returning the value
 * and another way inside json_array, so the bytes would differ from the per-value path.
 */
export function canEncodeInSql(textEncoding: string, columnCount: number): boolean {
  return columnCount <= MAX_SQL_ROW_COLUMNS && textEncoding.toUpperCase() === 'UTF-8';
}

export function registerSqlValueFunction(db: SqliteDb): void {
  db.function(SQL_VALUE_FUNCTION, { deterministic: true, safeIntegers: true }, (v: unknown) => encodeValue(v));
}

/** A SELECT expression giving the row's JSON array as a BLOB (its exact bytes); see `lineFromSql`. */
export function sqlRowJsonBytes(columns: string[]): string {
  return `CAST(${sqlRowJson(columns)} AS BLOB)`;
}

/** The encoded line for one `sqlRowJsonBytes` value. */
export function lineFromSql(bytes: Buffer): Buffer {
  return isUtf8(bytes) ? bytes : fixInvalidText(bytes);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SHORT_ESCAPES: Record<number, number> = {
  0x62: 8,
  0x66: 12,
  0x6e: 10,
  0x72: 13,
  0x74: 9,
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
};

/** The bytes a JSON string body (between its quotes) stands for; SQLite escapes controls only. */
function unescapeJsonBytes(body: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== BACKSLASH) {
      out.push(c);
      continue;
    }
    const e = body[++i];
    if (e === 0x75) {
      const code = parseInt(body.subarray(i + 1, i + 5).toString('latin1'), 16);
      i += 4;
      out.push(...Buffer.from(String.fromCharCode(code), 'utf8'));
    } else if (SHORT_ESCAPES[e] !== undefined) out.push(SHORT_ESCAPES[e]);
    else throw new Error(`unexpected escape \${String.fromCharCode(e)} in SQLite JSON text`);
  }
  return Buffer.from(out);
}

/**
 * Rewrites each top-level JSON string of a json_array line whose bytes are not valid UTF-8 as
 * a `$t` tag of the exact stored bytes; everything else is copied unchanged.
 */
export function fixInvalidText(line: Buffer): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === QUOTE) {
      let j = i + 1;
      while (line[j] !== QUOTE) j += line[j] === BACKSLASH ? 2 : 1;
      const body = line.subarray(i + 1, j);
      if (depth === 1 && !isUtf8(body)) {
        parts.push(
          line.subarray(copied, i),
          Buffer.from(`{"$t":"${unescapeJsonBytes(body).toString('base64')}"}`, 'latin1'),
        );
        copied = j + 1;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  parts.push(line.subarray(copied));
  return Buffer.concat(parts);
}

/** A SELECT expression giving the row's JSON array; `columns` are quoted identifiers. */
export function sqlRowJson(columns: string[]): string {
  const value = (c: string) =>
    `CASE typeof(${c}) WHEN 'text' THEN ${c} WHEN 'null' THEN NULL ` +
    `WHEN 'integer' THEN iif(${c} BETWEEN -${Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER}, ${c}, json(${SQL_VALUE_FUNCTION}(${c}))) ` +
    `ELSE json(${SQL_VALUE_FUNCTION}(${c})) END`;
  return `json_array(${columns.map(value).join(', ')})`;
}

/**
 * Packs encoded rows into byte chunks of about `chunkBytes`, whole lines only. Each line is
 * UTF-8-encoded straight into a preallocated buffer: joining lines into one string first and
 * converting that costs a third more CPU on text-heavy tables.
 */
const NEWLINE = Buffer.from('\n');

export class RowChunker {
  private buf = Buffer.alloc(0);
  private used = 0;

  constructor(
    private readonly chunkBytes: number,
    private readonly emit: (chunk: Buffer) => void,
  ) {}

  add(row: unknown[]): void {
    this.addJson(encodeRowJson(row));
  }

  /** Adds one row already encoded as its JSON array (see sqlRowJson). */
  addJson(json: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8, so this room is always enough.
    const worst = json.length * 3 + 1;
    if (this.buf.length - this.used < worst) {
      this.flush();
      if (worst > this.chunkBytes) {
        this.emit(Buffer.from(`${json}\n`, 'utf8'));
        return;
      }
      this.buf = Buffer.allocUnsafe(this.chunkBytes);
    }
    this.used += this.buf.write(json, this.used, 'utf8');
    this.buf[this.used++] = 0x0a;
  }

  /** Adds one row already encoded as the bytes of its JSON array (see lineFromSql). */
  addBytes(line: Buffer): void {
    const need = line.length + 1;
    if (this.buf.length - this.used < need) {
      this.flush();
      if (need > this.chunkBytes) {
        this.emit(Buffer.concat([line, NEWLINE]));
        return;
      }
      this.buf = Buffer.allocUnsafe(this.chunkBytes);
    }
    this.used += line.copy(this.buf, this.used);
    this.buf[this.used++] = 0x0a;
  }

  /** Emits what is pending; the emitted buffer is never written to again. */
  flush(): void {
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    this.buf = Buffer.alloc(0);
    this.used = 0;
    this.emit(chunk);
  }
}

const FLOAT_TAG = /^(-?Infinity|NaN|-0|-?\d+(\.\d+)?(e[+-]?\d+)?)$/;
const INT_TAG = /^-?\d{1,19}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function decodeTagged(o: Record<string, unknown>): SqliteValue {
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const [key] = keys;
    const s = o[key];
    if (typeof s === 'string') {
      if (key === '$b' && s.length % 4 === 0 && BASE64.test(s)) return Buffer.from(s, 'base64');
      if (key === '$t' && s.length % 4 === 0 && BASE64.test(s)) return new TextBytes(Buffer.from(s, 'base64'));
      if (key === '$i' && INT_TAG.test(s)) {
        const n = BigInt(s);
        if (n >= INT64_MIN && n <= INT64_MAX) return n;
      }
      if (key === '$f' && FLOAT_TAG.test(s)) return s === '-0' ? -0 : Number(s);
    }
  }
  throw new Error(`unknown value tag ${JSON.stringify(o).slice(0, 60)}`);
}

/**
 * Values are bound as they will be stored: better-sqlite3 binds bigint as INTEGER and
 * every JS number (even 1) as REAL, which is exactly the distinction the encoding keeps.
 */
export function decodeValue(v: unknown): SqliteValue {
  if (v === null || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return v;
    if (!Number.isSafeInteger(v)) throw new Error(`integer ${v} is beyond 2^53 but not tagged`);
    return BigInt(v);
  }
  if (typeof v === 'object' && !Array.isArray(v)) return decodeTagged(v as Record<string, unknown>);
  throw new Error(`unexpected JSON value ${JSON.stringify(v).slice(0, 60)}`);
}

/** Decodes one line; `where` names the table and line for the error message. */
export function decodeRow(line: string, width: number, where: () => string): SqliteValue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`${where()}: not valid JSON`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${where()}: expected a JSON array`);
  if (parsed.length !== width) throw new Error(`${where()}: expected ${width} values, found ${parsed.length}`);
  const out: SqliteValue[] = new Array<SqliteValue>(width);
  for (let i = 0; i < width; i++) {
    try {
      out[i] = decodeValue(parsed[i]);
    } catch (err) {
      throw new Error(`${where()}, value ${i + 1}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Splits a byte stream into lines; bounded by the longest row, never by the table. */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  for await (const chunk of stream) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let nl = buf.indexOf(0x0a);
    while (nl !== -1) {
      pending.push(buf.subarray(0, nl));
      // Splitting bytes at \n is safe: 0x0a never occurs inside a multi-byte UTF-8 sequence.
      yield Buffer.concat(pending).toString('utf8');
      pending = [];
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    if (buf.length > 0) pending.push(buf);
  }
  if (pending.length > 0) throw new Error('row stream ended in the middle of a line (truncated)');
}

/**
 * Per-value path (wide tables, UTF-16 databases): TEXT is selected as its bytes, with one
 * extra column of storage-class letters, so no text is ever decoded lossily on the way.
 */
export function sqlRawSelect(columns: string[]): string {
  const values = columns.map((c) => `CASE WHEN typeof(${c}) = 'text' THEN CAST(${c} AS BLOB) ELSE ${c} END`);
  // Nested concat() of bounded groups: a chain of || this long exceeds SQLite's expression depth.
  const letters = columns.map((c) => `substr(typeof(${c}), 1, 1)`);
  const groups: string[] = [];
  for (let i = 0; i < letters.length; i += 500) groups.push(`concat(${letters.slice(i, i + 500).join(', ')})`);
  const classes = groups.length ? `concat(${groups.join(', ')})` : `''`;
  return [...values, classes].join(', ');
}

/** One raw row of `sqlRawSelect` as values for `encodeRowJson`; `textEncoding` is PRAGMA encoding. */
export function rawRowValues(row: unknown[], textEncoding: string, where: () => string): unknown[] {
  const classes = row[row.length - 1] as string;
  const out = row.slice(0, -1);
  const enc = textEncoding.toUpperCase();
  for (let i = 0; i < out.length; i++) {
    if (classes[i] !== 't') continue;
    const bytes = out[i] as Buffer;
    if (enc === 'UTF-8') {
      out[i] = new TextBytes(bytes);
      continue;
    }
    const text = (enc === 'UTF-16BE' ? Buffer.from(bytes).swap16() : bytes).toString('utf16le');
    // A lone surrogate has no UTF-8 form: refusing beats writing back different text.
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text))
      throw new Error(
        `${where()}, value ${i + 1}: UTF-16 text with an unpaired surrogate cannot be carried byte for byte`,
      );
    out[i] = text;
  }
  return out;
}
