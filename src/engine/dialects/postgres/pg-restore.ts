/**
 * Restore in one transaction on one connection: the database shows either every table
 * restored or nothing (also if the process dies: an uncommitted transaction rolls back).
 *
 * Inside it: lock the tables, lift foreign keys between tables in scope (so any order,
 * self-references and cycles load) and re-add them at the end, which validates them (a scoped
 * restore instead defers the keys between tables it only merges into and checks the rows it
 * wrote: pg-deferred-keys.ts);
 * disable user triggers on replace/merge tables so rows land exactly as backed up;
 * `replace` TRUNCATEs and COPYs straight in, unless a table outside the scope references
 * the table, then it deletes only rows absent from the backup and upserts the rest (the
 * outside FK decides, and a violation fails the restore); `merge` and `missing-only` COPY
 * into a TEMP table and INSERT ... ON CONFLICT. Sequences only ever move forward.
 *
 * Speed: a truncated table loads with its indexes (primary key and unique constraints too)
 * dropped and rebuilds each once after its COPY, as pg_restore does: one sorted build is far
 * cheaper than maintaining every index row by row. Dropping is transactional, so a failed
 * restore gets them back with the rows. Its rows are COPYed FREEZE (allowed right after a
 * TRUNCATE in the same transaction, which already made the table's contents non-MVCC for
 * older snapshots), sparing the first vacuum a pass that rewrites every page.
 */
import type { Client } from 'pg';
import type { RestoreInput, RestoreTableInput, RestoreTableResult, SequenceValue, TableInfo } from '../dialect';
import {
  FK_COLUMNS_SQL,
  readSequenceLinks,
  readTables,
  relationSql,
  sequenceRegclass,
  type ForeignKeyDef,
} from './pg-catalog';
import { columnList, copyIn, keyJoin, rowDiffers, stageRows, storedColumns } from './pg-copy-in';
import { indexBuildSql, indexExtrasSql, readIndexes, rebuildError, type IndexDef } from './pg-indexes';
import { displayNameSql, qualify, quoteIdent, quoteLiteral, splitName } from './pg-session';
import { loadShadows, type LoadedShadow } from './pg-shadow-load';
import type { ShadowPlan } from './pg-shadow-prepare';
import { swapInShadow } from './pg-shadow-swap';
import { runBatched } from './pg-batch';
import { readAhead } from './pg-read-ahead';
import { checkDeferredKeys, deferKeys, splitDeferrable } from './pg-deferred-keys';
import { AUDIT_TABLE } from '../../backup/bookkeeping-tables';

export interface RestoreTuning {
  /** maintenance_work_mem for the index rebuilds, e.g. '512MB' (SET LOCAL: this transaction only). */
  maintenanceWorkMem?: string;
  /** default_toast_compression the rows are written with, or null for the server's (pg-toast-compression.ts). */
  toastCompression?: string | null;
}

export const DEFAULT_RESTORE_TUNING: Required<RestoreTuning> = { maintenanceWorkMem: '512MB', toastCompression: null };

/** Append-only: its triggers refuse UPDATE and DELETE, and restores only ever add to it. */

interface TriggerState {
  table: string;
  name: string;
  enabled: 'O' | 'R' | 'A';
}

/** Checks that need no writes; shared with plan(). Returns the live structure of each table. */
export async function checkRestorable(
  client: Client,
  input: RestoreInput,
  opts: { emptyTarget?: boolean } = {},
): Promise<Map<string, TableInfo>> {
  if (input.encoding !== 'pg-copy-text') {
    throw new Error(
      `PostgreSQL cannot restore rows encoded as ${input.encoding}: the backup was taken from another engine`,
    );
  }
  const live = new Map((await readTables(client)).map((t) => [t.name, t]));
  const seen = new Set<string>();
  for (const t of input.tables) {
    if (seen.has(t.name)) throw new Error(`table "${t.name}" is listed twice in the restore`);
    seen.add(t.name);
    const l = live.get(t.name);
    if (!l)
      throw new Error(`table "${t.name}" does not exist in the target database (apply the backup's schema first)`);
    // Into a database created for this restore, every table is new: loading it whole is what any mode would do.
    if (opts.emptyTarget) continue;
    if (t.name === AUDIT_TABLE && t.mode !== 'missing-only') {
      throw new Error(`table "${t.name}" is append-only: it can only be restored missing-only, not ${t.mode}`);
    }
    if (t.rowFormat) checkBinaryColumns(t, l);
    if (t.mode !== 'replace' && (!l.primaryKey.length || !t.table.primaryKey.length)) {
      throw new Error(
        `table "${t.name}" has no primary key: a ${t.mode} restore matches rows by primary key, use replace`,
      );
    }
    if (t.mode !== 'replace' && l.primaryKey.join(',') !== t.table.primaryKey.join(',')) {
      throw new Error(
        `table "${t.name}": primary key (${l.primaryKey.join(', ')}) differs from the backup's (${t.table.primaryKey.join(', ')})`,
      );
    }
  }
  return live;
}

/**
 * Binary COPY reads each value as exactly the type it was written as: a column whose type
 * changed since the backup (integer to bigint, say) would fail to load or, worse, be read as
 * something else. Text COPY would have converted; binary refuses, naming the column.
 */
function checkBinaryColumns(t: RestoreTableInput, live: TableInfo): void {
  const liveTypes = new Map(live.columns.map((c) => [c.name, c.type]));
  for (const c of t.table.columns) {
    if (c.generated) continue;
    const now = liveTypes.get(c.name);
    if (now !== undefined && now !== c.type)
      throw new Error(
        `table "${t.name}": column "${c.name}" is ${now} in the database but was ${c.type} when the backup was taken, and the backup holds its rows in binary form, which only loads into the same types; restore the backup's schema first (or change the column back)`,
      );
  }
}

async function foreignKeysInScope(client: Client, tables: string[]): Promise<ForeignKeyDef[]> {
  const { rows } = await client.query<ForeignKeyDef>(
    `WITH RECURSIVE scope AS (
       -- Tables in scope and, under their names, their partitions at any depth: a foreign key
       -- declared on a partition constrains the rows loaded through its root as much as one on the root.
       SELECT c.oid, ${displayNameSql('n', 'c')} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE ${displayNameSql('n', 'c')} = ANY($1::text[])
       UNION ALL SELECT i.inhrelid, s.name FROM pg_inherits i JOIN scope s ON i.inhparent = s.oid
         JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition
     )
     SELECT ${displayNameSql('cn', 'c')} AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def,
            obj_description(k.oid, 'pg_constraint') AS comment, r.name AS "refTable", ${FK_COLUMNS_SQL}
     FROM pg_constraint k
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
     JOIN scope l ON l.oid = k.conrelid
     JOIN scope r ON r.oid = k.confrelid
     WHERE k.contype = 'f' AND k.conparentid = 0
     ORDER BY 1, k.conname`,
    [tables],
  );
  return rows;
}

/** CHECK constraints added NOT VALID on tables in scope (their own, not inherited copies). */
async function notValidChecks(
  client: Client,
  tables: string[],
): Promise<{ table: string; name: string; def: string; comment: string | null }[]> {
  const { rows } = await client.query<{ table: string; name: string; def: string; comment: string | null }>(
    `SELECT ${displayNameSql('n', 'c')} AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def, obj_description(k.oid, 'pg_constraint') AS comment
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE k.contype = 'c' AND NOT k.convalidated AND k.conislocal AND k.conparentid = 0 AND ${displayNameSql('n', 'c')} = ANY($1::text[])
     ORDER BY 1, 2`,
    [tables],
  );
  return rows;
}

/** Tables among `targets` that a table outside `scope` references: TRUNCATE would refuse them. */
export async function referencedFromOutside(client: Client, targets: string[], scope: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ table: string }>(
    `WITH RECURSIVE tree AS (
       -- Every table with its root, so that keys on or to partitions count for the table in scope.
       SELECT c.oid, ${displayNameSql('n', 'c')} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition
       UNION ALL SELECT i.inhrelid, t.name FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid
         JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition
     )
     SELECT DISTINCT r.name AS table
     FROM pg_constraint k
     JOIN tree r ON r.oid = k.confrelid
     JOIN tree c ON c.oid = k.conrelid
     WHERE k.contype = 'f' AND k.conparentid = 0 AND r.name = ANY($1::text[])
       AND NOT (c.name = ANY($2::text[]))`,
    [targets, scope],
  );
  return new Set(rows.map((r) => r.table));
}

async function enabledUserTriggers(client: Client, tables: string[]): Promise<TriggerState[]> {
  const { rows } = await client.query<TriggerState>(
    `SELECT ${displayNameSql('n', 'c')} AS table, t.tgname AS name, t.tgenabled AS enabled
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgparentid = 0
       AND ${displayNameSql('n', 'c')} = ANY($1::text[])
     ORDER BY 1, 2`,
    [tables],
  );
  return rows;
}

async function identityAlwaysColumns(client: Client, tables: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(
    `SELECT ${displayNameSql('n', 'c')} || '.' || a.attname AS key
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attidentity = 'a' AND ${displayNameSql('n', 'c')} = ANY($1::text[])`,
    [tables],
  );
  return new Set(rows.map((r) => r.key));
}

/**
 * Indexes of truncated `tables` that can be dropped and rebuilt after the load (see
 * IndexDef.rebuildable; in-scope foreign keys are already lifted, and a table referenced from
 * outside is not truncated). Anything else stays and is maintained during the load as before:
 * slower, never wrong.
 */
async function rebuildableIndexes(client: Client, tables: string[]): Promise<IndexDef[]> {
  return (await readIndexes(client, tables, [])).filter((ix) => ix.plain && ix.rebuildable);
}

/** COPY FREEZE refuses partitioned tables; they load as before. */
async function plainTables(client: Client, tables: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ table: string }>(
    `SELECT ${displayNameSql('n', 'c')} AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${displayNameSql('n', 'c')} = ANY($1::text[]) AND c.relkind = 'r'`,
    [tables],
  );
  return new Set(rows.map((r) => r.table));
}

function dropIndexSql(ix: IndexDef): string {
  return ix.constraint
    ? `ALTER TABLE ${qualify(ix.table)} DROP CONSTRAINT ${quoteIdent(ix.constraint)}`
    : `DROP INDEX ${quoteIdent(splitName(ix.table).schema)}.${quoteIdent(ix.index)}`;
}

/** `maintenanceWorkMem`: the transaction's setting, which a GIN build lowers for itself (indexBuildSql). */
function rebuildIndexSql(ix: IndexDef, maintenanceWorkMem: string): string[] {
  return [
    // The new index takes the constraint's name, which PostgreSQL keeps equal to the index's.
    ix.constraint
      ? `ALTER TABLE ${qualify(ix.table)} ADD CONSTRAINT ${quoteIdent(ix.constraint)} ${ix.def}`
      : indexBuildSql(ix.def, maintenanceWorkMem),
    ...indexExtrasSql(ix.table, ix),
  ];
}

async function rebuildIndex(client: Client, ix: IndexDef, maintenanceWorkMem: string): Promise<void> {
  try {
    await client.query(rebuildIndexSql(ix, maintenanceWorkMem).join(';\n'));
  } catch (err) {
    throw rebuildError(ix.table, ix, err);
  }
}

function named(table: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.includes(`"${table}"`) ? (err as Error) : new Error(`restore of table "${table}" failed: ${msg}`);
}

/** Shadows prepared for this restore (pg-shadow-prepare.ts) and where their loaders connect. */
export interface ShadowRun {
  plan: ShadowPlan;
  url: string;
  /** The loaders gather each shadow's statistics before the swap (RESTORE_ANALYZE). */
  analyze: boolean;
}

export async function restoreInTransaction(
  client: Client,
  input: RestoreInput,
  tuning: RestoreTuning = {},
  shadows: ShadowRun | null = null,
  opts: { emptyTarget?: boolean } = {},
): Promise<RestoreTableResult[]> {
  const tune = { ...DEFAULT_RESTORE_TUNING, ...tuning };
  const live = await checkRestorable(client, input, opts);
  const scope = input.tables.map((t) => t.name);
  const shadowed = new Set(shadows?.plan.tables.map((s) => s.table) ?? []);
  const sorted = [...input.tables].sort((a, b) => (a.name < b.name ? -1 : 1));
  // Writers wait for the restore; a fixed lock order keeps two restores from deadlocking.
  // A shadowed table only blocks writers until its swap: readers go on reading it meanwhile.
  await runBatched(
    client,
    sorted.map((t) => {
      const mode = shadowed.has(t.name)
        ? 'EXCLUSIVE'
        : t.mode === 'replace'
          ? 'ACCESS EXCLUSIVE'
          : 'SHARE ROW EXCLUSIVE';
      return { sql: `LOCK TABLE ${qualify(t.name)} IN ${mode} MODE` };
    }),
  );
  const reader = { query: async <T>(sql: string): Promise<T[]> => (await client.query(sql)).rows as T[] };
  await input.guard?.beforeLoad(reader);
  // Index rebuilds sort with it, and re-adding a foreign key validates with it as work_mem.
  await client.query(`SET LOCAL maintenance_work_mem = ${quoteLiteral(tune.maintenanceWorkMem)}`);
  if (tune.toastCompression)
    await client.query(`SET LOCAL default_toast_compression = ${quoteLiteral(tune.toastCompression)}`);
  // Keys between two shadowed tables stay until their swap lifts them.
  const allKeys = (await foreignKeysInScope(client, scope)).filter(
    (fk) => !(shadowed.has(fk.table) && shadowed.has(fk.refTable ?? '')),
  );
  // A scope merges a few rows into large tables: its keys check those rows, not the whole tables (pg-deferred-keys.ts).
  const keyed = new Set(
    input.foreignKeyChecks === 'written-rows'
      ? input.tables.filter((t) => t.mode !== 'replace' && !shadowed.has(t.name)).map((t) => t.name)
      : [],
  );
  const { deferred, lifted: fks } = await splitDeferrable(client, allKeys, keyed);
  // Rows that predate a NOT VALID check may break it: like pg_restore, it goes back on after the data, still NOT VALID.
  const lax = await notValidChecks(client, scope);
  await runBatched(
    client,
    [...fks, ...lax].map((k) => ({ sql: `ALTER TABLE ${qualify(k.table)} DROP CONSTRAINT ${quoteIdent(k.name)}` })),
  );
  await deferKeys(client, deferred);

  const abort = new AbortController();
  const onAbort = (): void => abort.abort();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  if (input.signal?.aborted) abort.abort();
  let loaderError: unknown = null;
  const loading: Promise<LoadedShadow[]> = shadows
    ? loadShadows(shadows.plan, input.tables, {
        url: shadows.url,
        maintenanceWorkMem: tune.maintenanceWorkMem,
        toastCompression: tune.toastCompression,
        signal: abort.signal,
        analyze: shadows.analyze,
        onProgress: input.onProgress,
      }).catch((err: unknown) => {
        loaderError = err;
        abort.abort();
        return [];
      })
    : Promise.resolve([]);
  try {
    const direct = input.tables.filter((t) => !shadowed.has(t.name));
    let results: RestoreTableResult[];
    let triggers: TriggerState[];
    try {
      ({ results, triggers } = await restoreInPlace(
        client,
        { ...input, tables: direct, signal: abort.signal },
        live,
        scope,
        { ...opts, maintenanceWorkMem: tune.maintenanceWorkMem },
      ));
      // Every row of the keyed tables is written: their queued checks run before anything else alters them.
      await checkDeferredKeys(client, deferred);
    } catch (err) {
      abort.abort();
      await loading;
      throw loaderError ?? err;
    }
    const loaded = await loading;
    if (loaderError) throw loaderError;
    for (const s of loaded) {
      try {
        await swapInShadow(client, s, fks);
      } catch (err) {
        throw named(s.table, err);
      }
      results.push({ name: s.table, rowsWritten: s.rowsWritten });
    }
    if (shadows) await client.query(`DROP SCHEMA ${quoteIdent(shadows.plan.schema)} CASCADE`);

    await advanceSequences(client, input.sequences, input.tables, live);
    // Rows dealt out to several loaders could not be frozen: no visibility map to read them by.
    await readdForeignKeys(client, fks, new Set(loaded.filter((l) => !l.frozen).map((l) => l.table)));
    await runBatched(
      client,
      lax.map((k) => ({ sql: [addConstraintSql(k), ...commentSql(k)].join(';\n') })),
    );
    await runBatched(
      client,
      triggers.map((tg) => {
        const how = tg.enabled === 'A' ? 'ENABLE ALWAYS' : tg.enabled === 'R' ? 'ENABLE REPLICA' : 'ENABLE';
        return { sql: `ALTER TABLE ${qualify(tg.table)} ${how} TRIGGER ${quoteIdent(tg.name)}` };
      }),
    );
    await input.guard?.beforeCommit(reader);
    const order = new Map(input.tables.map((t, i) => [t.name, i]));
    return results.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
  }
}

/** A lifted constraint, as the restore adds it back. */
interface LiftedConstraint {
  table: string;
  name: string;
  def: string;
  comment: string | null;
}

function addConstraintSql(k: LiftedConstraint): string {
  return `ALTER TABLE ${qualify(k.table)} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.def}`;
}

/** Its comment again, if it had one: ADD CONSTRAINT makes a new constraint without it. */
function commentSql(k: LiftedConstraint): string[] {
  return k.comment === null
    ? []
    : [`COMMENT ON CONSTRAINT ${quoteIdent(k.name)} ON ${qualify(k.table)} IS ${quoteLiteral(k.comment)}`];
}

/**
 * Which of `fks`, on tables not `unfrozen`, have a valid, unconditional btree index on their
 * table whose leading key columns are the key's columns, in that order. One query for all of them.
 */
async function keysWithLeadingIndex(client: Client, fks: ForeignKeyDef[], unfrozen: Set<string>): Promise<Set<number>> {
  const candidates = fks
    .map((fk, i) => ({ fk, i }))
    .filter(({ fk }) => fk.columns.length > 0 && !unfrozen.has(fk.table));
  if (!candidates.length) return new Set();
  const { rows } = await client.query<{ i: number }>(
    `SELECT x.i FROM unnest($1::text[]) WITH ORDINALITY x(rel, i),
       LATERAL (SELECT ARRAY(SELECT json_array_elements_text(($2::json) -> (x.i::int - 1))) AS cols) k
     WHERE EXISTS (
       SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
       WHERE i.indrelid = x.rel::regclass AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
         AND i.indnkeyatts >= cardinality(k.cols)
         AND (SELECT array_agg(a.attname::text ORDER BY u.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, n)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
              WHERE u.n <= cardinality(k.cols)) = k.cols)`,
    [
      candidates.map(({ fk }) => qualify(fk.table)),
      // Keys of different widths: their column lists travel as one JSON array of arrays.
      JSON.stringify(candidates.map(({ fk }) => fk.columns)),
    ],
  );
  return new Set(rows.map((r) => candidates[Number(r.i) - 1].i));
}

/**
 * Re-adds the foreign keys lifted for the restore, which validates every restored row against
 * each: one anti-join of the referencing table with the referenced key. Left to itself the
 * planner scans the whole referencing table and hashes it. When an index starts with the
 * referencing columns, reading both sides in key order from their indexes is far cheaper: the
 * rows were just COPYed FREEZE, so the visibility map is set and the scans are index-only
 * (850,000 comments against 380,000 tasks: 0.08 s instead of 0.23 s). The planner settings are
 * steered for that one statement; the check itself is PostgreSQL's own. Not on `unfrozen` tables:
 * without the visibility map every index entry visits its heap row, one at a time (shape d of the
 * benchmark, 11 million readings: 9.1 s instead of 1.0-1.2 s). The keys go in batches (pg-batch.ts):
 * a failing one is reported alone, by name.
 */
async function readdForeignKeys(client: Client, fks: ForeignKeyDef[], unfrozen: Set<string>): Promise<void> {
  const steered = await keysWithLeadingIndex(client, fks, unfrozen);
  await runBatched(
    client,
    fks.map((fk, i) => {
      const steer = steered.has(i);
      const statements = [
        ...(steer ? [`SET LOCAL enable_seqscan = off`, `SET LOCAL enable_hashjoin = off`] : []),
        addConstraintSql(fk),
        ...(steer ? [`SET LOCAL enable_seqscan TO DEFAULT`, `SET LOCAL enable_hashjoin TO DEFAULT`] : []),
        ...commentSql(fk),
      ];
      return {
        sql: statements.join(';\n'),
        alone: async () => {
          try {
            await client.query(statements.join(';\n'));
          } catch (err) {
            throw new Error(
              `foreign key "${fk.name}" on table "${fk.table}" does not hold after the restore: ${(err as Error).message}`,
            );
          }
        },
      };
    }),
  );
}

/**
 * The tables the main transaction restores itself, in place. Returns the triggers it
 * disabled, which the caller enables again once every table is back.
 */
async function restoreInPlace(
  client: Client,
  input: RestoreInput,
  live: Map<string, TableInfo>,
  scope: string[],
  opts: { emptyTarget?: boolean; maintenanceWorkMem: string },
): Promise<{ results: RestoreTableResult[]; triggers: TriggerState[] }> {
  // Missing-only tables keep their triggers: they only receive inserts, as from the application.
  const quiet = input.tables.filter((t) => t.mode !== 'missing-only').map((t) => t.name);
  const triggers = await enabledUserTriggers(client, quiet);
  await runBatched(
    client,
    triggers.map((tg) => ({ sql: `ALTER TABLE ${qualify(tg.table)} DISABLE TRIGGER ${quoteIdent(tg.name)}` })),
  );

  const replace = input.tables.filter((t) => t.mode === 'replace').map((t) => t.name);
  const shared = await referencedFromOutside(client, replace, scope);
  const truncatable = replace.filter((n) => !shared.has(n));
  // Into an empty database every table is new and empty: only those large enough for COPY FREEZE
  // to be worth it are truncated (which is what makes FREEZE allowed). For a small table the
  // TRUNCATE costs more than FREEZE saves: it rebuilds the empty TOAST index, an fsync apiece on
  // PostgreSQL 15 (8.9 s for 500 small tables); its rows load as pg_restore's do, unfrozen.
  const bytes = new Map(input.tables.map((t) => [t.name, t.bytes ?? Infinity]));
  const truncated = opts.emptyTarget
    ? truncatable.filter((n) => (bytes.get(n) ?? Infinity) >= FREEZE_NEW_TABLE_MIN_BYTES)
    : truncatable;
  const frozen = await plainTables(client, truncated);
  const indexes = await rebuildableIndexes(client, truncatable);
  // Indexes go before the TRUNCATE, which would otherwise give each a new, empty file (and on
  // PostgreSQL 15 an fsync per btree) only for it to be dropped: with 500 tables that was 6.3 s
  // of TRUNCATE instead of 2.5 s, and as much again to remove the files at the commit.
  await runBatched(
    client,
    indexes.map((ix) => ({ sql: dropIndexSql(ix) })),
  );
  if (truncated.length) await client.query(`TRUNCATE ${truncated.map((n) => relationSql(live.get(n)!)).join(', ')}`);
  const identity = await identityAlwaysColumns(client, scope);

  const results: RestoreTableResult[] = [];
  async function restoreOne(i: number, t: RestoreTableInput): Promise<void> {
    if (input.signal?.aborted) throw new Error('restore aborted');
    const onRows = (rows: number) => input.onProgress?.({ table: t.name, rows });
    try {
      const pk = live.get(t.name)!.primaryKey;
      let rowsWritten: number;
      if (t.mode === 'replace' && !shared.has(t.name)) {
        rowsWritten = await copyIn(client, {
          target: qualify(t.name),
          columns: storedColumns(t.table),
          source: await t.open(),
          onRows,
          signal: input.signal,
          freeze: frozen.has(t.name),
          format: t.rowFormat,
        });
      } else if (t.mode === 'replace' && !pk.length) {
        await client.query(`DELETE FROM ${relationSql(live.get(t.name)!)}`);
        rowsWritten = await copyIn(client, {
          target: qualify(t.name),
          columns: storedColumns(t.table),
          source: await t.open(),
          onRows,
          signal: input.signal,
          format: t.rowFormat,
        });
      } else {
        const stage = await stageRows(client, t, i, { onRows, signal: input.signal });
        if (t.mode === 'replace') {
          await client.query(
            `DELETE FROM ${relationSql(live.get(t.name)!)} tgt WHERE NOT EXISTS (SELECT 1 FROM ${stage} s WHERE ${keyJoin(pk, 's', 'tgt')})`,
          );
        }
        rowsWritten = await upsert(client, t, pk, stage, identity);
      }
      results.push({ name: t.name, rowsWritten });
    } catch (err) {
      throw named(t.name, err);
    }
  }
  const ahead = readAhead(input.tables);
  try {
    for (const [i, t] of ahead.tables.entries()) await restoreOne(i, t);
  } finally {
    ahead.close();
  }
  // Every table's indexes once all rows are in, as pg_restore builds them: in batches rather than
  // two round trips per table (a failing build is still reported alone, naming its index).
  await runBatched(
    client,
    indexes.map((ix) => ({
      sql: rebuildIndexSql(ix, opts.maintenanceWorkMem).join(';\n'),
      alone: () => rebuildIndex(client, ix, opts.maintenanceWorkMem),
    })),
  );
  return { results, triggers };
}

async function upsert(
  client: Client,
  t: RestoreTableInput,
  pk: string[],
  stage: string,
  identity: Set<string>,
): Promise<number> {
  const cols = storedColumns(t.table);
  const hasIdentity = cols.some((c) => identity.has(`${t.name}.${c}`));
  const overriding = hasIdentity ? ' OVERRIDING SYSTEM VALUE' : '';
  const insert = `INSERT INTO ${qualify(t.name)} AS tgt (${columnList(cols)})${overriding} SELECT ${columnList(cols)} FROM ${stage}`;
  const conflict = `ON CONFLICT (${columnList(pk)})`;
  // An identity ALWAYS column cannot be SET; outside the key it keeps its live value.
  const settable = cols.filter((c) => !pk.includes(c) && !identity.has(`${t.name}.${c}`));
  if (t.mode === 'missing-only' || !settable.length) {
    return (await client.query(`${insert} ${conflict} DO NOTHING`)).rowCount ?? 0;
  }
  const set = settable.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ');
  // Only rows that really differ count as written (and get new row versions).
  const where = rowDiffers(settable, 'tgt', 'EXCLUDED');
  return (await client.query(`${insert} ${conflict} DO UPDATE SET ${set} WHERE ${where}`)).rowCount ?? 0;
}

/** Plaintext bytes from which a new table of an empty-database restore is loaded frozen (see restoreInPlace). */
export const FREEZE_NEW_TABLE_MIN_BYTES = 8 * 1024 * 1024;

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/**
 * Each sequence ends at the highest of: its value in the backup, its live value and the
 * largest restored value of a column it feeds. It never goes back, so ids handed out
 * since the backup are not handed out again. setval is not transactional, which is
 * harmless for a value that only ever grows.
 */
async function advanceSequences(
  client: Client,
  sequences: SequenceValue[],
  tables: RestoreTableInput[],
  live: Map<string, TableInfo>,
): Promise<void> {
  if (!sequences.length) return;
  const scope = new Set(tables.map((t) => t.name));
  const links = await readSequenceLinks(client, [...live.keys()]);
  for (const s of sequences) {
    const mine = links.filter((l) => l.sequence === s.name);
    if (!mine.length) continue;
    const reg = sequenceRegclass(mine[0]);
    const candidates: bigint[] = [];
    if (s.isCalled && s.lastValue !== null) candidates.push(BigInt(s.lastValue));
    const cur = (
      await client.query<{ last_value: string; is_called: boolean; increment_by: string }>(
        `SELECT s.last_value::text AS last_value, s.is_called, q.seqincrement::text AS increment_by
       FROM ${reg} s, pg_sequence q WHERE q.seqrelid = '${reg.replace(/'/g, "''")}'::regclass`,
      )
    ).rows[0];
    // A descending sequence has no "past the max"; leave it as it is.
    if (BigInt(cur.increment_by) < 0n) continue;
    if (cur.is_called) candidates.push(BigInt(cur.last_value));
    for (const l of mine) {
      const col = live.get(l.table)?.columns.find((c) => c.name === l.column);
      if (!scope.has(l.table) || !col || !INTEGER_TYPES.has(col.type)) continue;
      const { rows } = await client.query<{ max: string | null }>(
        `SELECT max(${quoteIdent(l.column)})::text AS max FROM ${qualify(l.table)}`,
      );
      if (rows[0].max !== null) candidates.push(BigInt(rows[0].max));
    }
    if (!candidates.length) continue;
    const target = candidates.reduce((a, b) => (b > a ? b : a));
    if (cur.is_called && target === BigInt(cur.last_value)) continue;
    await client.query(`SELECT setval($1::regclass, $2::bigint, true)`, [reg, target.toString()]);
  }
}
