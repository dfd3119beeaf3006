/**
 * Parallel replace restores, step 2 of 3: the loader connections (pg-load-pool.ts) fill the
 * shadow tables while the main transaction restores the rest. Each shadow is loaded in its own
 * transaction: TRUNCATE (so COPY may write the rows frozen), COPY, then its indexes, each built
 * once over the sorted rows, as pg_restore does.
 *
 * A large table (STAGE_SPLIT_BYTES) builds its indexes as jobs of their own once its rows are
 * committed, so two of them build at once on two loaders (a plain key as its unique index, which
 * the swap attaches: CREATE INDEX takes a SHARE lock, which does not conflict with itself); a
 * table a quarter larger than all the others together is dealt out to every loader (tablesToDeal).
 * Those index jobs are taken once every table is loading (LoadPool).
 *
 * Then the loader gathers the shadow's statistics. That keeps writers waiting a little longer
 * than an ANALYZE after the commit would, but the table never goes live without statistics (the
 * planner would guess until autovacuum came by), the foreign key checks before the commit are
 * planned with them, and a loader that is free does it: on shape a of the benchmark the restore
 * took 7.1 / 6.7 s this way, against 8.3 s with its three tables analyzed after the commit.
 *
 * Nothing here touches a live table, so the loaders never wait for the locks the main
 * transaction holds; the shadows have autovacuum off until their swap, so they do not wait for
 * it either.
 */
import type { Readable } from 'node:stream';
import type { Client } from 'pg';
import type { RestoreTableInput } from '../dialect';
import { BINARY_ROW_FORMAT } from './pg-copy-binary';
import { copyIn, storedColumns } from './pg-copy-in';
import { indexBuildSql, isGinIndex, rebuildError } from './pg-indexes';
import { readAheadInOrder } from './pg-read-ahead';
import { BEGIN_LOAD, dealRows, LoadPool, loadError, STAGE_SPLIT_BYTES, tablesToDeal } from './pg-load-pool';
import {
  RESTORE_APP_PREFIX,
  shadowQualified,
  type ShadowIndex,
  type ShadowPlan,
  type ShadowTable,
} from './pg-shadow-prepare';

export interface LoadOptions {
  url: string;
  maintenanceWorkMem: string;
  /** default_toast_compression of the loaders, or null for the server's. */
  toastCompression?: string | null;
  signal: AbortSignal;
  /** Gather each shadow's statistics once it is loaded and indexed (RESTORE_ANALYZE). */
  analyze: boolean;
  onProgress?(p: { table: string; rows: number }): void;
}

export interface LoadedShadow extends ShadowTable {
  rowsWritten: number;
  /** Its rows were written frozen (COPY FREEZE): all but a table dealt out to several loaders. */
  frozen: boolean;
}

/** Loads every shadow of `plan`; settles once every loader connection is closed (see LoadPool). */
export async function loadShadows(
  plan: ShadowPlan,
  inputs: RestoreTableInput[],
  opts: LoadOptions,
): Promise<LoadedShadow[]> {
  const ahead = readAheadInOrder(
    inputs,
    plan.tables.map((t) => t.table),
  );
  const byName = ahead.byName;
  const pool = new LoadPool({
    url: opts.url,
    app: `${RESTORE_APP_PREFIX}${plan.token}`,
    parallel: plan.parallel,
    maintenanceWorkMem: opts.maintenanceWorkMem,
    toastCompression: opts.toastCompression,
    signal: opts.signal,
  });
  const toDeal = tablesToDeal(plan.tables, plan.parallel);
  const loaded: LoadedShadow[] = [];

  function copyRows(c: Client, t: ShadowTable, source: Readable, freeze: boolean, onRows: (n: number) => void) {
    const input = byName.get(t.table)!;
    return copyIn(c, {
      target: shadowQualified(t),
      columns: storedColumns(input.table),
      source,
      onRows,
      signal: pool.signal,
      freeze,
      format: input.rowFormat,
    });
  }

  /**
   * Builds `list` in one message and commits; `begin` opens the transaction ('' = it is open).
   * Should that fail, each is built alone on the same rows, to name the one that fails.
   */
  async function build(c: Client, t: ShadowTable, list: ShadowIndex[], begin: string): Promise<void> {
    const savepoint = list.length > 1 ? 'SAVEPOINT strongroom_build;' : '';
    const ddl = (ix: ShadowIndex): string => indexBuildSql(ix.ddl, opts.maintenanceWorkMem);
    try {
      await c.query([begin, savepoint, ...list.map((ix) => `${ddl(ix)};`), 'COMMIT;'].filter(Boolean).join('\n'));
      return;
    } catch (err) {
      if (list.length === 1) throw rebuildError(t.table, list[0], err);
      if (!savepoint) throw loadError(t, err);
      await c.query('ROLLBACK TO SAVEPOINT strongroom_build').catch(() => {
        throw loadError(t, err);
      });
      for (const ix of list) {
        try {
          await c.query(ddl(ix));
        } catch (one) {
          throw rebuildError(t.table, ix, one);
        }
      }
      throw loadError(t, err);
    }
  }

  /**
   * The shadow's statistics, once its indexes are built (ANALYZE would wait for a build, and it
   * gathers those of expression indexes too). A failure loses nothing: the table is analyzed
   * again after the commit (PostgresDialect.restore), where a failure is reported.
   */
  async function analyze(c: Client, t: ShadowTable): Promise<void> {
    if (!opts.analyze) return;
    try {
      await c.query(`${BEGIN_LOAD}\nANALYZE ${shadowQualified(t)};\nCOMMIT;`);
    } catch {
      await c.query('ROLLBACK').catch(() => undefined);
    }
  }

  async function load(c: Client, t: ShadowTable): Promise<void> {
    const input = byName.get(t.table)!;
    const dealt = toDeal.has(t.table);
    const onRows = (rows: number): void => opts.onProgress?.({ table: t.table, rows });
    let rowsWritten: number;
    try {
      if (dealt) {
        rowsWritten = await dealRows(
          pool,
          c,
          t,
          await input.open(),
          input.rowFormat === BINARY_ROW_FORMAT,
          (client, source, onShare) => copyRows(client, t, source, false, onShare),
          onRows,
        );
      } else {
        await c.query(`${BEGIN_LOAD}\nTRUNCATE ${shadowQualified(t)};`);
        rowsWritten = await copyRows(c, t, await input.open(), true, onRows);
      }
    } catch (err) {
      throw loadError(t, err);
    }
    loaded.push({ ...t, rowsWritten, frozen: !dealt });
    const split = dealt || (t.bytes >= STAGE_SPLIT_BYTES && t.indexes.length > 1);
    if (!split || !t.indexes.length) {
      // In the COPY's transaction (a dealt table's rows are all committed: in one of its own).
      await build(c, t, t.indexes, dealt ? BEGIN_LOAD : '');
      return analyze(c, t);
    }
    if (!dealt) await c.query('COMMIT');
    // The longest first, to keep every loader busy to the end: a GIN index, then the keys.
    const order = (ix: ShadowIndex): number => (isGinIndex(ix.ddl) ? 0 : ix.constraint ? 1 : 2);
    let left = t.indexes.length;
    for (const ix of [...t.indexes].sort((a, b) => order(a) - order(b)))
      pool.follow(async (client) => {
        await build(client, t, [ix], BEGIN_LOAD);
        if (--left === 0) await analyze(client, t);
      });
  }

  for (const t of plan.tables) pool.load((c) => load(c, t));
  try {
    await pool.run();
  } finally {
    ahead.close();
  }
  return loaded;
}
