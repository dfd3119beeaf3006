/**
 * `npm run bench -- [--scale 1.0] [--engines postgres,sqlite] [--shapes a,b,c,d,e,f|all]
 *  [--out docs/benchmarks.md] [--repeat 3] [--seed n] [--work bench/out] [--breakdown]
 *  [--stage-stats false] [--reference false] [--keep]`
 *
 * One run: for each data shape (bench/shapes.ts; default `a`, the original dataset) seeds a
 * PostgreSQL cluster of its own (normal durability) and a SQLite file, then measures each tool
 * as a child process — our backup against pg_dump and against SQLite's online backup API, our
 * restore against pg_restore — and writes the report, with goals per shape. Our tools report
 * where their CPU goes (stage-stats.ts) unless `--stage-stats false`. `--breakdown` also runs
 * our backup without encryption, without compression and without worker threads, and our
 * replace restore without worker threads; `--keep` keeps the work directory (dumps, backups,
 * SQLite file); `--reference false` leaves the field's tools out (a memory run needs only ours).
 * Memory independent of size: `--scale 5 --shapes d --reference false` (docs/benchmarking.md).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { buildOurTools, Ctx, ours, ROOT } from './bench-context';
import { benchPostgres } from './bench-postgres';
import { benchSqlite } from './bench-sqlite';
import { parseArgs, runMain } from './cli-args';
import { DEFAULT_SEED } from './dataset';
import { consoleSplit, consoleTable, Machine, markdown, MemoryRun, Report, ResultRow } from './report';
import { Case, log, summarize } from './rounds';
import { parseShapes } from './shapes';

/** The results JSON of an earlier run (read before this one starts, so a wrong path fails fast). */
function readMemoryRun(file: string): MemoryRun {
  const path = resolve(ROOT, file);
  if (!existsSync(path)) throw new Error(`--memory-from: ${file} does not exist (run the larger benchmark first)`);
  const r = JSON.parse(readFileSync(path, 'utf8')) as Report;
  return { file, command: r.command, scale: r.scale, datasets: r.datasets, rows: r.rows };
}

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const scale = Number(args.get('scale') ?? '1.0');
  const seed = Number(args.get('seed') ?? DEFAULT_SEED);
  const repeat = Number(args.get('repeat') ?? '1');
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`--repeat must be a positive integer, got ${args.get('repeat')}`);
  const engines = (args.get('engines') ?? 'postgres,sqlite').split(',').map((e) => e.trim());
  const unknown = engines.filter((e) => e !== 'postgres' && e !== 'sqlite');
  if (unknown.length) throw new Error(`--engines: unknown engine(s) ${unknown.join(', ')} (use postgres,sqlite)`);
  const shapes = parseShapes(args.get('shapes'));
  // `--memory-from bench/results/scale-5-d.json`: a larger run of one shape, shown beside this one.
  const memoryFrom = args.get('memory-from');
  if (memoryFrom) readMemoryRun(memoryFrom);
  const out = args.get('out') ?? 'docs/benchmarks.md';
  const work = resolve(args.get('work') ?? join(ROOT, 'bench', 'out'), `run-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  const ctx: Ctx = {
    breakdown: args.get('breakdown') === 'true',
    reference: args.get('reference') !== 'false',
    stageStats: args.get('stage-stats') !== 'false',
    shapes,
    keep: args.get('keep') === 'true',
    scale,
    seed,
    repeat,
    work,
    keys: `bench:${randomBytes(32).toString('base64')}`,
    rows: [],
    goals: [],
    failures: [],
    loads: [loadavg()[0]],
    datasets: [],
    postgres: null,
  };
  const startedAt = new Date().toISOString();
  try {
    buildOurTools();
    const baseline = await ours('cli-args.ts', [], '', 'node baseline');
    const base: Case = {
      key: 'baseline',
      group: 'Baseline',
      tool: 'node, empty script (our tools run compiled JavaScript)',
      run: async () => ({ measured: baseline, bytes: null }),
    };
    ctx.rows.push(
      summarize(base, [{ measured: baseline, bytes: null, note: 'runtime floor of our rows' }]) as ResultRow,
    );
    if (engines.includes('postgres')) await benchPostgres(ctx);
    if (engines.includes('sqlite')) await benchSqlite(ctx);
  } finally {
    if (!ctx.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  ctx.loads.push(loadavg()[0]);
  const cpu = cpus();
  const machine: Machine = {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    postgres: ctx.postgres,
    kernel: release(),
    loadAverages: ctx.loads,
    startedAt,
  };
  const flags = [
    `--scale ${scale}`,
    `--engines ${engines.join(',')}`,
    ...(args.has('shapes') ? [`--shapes ${shapes.map((x) => x.id).join(',')}`] : []),
    `--repeat ${repeat}`,
    ...(seed !== DEFAULT_SEED ? [`--seed ${seed}`] : []),
    ...(ctx.breakdown ? ['--breakdown'] : []),
    ...(ctx.reference ? [] : ['--reference false']),
    ...(ctx.stageStats ? [] : ['--stage-stats false']),
    ...(memoryFrom ? [`--memory-from ${memoryFrom}`] : []),
    `--out ${out}`,
  ];
  const report: Report = {
    machine,
    scale,
    seed,
    repeat,
    shapes: shapes.map(({ id, title, description, sizeCaveat }) => ({ id, title, description, sizeCaveat })),
    datasets: ctx.datasets,
    rows: ctx.rows,
    goals: ctx.goals,
    failures: ctx.failures,
    command: `npm run bench -- ${flags.join(' ')}`,
    finishedAt: new Date().toISOString(),
    memoryRun: memoryFrom ? readMemoryRun(memoryFrom) : undefined,
  };
  process.stdout.write(`\n${consoleTable(ctx.rows)}\n\n`);
  const split = consoleSplit(ctx.rows);
  if (split) process.stdout.write(`Where the time goes:\n${split}\n\n`);
  for (const f of ctx.failures) process.stdout.write(`FAILED RUN ${f}\n`);
  for (const g of ctx.goals) {
    const shape = g.shape && shapes.length > 1 ? `[${g.shape}] ` : '';
    process.stdout.write(
      `${g.met ? 'MET   ' : 'MISSED'} ${shape}${g.name}: ${g.measured} (target ${g.target}; ${g.margin})\n`,
    );
  }
  const outPath = resolve(ROOT, out);
  if (!existsSync(resolve(outPath, '..'))) mkdirSync(resolve(outPath, '..'), { recursive: true });
  writeFileSync(outPath, markdown(report, outPath));
  // Raw numbers beside the code that made them, for comparing runs.
  const shapeTag = args.has('shapes') ? `-${shapes.map((x) => x.id).join('')}` : '';
  const raw = join(ROOT, 'bench', 'results', `scale-${scale}${shapeTag}.json`);
  mkdirSync(resolve(raw, '..'), { recursive: true });
  writeFileSync(raw, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${out} and ${raw}`);
});
