/**
 * Opens each table's rows while the table before it is still loading. Opening a part is a
 * handful of storage calls (stat, open, the first read) and its first frames' decryption and
 * decompression; done between two COPYs, all of it waits for a round trip, 500 times for 500
 * small tables. Done one table ahead, it overlaps the server's work on the previous COPY. At
 * most one table is open ahead, so memory stays bounded by one more part's stream buffers.
 */
import type { Readable } from 'node:stream';
import type { RestoreTableInput } from '../dialect';

export interface ReadAhead {
  /** The same tables, in the same order; opening one starts opening the next. */
  tables: RestoreTableInput[];
  /** Destroys what was opened ahead and not taken (the restore failed or stopped). */
  close(): void;
}

export function readAhead(tables: RestoreTableInput[]): ReadAhead {
  const opened = new Map<number, Promise<Readable>>();
  /**
   * Tables already handed out. Loaders take their tables in order but may open them out of it
   * (one opens table 2 while the one that took table 1 has not yet opened it): without this,
   * opening table 1 would open table 2 "ahead" a second time, a stream nobody reads.
   */
  const taken = new Set<number>();
  let closed = false;
  const start = (i: number): void => {
    if (closed || i >= tables.length || opened.has(i) || taken.has(i)) return;
    const p = (async () => tables[i].open())();
    // Its failure is the table's own: it surfaces when the restore takes the table.
    p.catch(() => undefined);
    opened.set(i, p);
  };
  return {
    tables: tables.map((t, i) => ({
      ...t,
      open: (): Promise<Readable> => {
        start(i);
        const p = opened.get(i) ?? (async () => t.open())();
        opened.delete(i);
        taken.add(i);
        start(i + 1);
        return p;
      },
    })),
    close: () => {
      closed = true;
      for (const p of opened.values())
        p.then(
          (s) => s.destroy(),
          () => undefined,
        );
      opened.clear();
    },
  };
}

/**
 * readAhead for the parallel loaders (pg-load-pool.ts), which take the tables named `order` in
 * that order: each table's rows are opened while the loader before it still loads. Returns
 * those tables by name.
 */
export function readAheadInOrder(
  inputs: RestoreTableInput[],
  order: string[],
): { byName: Map<string, RestoreTableInput>; close(): void } {
  const given = new Map(inputs.map((t) => [t.name, t]));
  const ahead = readAhead(order.map((name) => given.get(name)!));
  return { byName: new Map(ahead.tables.map((t) => [t.name, t])), close: ahead.close };
}
