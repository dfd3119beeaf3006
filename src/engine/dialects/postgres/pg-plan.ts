/**
 * Dry run of a restore: each table's backup rows are COPYed into a TEMP table inside a
 * transaction that is always rolled back, and the database compares them with the live
 * rows by primary key, so memory stays flat and nothing is left behind.
 *
 * Counts: insert = backup rows whose key is not live; update = keyed rows whose content
 * differs (0 for missing-only, which leaves existing rows alone: they count as unchanged);
 * delete = live rows absent from the backup (replace only). A table without a primary key
 * (replace only) counts every backup row as insert and every live row as delete.
 */
import type { Client } from 'pg';
import type { PlanTableResult, RestoreChecks, RestoreInput } from '../dialect';
import { keyJoin, rowDiffers, stageRows, storedColumns } from './pg-copy-in';
import { checkRestorable } from './pg-restore';
import { relationSql } from './pg-catalog';
import { rowChecks } from './pg-restore-checks';

interface Counts {
  staged: string;
  live: string;
  matched: string;
  changed: string;
}

/** The database refused the values themselves (SQLSTATE classes 22 and 23: an enum label, a domain, a type's range). */
const refusedValue = (err: unknown): boolean => /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));

/**
 * With `checks`, the dry run also runs the row-level checks (pg-restore-checks.ts) on each
 * staged table and records there a table whose rows the target refuses outright, instead of
 * failing: the staging table has the live types, so its COPY refuses what the restore would.
 */
export async function planInTransaction(
  client: Client,
  input: RestoreInput,
  checks?: RestoreChecks,
): Promise<PlanTableResult[]> {
  const live = await checkRestorable(client, input);
  const scope = new Set(input.tables.map((t) => t.name));
  const out: PlanTableResult[] = [];
  for (const [i, t] of input.tables.entries()) {
    if (input.signal?.aborted) throw new Error('plan aborted');
    try {
      const liveTable = live.get(t.name)!;
      const pk = liveTable.primaryKey;
      let stage: string;
      if (checks) await client.query('SAVEPOINT strongroom_stage');
      try {
        stage = await stageRows(client, t, i, { signal: input.signal });
      } catch (err) {
        if (!checks || !refusedValue(err)) throw err;
        await client.query('ROLLBACK TO SAVEPOINT strongroom_stage');
        checks.blockers.push({
          kind: 'rows-rejected',
          object: t.name,
          message: `the target refuses rows of ${t.name} from the backup: ${(err as Error).message}`,
        });
        continue;
      }
      if (checks) await client.query('RELEASE SAVEPOINT strongroom_stage');
      const cols = storedColumns(t.table);
      const join = pk.length ? keyJoin(pk, 's', 'tgt') : 'false';
      const { rows } = await client.query<Counts>(
        `SELECT (SELECT count(*) FROM ${stage})::text AS staged,
                (SELECT count(*) FROM ${relationSql(liveTable)})::text AS live,
                count(*)::text AS matched,
                count(*) FILTER (WHERE ${rowDiffers(cols, 's', 'tgt')})::text AS changed
         FROM ${stage} s JOIN ${relationSql(liveTable)} tgt ON ${join}`,
      );
      const [staged, liveRows, matched, changed] = [rows[0].staged, rows[0].live, rows[0].matched, rows[0].changed].map(
        Number,
      );
      if (checks) await rowChecks(client, t, stage, liveTable, scope, checks);
      const insert = staged - matched;
      if (t.mode === 'missing-only') out.push({ name: t.name, insert, update: 0, delete: 0, unchanged: matched });
      else {
        out.push({
          name: t.name,
          insert,
          update: changed,
          delete: t.mode === 'replace' ? liveRows - matched : 0,
          unchanged: matched - changed,
        });
      }
    } catch (err) {
      throw new Error(`plan for table "${t.name}" failed: ${(err as Error).message}`);
    }
  }
  return out;
}
