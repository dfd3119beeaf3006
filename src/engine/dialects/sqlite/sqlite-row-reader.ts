/**
 * Feeds one table's backup rows to a synchronous callback in bounded batches, yielding to the
 * event loop between batches (better-sqlite3 is synchronous) and stopping on abort.
 */
import type { Readable } from 'node:stream';
import type { Statement } from 'better-sqlite3';
import { yieldToEventLoop, type SqliteDb } from './sqlite-connection';
import { decodeRow, readLines, TextBytes, type SqliteValue } from './sqlite-row-codec';
import type { RestoreTarget } from './sqlite-restore-targets';

export interface RowReadOptions {
  batchRows: number;
  signal?: AbortSignal;
  onProgress?(p: { table: string; rows: number }): void;
}

export async function forEachRow(
  target: RestoreTarget,
  opts: RowReadOptions,
  each: (values: SqliteValue[]) => void,
): Promise<number> {
  let rows = 0;
  let stream: Readable | undefined;
  try {
    opts.signal?.throwIfAborted();
    stream = await target.input.open();
    for await (const line of readLines(stream)) {
      const values = decodeRow(line, target.width, () => `row ${rows + 1}`);
      each(target.dropRowid ? values.slice(1) : values);
      rows++;
      if (rows % opts.batchRows === 0) {
        opts.onProgress?.({ table: target.input.name, rows });
        await yieldToEventLoop();
        opts.signal?.throwIfAborted();
      }
    }
    opts.onProgress?.({ table: target.input.name, rows });
    return rows;
  } catch (err) {
    stream?.destroy();
    if (opts.signal?.aborted) throw new Error(`Restore of SQLite table ${target.name} was aborted after ${rows} rows`);
    throw new Error(`Restoring SQLite table ${target.name} failed after ${rows} rows: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Runs one INSERT per decoded row. Text kept as bytes (`TextBytes`) is bound as a blob and
 * cast back to TEXT in SQL, which keeps its bytes exactly; rows holding such values use a
 * variant of the statement, prepared once per combination of positions.
 */
export class RowInserter {
  private readonly stmts = new Map<string, Statement>();

  constructor(
    private readonly db: SqliteDb,
    /** The INSERT for these parameter expressions (`?` or `CAST(? AS TEXT)`), one per value. */
    private readonly sqlFor: (params: string[]) => string,
  ) {}

  run(values: SqliteValue[]): number {
    let key = '';
    let bound: unknown[] = values;
    for (let i = 0; i < values.length; i++) {
      if (values[i] instanceof TextBytes) {
        if (bound === values) bound = [...values];
        bound[i] = (values[i] as TextBytes).bytes;
        key += `${i},`;
      }
    }
    let stmt = this.stmts.get(key);
    if (!stmt) {
      stmt = this.db.prepare(this.sqlFor(values.map((v) => (v instanceof TextBytes ? 'CAST(? AS TEXT)' : '?'))));
      this.stmts.set(key, stmt);
    }
    return stmt.run(bound).changes;
  }
}
