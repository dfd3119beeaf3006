/**
 * The loader connections of a parallel restore, shared by both of its paths: the replace
 * restore's shadow tables (pg-shadow-load.ts) and the restore into an empty database's staged
 * tables (pg-staged-load.ts). Jobs are taken by whichever loader comes free: first a share of a
 * table being dealt out (it loads alongside), then the next table to load, largest first, and only
 * then the index builds that finished loads queued. Builds last: a load is one long job that
 * cannot be split, while a table's index builds are several short ones, so the loaders finish
 * together. Building an early table's indexes before the next load had made shape a's
 * 110 MiB audit table load alone at the end while the other loader sat idle (docs/benchmarking.md,
 * 2026-12-03). A loader with nothing to take waits while any job runs, since that job may queue
 * more.
 *
 * Each job is one or more transactions of its own on its loader's connection. The first failure
 * stops the pool: every connection is closed (a loader stopped mid-COPY cannot end politely;
 * closing its socket rolls its transaction back), and `run` rejects with that failure, not with
 * the "aborted" errors it set off.
 */
import type { Readable } from 'node:stream';
import type { Client } from 'pg';
import { RowDealer } from './pg-row-dealer';
import { connect, destroyClient, quoteLiteral } from './pg-session';

/** Tables this large build their indexes as separate jobs, so one table's indexes build side by side. */
export const STAGE_SPLIT_BYTES = 64 * 1024 * 1024;

/**
 * Tables this large may load on every loader at once (pg-row-dealer.ts), no longer frozen: COPY
 * FREEZE needs the table created or truncated in the COPY's own transaction, which other
 * connections cannot see. See tablesToDeal.
 */
export const STAGE_DEAL_BYTES = 128 * 1024 * 1024;

/**
 * How much larger than all the others a table must be to be dealt out (see tablesToDeal): below
 * it the loader that finishes its share of the smaller tables first builds their indexes while the
 * large one still loads, which fills most of the gap, and dealing has costs of its own.
 */
export const DEAL_MARGIN = 1.25;

/**
 * The tables dealt out to every loader: of STAGE_DEAL_BYTES or more, and larger by DEAL_MARGIN
 * than all the others shared among the other loaders, so that loading it on one connection would
 * leave the others idle (shape b: one table, 15.9 of 17.7 s). Tables of like sizes already keep
 * every loader busy, and keep their rows frozen. Dealt rows are not frozen, so a later foreign key
 * check of the table cannot read it by index alone, and it is loaded in several transactions.
 * Shape a's tasks (480 MB of rows against 440 MB in its other tables) was dealt out with no
 * margin: replace 6.07 s (median of 10, by turns) against 5.70 s loaded on one connection.
 */
export function tablesToDeal(tables: { table: string; bytes: number }[], parallel: number): Set<string> {
  if (parallel < 2) return new Set();
  const total = tables.reduce((a, t) => a + t.bytes, 0);
  return new Set(
    tables
      .filter((t) => t.bytes >= STAGE_DEAL_BYTES && t.bytes * (parallel - 1) > DEAL_MARGIN * (total - t.bytes))
      .map((t) => t.table),
  );
}

/** A job: what a loader runs on its connection, outside any transaction and leaving none open. */
export type LoadJob = (c: Client) => Promise<void>;

/**
 * How a loader's transaction starts. Nothing a loader writes is visible until the restore's main
 * transaction commits, and that commit flushes the WAL before it, this transaction's included:
 * waiting for a flush of its own would gain nothing.
 */
export const BEGIN_LOAD = 'BEGIN;\nSET LOCAL synchronous_commit = off;';

export interface LoadPoolOptions {
  url: string;
  /** application_name of every connection (the restore's token: see dropAbandonedShadows). */
  app: string;
  /** Loader connections. */
  parallel: number;
  /** maintenance_work_mem of the index builds. */
  maintenanceWorkMem: string;
  /** default_toast_compression the rows are written with, or null for the server's (pg-toast-compression.ts). */
  toastCompression?: string | null;
  /** Run first on every connection (pg_dump's session settings), or nothing. */
  preamble?: string;
  signal?: AbortSignal;
}

/** Names the table in a loader's error, like the in-place path does. */
export function loadError(t: { table: string }, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.includes(`"${t.table}"`) ? (err as Error) : new Error(`restore of table "${t.table}" failed: ${msg}`);
}

export class LoadPool {
  readonly parallel: number;
  private readonly loads: LoadJob[] = [];
  /** Shares of a table being dealt out: taken before anything else. */
  private readonly shares: LoadJob[] = [];
  /** Jobs queued by finished loads (index builds): taken once no table is left to load. */
  private readonly builds: LoadJob[] = [];
  private running = 0;
  private waiting: (() => void)[] = [];
  private first: unknown = null;
  private readonly abort = new AbortController();

  constructor(private readonly opts: LoadPoolOptions) {
    this.parallel = Math.max(1, opts.parallel);
  }

  /** Aborted when the pool stops: on its first failure or the caller's signal. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** A table to load; tables are taken in the order they were added. */
  load(job: LoadJob): void {
    this.loads.push(job);
  }

  /** A share of a table a running job deals out: the next loader to come free takes it. */
  share(job: LoadJob): void {
    this.shares.push(job);
    this.notify();
  }

  /** A job a running one queued (an index build): taken in order, once every table is loading. */
  follow(job: LoadJob): void {
    this.builds.push(job);
    this.notify();
  }

  /** Runs every job on `parallel` connections; settles once every connection is closed. */
  async run(): Promise<void> {
    const stop = (): void => this.stop();
    this.opts.signal?.addEventListener('abort', stop, { once: true });
    if (this.opts.signal?.aborted) this.stop();
    try {
      await Promise.all(Array.from({ length: this.parallel }, () => this.worker()));
    } finally {
      this.opts.signal?.removeEventListener('abort', stop);
    }
    if (this.first) throw this.first;
    this.opts.signal?.throwIfAborted();
  }

  private notify(): void {
    const woken = this.waiting;
    this.waiting = [];
    for (const w of woken) w();
  }

  private stop(): void {
    this.abort.abort();
    this.notify();
  }

  private async next(): Promise<LoadJob | null> {
    for (;;) {
      if (this.abort.signal.aborted) return null;
      const job = this.shares.shift() ?? this.loads.shift() ?? this.builds.shift();
      if (job) return job;
      if (this.running === 0) return null;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private async worker(): Promise<void> {
    const c = await connect(this.opts.url, this.opts.app);
    const kill = (): void => destroyClient(c);
    this.abort.signal.addEventListener('abort', kill, { once: true });
    let ok = false;
    try {
      if (this.opts.preamble) await c.query(this.opts.preamble);
      const toast = this.opts.toastCompression;
      await c.query(
        [
          `SET maintenance_work_mem = ${quoteLiteral(this.opts.maintenanceWorkMem)}`,
          ...(toast ? [`SET default_toast_compression = ${quoteLiteral(toast)}`] : []),
        ].join('; '),
      );
      for (let job = await this.next(); job; job = await this.next()) {
        this.running++;
        try {
          await job(c);
        } finally {
          this.running--;
          this.notify();
        }
      }
      ok = !this.abort.signal.aborted;
    } catch (err) {
      this.first ??= err;
      this.stop();
    } finally {
      this.abort.signal.removeEventListener('abort', kill);
      if (ok) await c.end().catch(() => destroyClient(c));
      else destroyClient(c);
    }
  }
}

/**
 * Loads one large table on this connection and on every loader that comes free meanwhile
 * (pg-row-dealer.ts), each share in a transaction of its own (BEGIN_LOAD), its rows not frozen:
 * COPY FREEZE needs the table created in the COPY's own transaction. The table must be committed
 * before, so every loader sees it. Resolves with the rows once every share is committed.
 */
export async function dealRows(
  pool: LoadPool,
  c: Client,
  t: { table: string },
  source: Readable,
  binary: boolean,
  copy: (client: Client, rows: Readable, onRows: (n: number) => void) => Promise<number>,
  onRows: (total: number) => void,
): Promise<number> {
  const dealer = new RowDealer(source, binary);
  const counts: number[] = [];
  const shares: Promise<number>[] = [];
  let open = true;
  const share = (client: Client): Promise<number> => {
    const i = counts.push(0) - 1;
    const copied = (async () => {
      await client.query(BEGIN_LOAD);
      const n = await copy(client, dealer.share(), (rows) => {
        counts[i] = rows;
        onRows(counts.reduce((a, b) => a + b, 0));
      });
      await client.query('COMMIT');
      return n;
    })().catch((err: unknown) => {
      // Named here too: a share on another loader can be the first failure the restore reports.
      throw loadError(t, err);
    });
    shares.push(copied);
    return copied;
  };
  const stopSource = (): void => void source.destroy();
  pool.signal.addEventListener('abort', stopSource, { once: true });
  try {
    for (let k = 1; k < pool.parallel; k++)
      pool.share(async (client) => {
        // Every row may be handed out by now: then there is nothing left to load.
        if (open) await share(client);
      });
    await share(c);
    open = false;
    return (await Promise.all(shares)).reduce((a, b) => a + b, 0);
  } finally {
    pool.signal.removeEventListener('abort', stopSource);
  }
}
