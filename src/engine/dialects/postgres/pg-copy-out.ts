/**
 * A table's rows as COPY text (or binary, pg-copy-binary.ts), read on whichever thread runs this: the snapshot's main-thread
 * export (pg-snapshot.ts) and a part worker reading a table itself (readCopyOnWorker) share the
 * statement and the row counting, so both archive the same bytes.
 *
 * Why a part worker reads rows itself: receiving COPY is most of a backup's main-thread work, and
 * that thread also answers the API. On a worker (niced, see part-worker-pool.ts) it leaves the
 * main thread with storage writes of the already compressed bytes, a third of the volume.
 */
import { PassThrough } from 'node:stream';
import type { Client } from 'pg';
import type { TableInfo, TableRowFormat } from '../dialect';
import { relationSql } from './pg-catalog';
import { connect, destroyClient, quoteIdent, quoteLiteral } from './pg-session';
import { CopyToQuery } from './pg-copy-to';
import { BINARY_ROW_FORMAT } from './pg-copy-binary';

/**
 * The COPY statement that exports a table's rows, in the order the heap holds them, as pg_dump
 * reads them. Sorting by the primary key cost the server an index scan or a sort of the whole
 * table: 3.9x the plain scan's time (8.7 s against 2.2 s) on 3,000,000 rows of a time series
 * whose key (sensor, time) is not the order they were written in (the benchmark's shape d). Heap order still gives equal bytes
 * where it matters: a restore COPYs the rows into a new table in archive order, so exporting that
 * table again (deep verify) reads them back in the same order. connectAtSnapshot turns off the
 * two things that could start a scan elsewhere or interleave it: synchronized scans and parallel
 * workers.
 */
export function copyOutSql(table: TableInfo, where?: string, format?: TableRowFormat): string {
  const cols = table.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name));
  const filter = where ? ` WHERE ${where}` : '';
  const binary = format === BINARY_ROW_FORMAT ? ' (FORMAT binary)' : '';
  return `COPY (SELECT ${cols.join(', ')} FROM ${relationSql(table)}${filter}) TO STDOUT${binary}`;
}

/** The stream a table's COPY rows are piped into, and the rows that went in (copyInto counts them). */
export interface CountedRows {
  stream: PassThrough;
  rows(): number;
  add(n: number): void;
}

export function countedRows(): CountedRows {
  let rows = 0;
  return { stream: new PassThrough(), rows: () => rows, add: (n) => (rows += n) };
}

/**
 * Runs `sql` (a COPY ... TO STDOUT) on `client` into `out`. `done(reusable)` is called once: true
 * when the COPY ended and the connection can run another, false when it failed or `out` was
 * closed first (a connection left mid-COPY cannot be reused; the caller destroys it).
 */
export function copyInto(
  client: Client,
  sql: string,
  counted: CountedRows,
  name: string,
  done: (reusable: boolean) => void,
): void {
  const out = counted.stream;
  if (out.destroyed) return done(true);
  let settled = false;
  const copy = client.query(new CopyToQuery(sql, counted.add));
  copy.on('end', () => {
    if (settled) return;
    settled = true;
    done(true);
  });
  copy.on('error', (err: Error) => {
    if (settled) return;
    settled = true;
    done(false);
    out.destroy(new Error(`export of table "${name}" failed: ${err.message}`));
  });
  out.on('close', () => {
    if (settled) return;
    settled = true;
    // The reader gave up mid-COPY.
    copy.unpipe(out);
    done(false);
  });
  copy.pipe(out);
}

/** What a part worker needs to read a table's rows on its own connection, at the backup's snapshot. */
export interface PgCopySource {
  kind: 'pg-copy';
  url: string;
  /** The exporting transaction's snapshot (pg_export_snapshot()); it stays open until the backup releases it. */
  snapshotId: string;
  sql: string;
  /** The table, for error messages. */
  table: string;
}

/**
 * This thread's connections per snapshot. A connection that adopted a snapshot is reused for the
 * next table of the same backup (opening one costs a few round trips); releaseCopySnapshot closes
 * them when the backup closes its snapshot, and an idle one closes by itself after IDLE_MS in
 * case that message never comes, so no transaction is left holding the server's horizon back.
 */
const IDLE_MS = 10_000;
const pools = new Map<string, { idle: Client[]; timer: NodeJS.Timeout | null }>();
/** The latest snapshots released: a table that finishes after its backup let go closes its connection. */
const released: string[] = [];

/** A new connection in a read-only transaction at an exported snapshot (the backup's one instant). */
export async function connectAtSnapshot(url: string, snapshotId: string): Promise<Client> {
  const client = await connect(url, 'strongroom-snapshot-worker');
  try {
    // Rows come out in heap order from the first page (copyOutSql): a synchronized scan would
    // start where another scan of a large table last was, and a parallel plan would interleave pages.
    await client.query('SET synchronize_seqscans = off; SET max_parallel_workers_per_gather = 0');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
  } catch (err) {
    destroyClient(client);
    throw err;
  }
  return client;
}

async function adopt(source: PgCopySource): Promise<Client> {
  return pools.get(source.snapshotId)?.idle.pop() ?? connectAtSnapshot(source.url, source.snapshotId);
}

function giveBack(snapshotId: string, client: Client): void {
  if (released.includes(snapshotId)) {
    endClient(client);
    return;
  }
  let pool = pools.get(snapshotId);
  if (!pool) {
    pool = { idle: [], timer: null };
    pools.set(snapshotId, pool);
  }
  pool.idle.push(client);
  if (pool.timer) clearTimeout(pool.timer);
  pool.timer = setTimeout(() => releaseCopySnapshot(snapshotId), IDLE_MS);
  pool.timer.unref();
}

function endClient(c: Client): void {
  c.query('ROLLBACK')
    .then(() => c.end())
    .catch(() => destroyClient(c));
}

/** Ends this thread's connections of a snapshot: the backup is done with it. */
export function releaseCopySnapshot(snapshotId: string): void {
  if (!released.includes(snapshotId)) released.push(snapshotId);
  if (released.length > 64) released.shift();
  const pool = pools.get(snapshotId);
  if (!pool) return;
  pools.delete(snapshotId);
  if (pool.timer) clearTimeout(pool.timer);
  for (const c of pool.idle) endClient(c);
}

/** The table's COPY text, read here on a connection of this thread that adopted the backup's snapshot. */
export function readCopyOnWorker(source: PgCopySource): CountedRows {
  const counted = countedRows();
  adopt(source).then(
    (client) =>
      copyInto(client, source.sql, counted, source.table, (reusable) => {
        if (reusable) giveBack(source.snapshotId, client);
        else destroyClient(client);
      }),
    (err: Error) => counted.stream.destroy(new Error(`export of table "${source.table}" failed: ${err.message}`)),
  );
  return counted;
}
