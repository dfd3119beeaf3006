/**
 * Feeds one table's backup rows to a synchronous callback in bounded batches, yielding to the
 * event loop between batches (better-sqlite3 is synchronous) and stopping on abort.
 */
import type { Readable } from 'node:stream';
import { yieldToEventLoop } from './sqlite-connection';
import { decodeRow, readLines, type SqliteValue } from './sqlite-row-codec';
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
      const values = decodeRow(line, target.columns.length, () => `row ${rows + 1}`);
      each(values);
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
    throw new Error(`Restoring SQLite table ${target.name} failed after ${rows} rows: ${(err as Error).message}`, { cause: err });
  }
}
