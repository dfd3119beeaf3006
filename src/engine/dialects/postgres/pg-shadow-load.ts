/**
 * Parallel replace restores, step 2 of 3: loader connections fill the shadow tables while the
 * main transaction restores the rest. Each shadow is loaded in its own transaction: TRUNCATE
 * (so COPY may write the rows frozen), COPY, then its indexes, each built once over the sorted
 * rows, as pg_restore does. Statistics come after the commit (PostgresDialect.restore): an
 * ANALYZE here would keep writers waiting for as long as it runs. Nothing here touches a live
 * table, so the loaders never wait for the locks the main transaction holds.
 */
import type { Client } from 'pg';
import type { RestoreTableInput } from '../dialect';
import { copyIn, storedColumns } from './pg-copy-in';
import { rebuildError } from './pg-indexes';
import { connect, destroyClient, quoteLiteral } from './pg-session';
import { RESTORE_APP_PREFIX, shadowQualified, type ShadowPlan, type ShadowTable } from './pg-shadow-prepare';

export interface LoadOptions {
  url: string;
  maintenanceWorkMem: string;
  signal: AbortSignal;
  onProgress?(p: { table: string; rows: number }): void;
}

export interface LoadedShadow extends ShadowTable {
  rowsWritten: number;
}

/** Names the table in a loader's error, like the in-place path does. */
export function loadError(t: { table: string }, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.includes(`"${t.table}"`) ? (err as Error) : new Error(`restore of table "${t.table}" failed: ${msg}`);
}

async function loadOne(
  client: Client,
  t: ShadowTable,
  input: RestoreTableInput,
  opts: LoadOptions,
): Promise<LoadedShadow> {
  const target = shadowQualified(t);
  await client.query('BEGIN');
  // A shadow only matters once the main transaction commits, and that commit flushes all WAL
  // before it, this transaction's included: no need to wait for a flush here.
  await client.query(`SET LOCAL synchronous_commit = off`);
  await client.query(`TRUNCATE ${target}`);
  let rowsWritten: number;
  try {
    rowsWritten = await copyIn(client, {
      target,
      columns: storedColumns(input.table),
      source: await input.open(),
      onRows: (rows) => opts.onProgress?.({ table: t.table, rows }),
      signal: opts.signal,
      freeze: true,
      format: input.rowFormat,
    });
  } catch (err) {
    throw loadError(t, err);
  }
  for (const ix of t.indexes) {
    try {
      await client.query(ix.ddl);
    } catch (err) {
      throw rebuildError(t.table, ix, err);
    }
  }
  await client.query('COMMIT');
  return { ...t, rowsWritten };
}

/** One loader connection works through its list, largest table first. */
async function runLoader(
  list: ShadowTable[],
  inputs: Map<string, RestoreTableInput>,
  plan: ShadowPlan,
  opts: LoadOptions,
): Promise<LoadedShadow[]> {
  const client = await connect(opts.url, `${RESTORE_APP_PREFIX}${plan.token}`);
  const abort = (): void => destroyClient(client);
  opts.signal.addEventListener('abort', abort, { once: true });
  let ok = false;
  try {
    await client.query(`SET maintenance_work_mem = ${quoteLiteral(opts.maintenanceWorkMem)}`);
    const done: LoadedShadow[] = [];
    for (const t of list) {
      if (opts.signal.aborted) throw new Error('restore aborted');
      done.push(await loadOne(client, t, inputs.get(t.table)!, opts));
    }
    ok = true;
    return done;
  } finally {
    opts.signal.removeEventListener('abort', abort);
    // A loader stopped mid-COPY cannot end politely; closing the socket rolls its transaction back.
    if (ok) await client.end().catch(() => destroyClient(client));
    else destroyClient(client);
  }
}

/**
 * Runs every loader at once. The first failure aborts the others through `abort`; this settles
 * only when every connection is closed, then rejects with that first failure (the cause, not
 * the "aborted" errors it set off).
 */
export async function loadShadows(
  plan: ShadowPlan,
  inputs: RestoreTableInput[],
  opts: LoadOptions & { abort(): void },
): Promise<LoadedShadow[]> {
  const byName = new Map(inputs.map((t) => [t.name, t]));
  let first: unknown = null;
  const results = await Promise.allSettled(
    plan.loaders.map((list) =>
      runLoader(list, byName, plan, opts).catch((err: unknown) => {
        first ??= err;
        opts.abort();
        throw err;
      }),
    ),
  );
  if (first) throw first;
  return results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}
