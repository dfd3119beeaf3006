/**
 * How much the whole-database DDL path (pg_dump pre-data and post-data on the snapshot, the
 * inventory and every sequence) costs next to the per-table path it replaced, on the bench
 * schema: `npx ts-node --transpile-only bench/ddl-overhead.ts --url postgres://... [--rounds 5]`.
 * The schema alone decides it (row counts do not): the database only needs the bench tables.
 * Measured serially here, it is an upper bound: in a backup the DDL runs beside the row exports.
 * `npm run bench` calls `measureDdlOverhead` on its own dataset for the 5% goal.
 */
import { Client } from 'pg';
import { createDialect } from '../src/engine/dialects/create-dialect';
import { PG_TABLES_DDL } from './dataset';
import { parseArgs, required, runMain } from './cli-args';

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export interface DdlOverhead {
  rounds: number;
  perTableMs: number;
  wholeDatabaseMs: number;
  extraMs: number;
}

export async function measureDdlOverhead(url: string, rounds: number): Promise<DdlOverhead> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const exists = (await c.query(`SELECT to_regclass('public.tasks') IS NOT NULL AS ok`)).rows[0].ok as boolean;
  if (!exists) await c.query(PG_TABLES_DDL);
  await c.end();
  const dialect = createDialect(url);
  const tables = (await dialect.listTables()).map((t) => t.name);
  const perTable: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = await dialect.openSnapshot(tables, { parallel: 1 });
    perTable.push(
      await timed(async () => {
        await a.schemaSql();
        await a.sequences();
      }),
    );
    await a.close();
    const b = await dialect.openSnapshot(tables, { parallel: 1, wholeDatabase: true });
    whole.push(
      await timed(async () => {
        const ddl = await b.databaseDdl!();
        await b.largeObjects!();
        await b.sequences();
        await b.inventory!(ddl, Object.fromEntries(tables.map((t) => [t, 0])));
      }),
    );
    await b.close();
  }
  await dialect.close();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return {
    rounds,
    perTableMs: median(perTable),
    wholeDatabaseMs: median(whole),
    extraMs: median(whole) - median(perTable),
  };
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs(process.argv.slice(2));
    const o = await measureDdlOverhead(required(args, 'url'), Number(args.get('rounds') ?? '5'));
    process.stdout.write(`${JSON.stringify(o)}\n`);
  });
}
