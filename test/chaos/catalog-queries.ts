/**
 * Why is a catalog route slow? The queries behind `GET /api/backups` and `GET /api/status`
 * (as the catalog and status services build them), on a catalog of N backups: each one's
 * plan (EXPLAIN) and its time measured in-process, without HTTP, on both engines.
 *
 *   npx ts-node --transpile-only test/chaos/catalog-queries.ts [--rows 10000] [--runs 200] [--out file.md]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { Prng } from '../../bench/prng';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { createTestDatabase, Engine, ENGINES } from '../support/databases';
import { startPgCluster, stopPgCluster } from '../support/postgres-server';
import { catalogRows, insertCatalog } from './load';

interface Q {
  name: string;
  sql: string;
  params: unknown[];
}

function queries(engine: Engine, mid: { created_at: string; id: string }): Q[] {
  const p = (n: number) => (engine === 'postgres' ? `$${n}` : '?');
  const cols = 'b.*';
  return [
    {
      name: 'list, first page',
      sql: `SELECT ${cols} FROM strongroom_backups b ORDER BY b.created_at DESC, b.id DESC LIMIT 51`,
      params: [],
    },
    {
      name: 'list, status filter',
      sql: `SELECT ${cols} FROM strongroom_backups b WHERE b.status = ${p(1)} ORDER BY b.created_at DESC, b.id DESC LIMIT 51`,
      params: ['completed'],
    },
    {
      name: 'list, type+trigger filter',
      sql: `SELECT ${cols} FROM strongroom_backups b WHERE b.type = ${p(1)} AND b."trigger" = ${p(2)} ORDER BY b.created_at DESC, b.id DESC LIMIT 51`,
      params: ['full', 'scheduled'],
    },
    {
      name: 'list, page in the middle (cursor)',
      sql: `SELECT ${cols} FROM strongroom_backups b WHERE (b.created_at <= ${p(1)} AND (b.created_at < ${p(2)} OR (b.created_at = ${p(3)} AND b.id < ${p(4)}))) ORDER BY b.created_at DESC, b.id DESC LIMIT 51`,
      params: [mid.created_at, mid.created_at, mid.created_at, mid.id],
    },
    {
      name: 'status: newest completed',
      sql: `SELECT ${cols} FROM strongroom_backups b WHERE b.status = ${p(1)} ORDER BY b.created_at DESC, b.id DESC LIMIT 1`,
      params: ['completed'],
    },
    {
      name: 'status: newest verified',
      sql: `SELECT ${cols} FROM strongroom_backups b WHERE b.status = ${p(1)} AND b.verified_at IS NOT NULL ORDER BY b.verified_at DESC, b.id DESC LIMIT 1`,
      params: ['completed'],
    },
    {
      name: 'status: stats by status',
      sql: `SELECT b.status, COUNT(*), SUM(b.size_bytes), MIN(b.created_at), MAX(b.created_at) FROM strongroom_backups b GROUP BY b.status`,
      params: [],
    },
    {
      name: 'audit: first page',
      sql: `SELECT e.* FROM strongroom_audit_events e WHERE 1 = 1 ORDER BY e.seq DESC LIMIT 51`,
      params: [],
    },
  ];
}

async function measure(ds: DataSource, q: Q, runs: number): Promise<{ p50: number; p99: number }> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await ds.query(q.sql, q.params);
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(runs / 2)], p99: t[Math.min(runs - 1, Math.ceil(runs * 0.99) - 1)] };
}

/** The plans and timings as markdown (one table per engine); starts and stops its own PostgreSQL cluster. */
export async function catalogQueryReport(rows: number, runs: number, echo = false): Promise<string> {
  const lines: string[] = [];
  const print = (l: string) => {
    lines.push(l);
    if (echo) console.log(l);
  };
  const saved = process.env.TEST_DATABASE_URL;
  const cluster = await startPgCluster();
  process.env.TEST_DATABASE_URL = cluster.url;
  try {
    for (const engine of ENGINES) {
      const db = await createTestDatabase(engine);
      const ds = new DataSource(buildDataSourceOptions(db.url, { migrationsRun: true }));
      await ds.initialize();
      try {
        await insertCatalog({ engine, db }, catalogRows(rows, new Prng(7), engine));
        if (engine === 'postgres') await ds.query('ANALYZE strongroom_backups');
        else await ds.query('ANALYZE');
        const all: { created_at: string; id: string }[] = await ds.query(
          `SELECT created_at, id FROM strongroom_backups ORDER BY created_at DESC, id DESC`,
        );
        const mid = all[Math.floor(all.length / 2)];
        print(`\n### ${engine}: ${rows} catalog rows, ${runs} runs per query\n`);
        print('| Query | p50 ms | p99 ms | Plan |\n|---|---:|---:|---|');
        for (const q of queries(engine, mid)) {
          const plan: Record<string, unknown>[] = await ds.query(
            engine === 'postgres' ? `EXPLAIN ${q.sql}` : `EXPLAIN QUERY PLAN ${q.sql}`,
            q.params,
          );
          const text = plan
            .map((r) => String(r['QUERY PLAN'] ?? r.detail))
            .map((l) => l.trim())
            .join(' → ');
          const m = await measure(ds, q, runs);
          print(`| ${q.name} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${text.replace(/\|/g, '\\|')} |`);
        }
      } finally {
        await ds.destroy();
        await db.drop();
      }
    }
  } finally {
    stopPgCluster(cluster);
    if (saved === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = saved;
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' } },
  });
  const report = await catalogQueryReport(Number(values.rows ?? 10_000), Number(values.runs ?? 200), true);
  if (values.out) writeFileSync(values.out, report);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  });
}
