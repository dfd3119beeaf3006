/** Streams COPY rows (text, or binary: pg-copy-binary.ts) from a backup into a table or a TEMP staging table. */
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RestoreTableInput, TableInfo, TableRowFormat } from '../dialect';
import { BINARY_ROW_FORMAT, BinaryRowCounter } from './pg-copy-binary';
import { quoteIdent, qualify } from './pg-session';

/** Columns the backup carries, in export order: every column but generated ones. */
export function storedColumns(table: TableInfo): string[] {
  return table.columns.filter((c) => !c.generated).map((c) => c.name);
}

export function columnList(cols: string[], alias?: string): string {
  return cols.map((c) => (alias ? `${alias}.${quoteIdent(c)}` : quoteIdent(c))).join(', ');
}

export interface CopyInOptions {
  /** Relation SQL, e.g. `public."t"` or a temp table name. */
  target: string;
  columns: string[];
  source: Readable;
  onRows?(rows: number): void;
  signal?: AbortSignal;
  /**
   * Write the rows frozen, so no later vacuum has to visit every page to set hint bits and
   * freeze them. Only valid for a plain table created or truncated in this same transaction.
   */
  freeze?: boolean;
  /** The rows are binary COPY (pg-copy-binary.ts), not text. */
  format?: TableRowFormat;
}

/** What pg-copy-streams' COPY FROM query keeps of the connection it runs on. */
interface CopyFromInternals {
  connection: { stream: NodeJS.WritableStream & { cork(): void; uncork(): void } } | null;
  flushChunk(chunk: Buffer): boolean;
}

/**
 * pg-copy-streams' COPY FROM, sending each chunk's CopyData message in one write. It writes
 * the 5-byte message header and the chunk separately, and node-postgres turns Nagle off, so
 * every chunk cost two system calls and two TCP segments, the server reading each: corked,
 * the two go out in one writev. Same bytes on the wire, same flow control (the return value
 * is the socket's, which copy-from waits on for 'drain').
 */
function copyFromOneWrite(sql: string): ReturnType<typeof copyFrom> {
  const copy = copyFrom(sql);
  const internals = copy as unknown as CopyFromInternals;
  // A later pg-copy-streams without this method keeps its own way of sending.
  if (typeof internals.flushChunk !== 'function') return copy;
  internals.flushChunk = (chunk: Buffer): boolean => {
    const socket = internals.connection!.stream;
    const header = Buffer.allocUnsafe(5);
    header[0] = 0x64; // 'd', CopyData
    header.writeUInt32BE(chunk.length + 4, 1);
    socket.cork();
    socket.write(header);
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  };
  return copy;
}

/** Returns the rows the server accepted. A failing source aborts the COPY (CopyFail), so nothing half-written stays. */
export async function copyIn(client: Client, opts: CopyInOptions): Promise<number> {
  let rows = 0;
  const binary = opts.format === BINARY_ROW_FORMAT ? new BinaryRowCounter() : null;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (binary) {
        binary.push(chunk);
        rows = binary.rows;
      } else for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) rows++;
      opts.onRows?.(rows);
      cb(null, chunk);
    },
  });
  const options = [...(binary ? ['FORMAT binary'] : []), ...(opts.freeze ? ['FREEZE'] : [])];
  const withOptions = options.length ? ` WITH (${options.join(', ')})` : '';
  // A table without columns takes its rows (empty lines) with no column list at all.
  const cols = opts.columns.length ? ` (${columnList(opts.columns)})` : '';
  const copy = client.query(copyFromOneWrite(`COPY ${opts.target}${cols} FROM STDIN${withOptions}`));
  await pipeline(opts.source, counter, copy, { signal: opts.signal });
  return copy.rowCount;
}

/** A TEMP table with the backup's columns and the live types; dropped at transaction end. */
export async function stageRows(
  client: Client,
  input: RestoreTableInput,
  index: number,
  opts: { onRows?(n: number): void; signal?: AbortSignal },
): Promise<string> {
  const stage = quoteIdent(`strongroom_stage_${index}`);
  const cols = storedColumns(input.table);
  await client.query(
    `CREATE TEMP TABLE ${stage} ON COMMIT DROP AS SELECT ${columnList(cols)} FROM ${qualify(input.name)} WITH NO DATA`,
  );
  const source = await input.open();
  await copyIn(client, {
    target: stage,
    columns: cols,
    source,
    onRows: opts.onRows,
    signal: opts.signal,
    format: input.rowFormat,
  });
  await client.query(`ANALYZE ${stage}`);
  return stage;
}

/** `a.k1 = b.k1 AND a.k2 = b.k2` */
export function keyJoin(pk: string[], a: string, b: string): string {
  return pk.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');
}

/** Row equality as the backup sees it: the text form, which also works for json (no = operator). */
export function rowDiffers(cols: string[], a: string, b: string): string {
  return `ROW(${columnList(cols, a)})::text IS DISTINCT FROM ROW(${columnList(cols, b)})::text`;
}
