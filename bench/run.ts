/**
 * `npm run bench -- [--scale 1.0] [--engines postgres,sqlite] [--out docs/benchmarks.md]
 *  [--seed n] [--work bench/out] [--breakdown] [--keep]`
 *
 * `--breakdown` also runs our backup without encryption and without compression, to show
 * where its time goes; `--keep` keeps the work directory (dumps, backups, SQLite file).
 *
 * One run, one dataset: seeds a PostgreSQL cluster of its own (normal durability) and a SQLite
 * file, then measures each tool as a child process — our backup against pg_dump and against
 * SQLite's online backup API, our restore against pg_restore — and writes the report.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { findPgTool, serverMajor } from '../src/engine/dialects/postgres/pg-tools';
import { parseArgs, runMain } from './cli-args';
import { DATASET_TABLES, DatasetCounts, DEFAULT_SEED, seedPostgres, seedSqlite } from './dataset';
import { Measured, runMeasured } from './measure';
import { BenchCluster, databaseUrl, startBenchCluster, stopBenchCluster } from './pg-cluster';
import { consoleTable, goal, Goal, Machine, markdown, mb, ratio, Report, ResultRow, secs } from './report';

const ROOT = resolve(__dirname, '..');
const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, n) => a + sizeOf(join(path, n)), 0);
}

function row(group: ResultRow['group'], tool: string, m: Measured, bytes: number | null, note = ''): ResultRow {
  return {
    group, tool, wallMs: m.wallMs, bytes, peakRssBytes: m.peakRssBytes, maxProcessRssBytes: m.maxProcessRssBytes, processes: m.processes,
    cpuSeconds: m.cpuSeconds, note,
  };
}

/** A TypeScript entry of ours as a measured child process (same runtime as `npm run cli`). */
function ours(script: string, args: string[], keys: string, label: string): Promise<Measured> {
  return runMeasured(process.execPath, [...TS_NODE, join(ROOT, 'bench', script), ...args], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BACKUP_KEYS: keys },
    label,
  });
}

async function query<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

async function countRows(url: string): Promise<DatasetCounts> {
  const [r] = await query<Record<string, string>>(url, `SELECT ${DATASET_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`);
  return Object.fromEntries(DATASET_TABLES.map((t) => [t, Number(r[t])])) as DatasetCounts;
}

/** A restore that "succeeds" with the wrong rows must not produce a number. */
async function expectCounts(url: string, expected: DatasetCounts, label: string): Promise<void> {
  const got = await countRows(url);
  const bad = DATASET_TABLES.filter((t) => got[t] !== expected[t]);
  if (bad.length) throw new Error(`${label}: row counts differ after restore: ${bad.map((t) => `${t} ${got[t]} != ${expected[t]}`).join(', ')}`);
}

/** What our backup is asked to do; the variants beyond the first only explain where time goes. */
interface Variant {
  label: string;
  compression: 'zstd' | 'none';
  encrypt: boolean;
}

const MAIN_VARIANT: Variant = { label: 'zstd, AES-256-GCM', compression: 'zstd', encrypt: true };
const BREAKDOWN_VARIANTS: Variant[] = [
  { label: 'zstd, no encryption', compression: 'zstd', encrypt: false },
  { label: 'no compression, no encryption', compression: 'none', encrypt: false },
];

interface OurBackup {
  measured: Measured;
  dir: string;
  bytes: number;
  rawBytes: number;
  encrypted: boolean;
}

async function ourBackup(ctx: Ctx, url: string, store: string, v: Variant): Promise<OurBackup> {
  const args = ['--url', url, '--store', store, '--parallel', '2', '--compression', v.compression];
  const measured = await ours('our-backup.ts', args, v.encrypt ? ctx.keys : '', `our backup (${v.label})`);
  const out = JSON.parse(measured.stdout) as Omit<OurBackup, 'measured'>;
  if (out.encrypted !== v.encrypt) throw new Error(`our backup (${v.label}): encryption was ${out.encrypted ? 'on' : 'off'}, expected the opposite`);
  return { measured, ...out };
}

/** WAL the server wrote while `fn` ran (the benchmark's cluster has no other writers). */
async function withWal<T>(adminUrl: string, fn: () => Promise<T>): Promise<{ result: T; walBytes: number }> {
  const [{ lsn }] = await query<{ lsn: string }>(adminUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const result = await fn();
  const [{ d }] = await query<{ d: string }>(adminUrl, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS d`, [lsn]);
  return { result, walBytes: Number(d) };
}

interface Ctx {
  breakdown: boolean;
  scale: number;
  seed: number;
  work: string;
  keys: string;
  rows: ResultRow[];
  goals: Goal[];
  loads: number[];
  datasets: Report['datasets'];
  postgres: string | null;
}

async function benchPostgres(ctx: Ctx): Promise<void> {
  const cluster: BenchCluster = await startBenchCluster();
  try {
    const admin = cluster.url;
    const src = databaseUrl(cluster, 'bench_src');
    await query(admin, 'CREATE DATABASE bench_src');
    log(`seeding PostgreSQL at scale ${ctx.scale}`);
    let t = Date.now();
    const counts = await seedPostgres(src, { scale: ctx.scale, seed: ctx.seed });
    const seedMs = Date.now() - t;
    const [{ size, version, num }] = await query<{ size: string; version: string; num: string }>(
      src,
      `SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
    );
    ctx.postgres = `PostgreSQL ${version}`;
    ctx.datasets.push({ engine: 'PostgreSQL', bytes: Number(size), rows: counts, seedMs });
    log(`PostgreSQL dataset: ${mb(Number(size))} in ${secs(seedMs)}`);
    const major = serverMajor(Number(num));
    const pgDump = (await findPgTool('pg_dump', major)).path;
    const pgRestore = (await findPgTool('pg_restore', major)).path;
    const store = join(ctx.work, 'pg-store');

    const step = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
      ctx.loads.push(loadavg()[0]);
      log(`${label} …`);
      t = Date.now();
      const r = await fn();
      log(`${label}: ${secs(Date.now() - t)}`);
      return r;
    };

    const backup = await step('our backup', () => ourBackup(ctx, src, store, MAIN_VARIANT));
    const rawNote = `row data ${mb(backup.rawBytes)} as COPY text`;
    ctx.rows.push(row('PostgreSQL backup', `Strongroom (${MAIN_VARIANT.label}, parallel 2)`, backup.measured, backup.bytes, rawNote));
    if (ctx.breakdown) {
      for (const v of BREAKDOWN_VARIANTS) {
        const b = await step(`our backup (${v.label})`, () => ourBackup(ctx, src, join(ctx.work, 'pg-breakdown'), v));
        ctx.rows.push(row('PostgreSQL backup', `Strongroom (${v.label}, parallel 2)`, b.measured, b.bytes, 'breakdown only'));
      }
      rmSync(join(ctx.work, 'pg-breakdown'), { recursive: true, force: true });
    }

    const fc = join(ctx.work, 'dump.fc');
    const dumpFc = await step('pg_dump -Fc', () => runMeasured(pgDump, ['-Fc', '-f', fc, '-d', src], { label: 'pg_dump -Fc' }));
    ctx.rows.push(row('PostgreSQL backup', 'pg_dump -Fc (gzip level 6, unencrypted)', dumpFc, sizeOf(fc)));

    const fd = join(ctx.work, 'dump.dir');
    const dumpFd = await step('pg_dump -Fd -j2 -Z1', () =>
      runMeasured(pgDump, ['-Fd', '-j', '2', '-Z', '1', '-f', fd, '-d', src], { label: 'pg_dump -Fd -j2 -Z1' }),
    );
    ctx.rows.push(row('PostgreSQL backup', 'pg_dump -Fd -j2 -Z1 (unencrypted)', dumpFd, sizeOf(fd)));
    rmSync(fd, { recursive: true, force: true });

    // Restore over live data: a copy of the source, changed a little so that it is "newer".
    await query(admin, 'CREATE DATABASE bench_live TEMPLATE bench_src');
    const live = databaseUrl(cluster, 'bench_live');
    await query(live, `UPDATE tasks SET status = 'done', updated_at = now() WHERE id % 100 = 0`);
    await query(live, `DELETE FROM comments WHERE id % 50 = 0`);
    await query(live, `INSERT INTO app_audit (at, actor, action, payload) SELECT now(), 'bench', 'later', '{}' FROM generate_series(1, 100)`);
    const { result: replace, walBytes: replaceWal } = await withWal(admin, () =>
      step('our restore (replace over live data)', () =>
        ours('our-restore.ts', ['--url', live, '--store', store, '--dir', backup.dir, '--mode', 'replace'], ctx.keys, 'our restore replace'),
      ),
    );
    await expectCounts(live, counts, 'our restore (replace)');
    ctx.rows.push(row('PostgreSQL restore', 'Strongroom replace, over live data (schema and old rows present)', replace, null, `one transaction; WAL ${mb(replaceWal)}`));
    await query(admin, 'DROP DATABASE bench_live');

    await query(admin, 'CREATE DATABASE bench_empty');
    const empty = databaseUrl(cluster, 'bench_empty');
    const { result: intoEmpty, walBytes: emptyWal } = await withWal(admin, () =>
      step('our restore (empty database)', () =>
        ours('our-restore.ts', ['--url', empty, '--store', store, '--dir', backup.dir, '--mode', 'replace', '--create-schema'], ctx.keys, 'our restore empty'),
      ),
    );
    await expectCounts(empty, counts, 'our restore (empty)');
    ctx.rows.push(row('PostgreSQL restore', 'Strongroom into empty database (schema applied first)', intoEmpty, null, `schema time included; one transaction; WAL ${mb(emptyWal)}`));
    await query(admin, 'DROP DATABASE bench_empty');

    await query(admin, 'CREATE DATABASE bench_pgr');
    const pgr = databaseUrl(cluster, 'bench_pgr');
    const { result: pgRestoreRun, walBytes: pgrWal } = await withWal(admin, () =>
      step('pg_restore -j2', () => runMeasured(pgRestore, ['-j', '2', '--exit-on-error', '--no-owner', '-d', pgr, fc], { label: 'pg_restore -j2' })),
    );
    await expectCounts(pgr, counts, 'pg_restore');
    ctx.rows.push(row('PostgreSQL restore', 'pg_restore -j2 of the -Fc dump into an empty database', pgRestoreRun, null, `not atomic; indexes built after load; WAL ${mb(pgrWal)}`));
    await query(admin, 'DROP DATABASE bench_pgr');

    ctx.goals.push(
      goal('PostgreSQL backup wall (encrypted)', '≤ 0.5 × pg_dump -Fc', backup.measured.wallMs, 0.5 * dumpFc.wallMs, (v) => `${secs(v)} = ${ratio(v, dumpFc.wallMs)} pg_dump -Fc`),
      goal('PostgreSQL backup size', '≤ pg_dump -Fc', backup.bytes, sizeOf(fc), (v) => `${mb(v)} = ${ratio(v, sizeOf(fc))} pg_dump -Fc`),
      goal('PostgreSQL backup peak memory', '≤ 256 MiB', backup.measured.peakRssBytes, 256 * 1024 * 1024, mb),
      goal('PostgreSQL restore replace wall', '≤ 1.0 × pg_restore -j2', replace.wallMs, pgRestoreRun.wallMs, (v) => `${secs(v)} = ${ratio(v, pgRestoreRun.wallMs)} pg_restore -j2`),
      goal('PostgreSQL restore peak memory', '≤ 256 MiB', replace.peakRssBytes, 256 * 1024 * 1024, mb),
    );
  } finally {
    stopBenchCluster(cluster);
  }
}

async function benchSqlite(ctx: Ctx): Promise<void> {
  const file = join(ctx.work, 'bench.db');
  rmSync(file, { force: true });
  log(`seeding SQLite at scale ${ctx.scale}`);
  const t = Date.now();
  const counts = seedSqlite(file, { scale: ctx.scale, seed: ctx.seed });
  ctx.datasets.push({ engine: 'SQLite', bytes: sizeOf(file), rows: counts, seedMs: Date.now() - t });
  ctx.loads.push(loadavg()[0]);
  log('our SQLite backup …');
  const url = `sqlite:${file}`;
  const backup = await ourBackup(ctx, url, join(ctx.work, 'sqlite-store'), MAIN_VARIANT);
  const ourRun = backup.measured;
  ctx.rows.push(row('SQLite backup', `Strongroom (${MAIN_VARIANT.label}, parallel 2)`, ourRun, backup.bytes, `row data ${mb(backup.rawBytes)} as NDJSON`));
  if (ctx.breakdown) {
    for (const v of BREAKDOWN_VARIANTS) {
      log(`our SQLite backup (${v.label}) …`);
      const b = await ourBackup(ctx, url, join(ctx.work, 'sqlite-breakdown'), v);
      ctx.rows.push(row('SQLite backup', `Strongroom (${v.label}, parallel 2)`, b.measured, b.bytes, 'breakdown only'));
    }
    rmSync(join(ctx.work, 'sqlite-breakdown'), { recursive: true, force: true });
  }
  ctx.loads.push(loadavg()[0]);
  log('SQLite online backup API …');
  const dest = join(ctx.work, 'online-copy.db');
  rmSync(dest, { force: true });
  const online = await ours('sqlite-online-backup.ts', ['--src', file, '--dest', dest], ctx.keys, 'SQLite online backup');
  ctx.rows.push(row('SQLite backup', 'better-sqlite3 db.backup() (page copy, uncompressed, unencrypted)', online, sizeOf(dest)));
  rmSync(dest, { force: true });
  ctx.goals.push(
    goal('SQLite backup wall (encrypted)', '≤ 2 × online backup API', ourRun.wallMs, 2 * online.wallMs, (v) => `${secs(v)} = ${ratio(v, online.wallMs)} online backup`),
    goal('SQLite backup peak memory', '≤ 256 MiB', ourRun.peakRssBytes, 256 * 1024 * 1024, mb),
  );
}

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const scale = Number(args.get('scale') ?? '1.0');
  const seed = Number(args.get('seed') ?? DEFAULT_SEED);
  const engines = (args.get('engines') ?? 'postgres,sqlite').split(',').map((e) => e.trim());
  const unknown = engines.filter((e) => e !== 'postgres' && e !== 'sqlite');
  if (unknown.length) throw new Error(`--engines: unknown engine(s) ${unknown.join(', ')} (use postgres,sqlite)`);
  const out = args.get('out') ?? 'docs/benchmarks.md';
  const work = resolve(args.get('work') ?? join(ROOT, 'bench', 'out'), `run-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  const ctx: Ctx = {
    breakdown: args.get('breakdown') === 'true',
    scale, seed, work, keys: `bench:${randomBytes(32).toString('base64')}`, rows: [], goals: [], loads: [loadavg()[0]], datasets: [], postgres: null,
  };
  const startedAt = new Date().toISOString();
  try {
    const baseline = await ours('cli-args.ts', [], ctx.keys, 'ts-node baseline');
    ctx.rows.push(row('Baseline', 'node + ts-node --transpile-only, empty script', baseline, null, 'runtime floor of our rows'));
    if (engines.includes('postgres')) await benchPostgres(ctx);
    if (engines.includes('sqlite')) await benchSqlite(ctx);
  } finally {
    if (args.get('keep') !== 'true') rmSync(work, { recursive: true, force: true });
  }
  ctx.loads.push(loadavg()[0]);
  const cpu = cpus();
  const machine: Machine = {
    cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryBytes: totalmem(), node: process.version, postgres: ctx.postgres,
    kernel: release(), loadAverages: ctx.loads, startedAt,
  };
  const flags = [
    `--scale ${scale}`, `--engines ${engines.join(',')}`, ...(seed !== DEFAULT_SEED ? [`--seed ${seed}`] : []),
    ...(ctx.breakdown ? ['--breakdown'] : []), `--out ${out}`,
  ];
  const report: Report = {
    machine, scale, seed, datasets: ctx.datasets, rows: ctx.rows, goals: ctx.goals,
    command: `npm run bench -- ${flags.join(' ')}`, finishedAt: new Date().toISOString(),
  };
  process.stdout.write(`\n${consoleTable(ctx.rows)}\n\n`);
  for (const g of ctx.goals) process.stdout.write(`${g.met ? 'MET   ' : 'MISSED'} ${g.name}: ${g.measured} (target ${g.target}; ${g.margin})\n`);
  const outPath = resolve(ROOT, out);
  if (!existsSync(resolve(outPath, '..'))) mkdirSync(resolve(outPath, '..'), { recursive: true });
  writeFileSync(outPath, markdown(report, outPath));
  // Raw numbers beside the code that made them, for comparing runs.
  const raw = join(ROOT, 'bench', 'results', `scale-${scale}.json`);
  mkdirSync(resolve(raw, '..'), { recursive: true });
  writeFileSync(raw, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${out} and ${raw}`);
});
