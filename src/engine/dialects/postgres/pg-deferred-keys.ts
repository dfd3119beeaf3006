/**
 * Foreign keys checked for the rows a restore writes, instead of lifted and re-validated.
 *
 * A restore lifts the foreign keys between its tables so that rows load in any order (cycles,
 * self-references), and re-adding each one validates it: one scan of the whole referencing
 * table. That is the right price when the table was reloaded, but not when a few rows were
 * merged into a large table (a scope: one project's 600 rows among 1.2 million): re-adding
 * `comments → tasks` read 850,000 comments, and pruned and logged every page it touched, for
 * 400 comments written.
 *
 * Here such a key stays on, made DEFERRABLE INITIALLY DEFERRED for the load: PostgreSQL queues
 * its own check for every row inserted or whose key changed (and for every referenced row
 * deleted), so the load may still go in any order. Before the commit the queued checks run
 * (SET CONSTRAINTS … IMMEDIATE) and each key gets its declared deferrability back. A violation
 * fails the restore exactly as a failed re-validation did, and everything rolls back with it
 * (ALTER CONSTRAINT is transactional, and takes the same ACCESS EXCLUSIVE lock as the DROP it
 * replaces). Only keys between tables that are neither truncated nor swapped qualify: a
 * TRUNCATE or a swap fires no row checks, so those keys are still lifted and re-validated.
 */
import type { Client } from 'pg';
import type { ForeignKeyDef } from './pg-catalog';
import { qualify, quoteIdent, splitName } from './pg-session';

export interface DeferredKey {
  fk: ForeignKeyDef;
  /** The key's declared deferrability, given back after the check. */
  deferrable: boolean;
  initiallyDeferred: boolean;
}

/**
 * Splits `fks` into keys to check per row (both tables in `keyed`, the key declared on the named
 * table itself) and keys to lift as before.
 */
export async function splitDeferrable(
  client: Client,
  fks: ForeignKeyDef[],
  keyed: Set<string>,
): Promise<{ deferred: DeferredKey[]; lifted: ForeignKeyDef[] }> {
  const candidates = fks.filter((fk) => keyed.has(fk.table) && fk.refTable !== undefined && keyed.has(fk.refTable));
  if (!candidates.length) return { deferred: [], lifted: fks };
  // A key declared on a partition is listed under its root's name: it has no row here and is lifted.
  const { rows } = await client.query<{ i: number; deferrable: boolean; deferred: boolean }>(
    `SELECT x.i, k.condeferrable AS deferrable, k.condeferred AS deferred
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY x(rel, name, i)
     JOIN pg_constraint k ON k.conrelid = x.rel::regclass AND k.conname = x.name AND k.contype = 'f'`,
    [candidates.map((fk) => qualify(fk.table)), candidates.map((fk) => fk.name)],
  );
  const found = new Map(rows.map((r) => [Number(r.i) - 1, r]));
  const deferred: DeferredKey[] = [];
  const picked = new Set<ForeignKeyDef>();
  candidates.forEach((fk, i) => {
    const r = found.get(i);
    if (!r) return;
    deferred.push({ fk, deferrable: r.deferrable, initiallyDeferred: r.deferred });
    picked.add(fk);
  });
  return { deferred, lifted: fks.filter((fk) => !picked.has(fk)) };
}

/** Before any row is written: every key's checks wait for checkDeferredKeys. */
export async function deferKeys(client: Client, keys: DeferredKey[]): Promise<void> {
  for (const k of keys)
    if (!k.initiallyDeferred)
      await client.query(
        `ALTER TABLE ${qualify(k.fk.table)} ALTER CONSTRAINT ${quoteIdent(k.fk.name)} DEFERRABLE INITIALLY DEFERRED`,
      );
}

/** After the load: runs the queued checks of these keys now, then gives each its declared deferrability back. */
export async function checkDeferredKeys(client: Client, keys: DeferredKey[]): Promise<void> {
  if (!keys.length) return;
  const names = keys.map((k) => `${quoteIdent(splitName(k.fk.table).schema)}.${quoteIdent(k.fk.name)}`);
  try {
    await client.query(`SET CONSTRAINTS ${[...new Set(names)].join(', ')} IMMEDIATE`);
  } catch (err) {
    throw new Error(`a foreign key does not hold after the restore: ${(err as Error).message}`);
  }
  for (const k of keys) {
    if (k.initiallyDeferred) continue;
    const how = k.deferrable ? 'DEFERRABLE INITIALLY IMMEDIATE' : 'NOT DEFERRABLE';
    await client.query(`ALTER TABLE ${qualify(k.fk.table)} ALTER CONSTRAINT ${quoteIdent(k.fk.name)} ${how}`);
  }
}
