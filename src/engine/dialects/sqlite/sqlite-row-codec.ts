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
 *   BLOB                        {"$b":"<base64>"}               {"$b":""}
 *
 * Why: a bare integral number always means INTEGER and a bare fractional one always REAL, so
 * the storage class survives even in columns without affinity; integral REALs are tagged
 * because JSON cannot tell 1.0 from 1. Only the codec ever emits objects, and text is
 * always a JSON string, so text that looks like a tag can never be mistaken for one.
 * JSON.stringify's number and string output is fully specified, so the bytes are deterministic.
 */

import type { SqliteDb } from './sqlite-connection';

export type SqliteValue = null | bigint | number | string | Buffer;

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
 * the export's CPU.
 * json_array quotes text exactly as JSON.stringify does (", \\, short \b\t\n\f\r escapes,
 * lowercase \u00xx for other controls, everything else as is, invalid UTF-8 passed through and
 * replaced by U+FFFD when the line becomes a JS string, just as when the value alone does)
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
  const out: SqliteValue[] = new Array(width);
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
