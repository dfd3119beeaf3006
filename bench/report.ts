/**
 * Turns measurements into the console table and docs/benchmarks.md. A hand-written analysis
 * between the analysis markers of an existing file is kept, so a re-run refreshes the numbers
 * without losing the explanation (which should then be re-read against the new numbers).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ProcessStageStats, Stage } from '../src/engine/archive/stage-stats';

export interface ResultRow {
  group: 'PostgreSQL backup' | 'PostgreSQL restore' | 'SQLite backup' | 'Baseline';
  tool: string;
  /** Median over `runs`, with the range. */
  wallMs: number;
  wallMinMs: number;
  wallMaxMs: number;
  runs: number;
  /** Output size in bytes (backups); null where it does not apply. */
  bytes: number | null;
  peakRssBytes: number;
  maxProcessRssBytes: number;
  processes: number;
  cpuSeconds: number;
  serverCpuSeconds: number | null;
  note: string;
  /** The data shape the row measured (bench/shapes.ts); none for the baseline. */
  shape?: string;
  /** Where our tool's CPU went (medians over runs), for our own rows when stage stats were on. */
  stages?: StageSplit;
}

/** Seconds of our process's CPU by where it went; medians over a row's runs. */
export interface StageSplit {
  /** Every thread of the process (process.cpuUsage at the end). */
  processCpu: number;
  /** Main thread time not in a timed stage: the database protocol (reading COPY, writing COPY), row encoding, the event loop. */
  mainOther: number | null;
  /** Timed stages, main thread and workers together. */
  stages: Partial<Record<Stage, number>>;
  /** Part-worker time not in a timed stage: handing buffers between threads, garbage collection. */
  workerOther: number | null;
  /** Threads that are neither: libuv's pool (storage file reads and writes) and V8's helpers (GC, compiler). */
  otherThreads: number | null;
}

export interface Goal {
  /** The data shape the goal is about; none for run-wide goals. */
  shape?: string;
  name: string;
  target: string;
  measured: string;
  met: boolean;
  /** e.g. "1.8x the target" or "within by 20%". */
  margin: string;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  postgres: string | null;
  kernel: string;
  loadAverages: number[];
  startedAt: string;
}

export interface ShapeInfo {
  id: string;
  title: string;
  description: string;
  sizeCaveat?: string;
}

export interface Report {
  machine: Machine;
  scale: number;
  seed: number;
  repeat: number;
  /** The shapes measured, in order; one (shape a) in the default run. */
  shapes: ShapeInfo[];
  datasets: Array<{ shape?: string; engine: string; bytes: number; rows: Record<string, number>; seedMs: number }>;
  rows: ResultRow[];
  goals: Goal[];
  /** Failed runs, "tool: message", in the order they happened. */
  failures: string[];
  command: string;
  finishedAt: string;
  /** A larger run of one shape (`--memory-from`), to show that peak memory does not grow with the data. */
  memoryRun?: MemoryRun;
}

/** What the memory section needs of an earlier, larger run (its results JSON). */
export interface MemoryRun {
  file: string;
  command: string;
  scale: number;
  datasets: Report['datasets'];
  rows: ResultRow[];
}

export const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
export const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** Goal "a <= limit": met or missed, and by how much, in words a reader can check. */
export function goal(name: string, target: string, value: number, limit: number, fmt: (n: number) => string): Goal {
  const met = value <= limit;
  const margin = met
    ? `met, ${((1 - value / limit) * 100).toFixed(1)}% under the limit`
    : `missed by ${((value / limit - 1) * 100).toFixed(1)}% (${(value / limit).toFixed(2)}x the limit)`;
  return { name, target, measured: fmt(value), met, margin };
}

function serverCpu(r: ResultRow): string {
  return r.serverCpuSeconds === null ? '—' : `${r.serverCpuSeconds.toFixed(1)} s`;
}

function range(r: ResultRow): string {
  return r.runs > 1
    ? `${(r.wallMinMs / 1000).toFixed(1)}–${(r.wallMaxMs / 1000).toFixed(1)} s (${r.runs} runs)`
    : '1 run';
}

/** A goal whose measurement is missing because every run of the tool failed. */
export function unmeasuredGoal(name: string, target: string, missing: string): Goal {
  return {
    name,
    target,
    measured: 'not measured',
    met: false,
    margin: `every run of ${missing} failed (see Failures)`,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function medianOrNull(xs: Array<number | null>): number | null {
  return xs.some((x) => x === null) ? null : median(xs as number[]);
}

const sum = (o: Partial<Record<string, number>>): number => Object.values(o).reduce<number>((a, b) => a + (b ?? 0), 0);

/** The median split over the runs that reported one (ms in, seconds out); undefined when none did. */
export function stageSplit(runs: Array<ProcessStageStats | undefined>): StageSplit | undefined {
  const got = runs.filter((s): s is ProcessStageStats => s !== undefined);
  if (!got.length) return undefined;
  const per = got.map((s) => {
    const stages: Partial<Record<Stage, number>> = {};
    for (const src of [s.main.stagesMs, s.workers.stagesMs])
      for (const [k, ms] of Object.entries(src) as Array<[Stage, number]>) stages[k] = (stages[k] ?? 0) + ms / 1000;
    const main = s.main.cpuMs;
    const workers = s.workers.cpuMs;
    return {
      processCpu: s.processCpuMs / 1000,
      mainOther: main === null ? null : Math.max(0, main - sum(s.main.stagesMs)) / 1000,
      workerOther: workers === null ? null : Math.max(0, workers - sum(s.workers.stagesMs)) / 1000,
      otherThreads: main === null || workers === null ? null : Math.max(0, s.processCpuMs - main - workers) / 1000,
      stages,
    };
  });
  const keys = [...new Set(per.flatMap((p) => Object.keys(p.stages)))] as Stage[];
  return {
    processCpu: median(per.map((p) => p.processCpu)),
    mainOther: medianOrNull(per.map((p) => p.mainOther)),
    workerOther: medianOrNull(per.map((p) => p.workerOther)),
    otherThreads: medianOrNull(per.map((p) => p.otherThreads)),
    stages: Object.fromEntries(keys.map((k) => [k, median(per.map((p) => p.stages[k] ?? 0))])),
  };
}

const s1 = (x: number | null | undefined): string =>
  x === null || x === undefined ? '—' : `${x.toFixed(x < 1 ? 2 : 1)} s`;

/** The split as table cells: main thread, (de)compressing, (en/de)crypting, hashing, workers' rest, other threads. */
function splitCells(t: StageSplit): string[] {
  const st = t.stages;
  const either = (a: Stage, b: Stage) =>
    st[a] === undefined && st[b] === undefined ? null : (st[a] ?? 0) + (st[b] ?? 0);
  return [
    s1(t.processCpu),
    s1(t.mainOther),
    s1(either('compressing', 'decompressing')),
    s1(either('encrypting', 'decrypting')),
    s1(st.hashing ?? null),
    s1(t.workerOther),
    s1(t.otherThreads),
  ];
}

function timeTable(rows: ResultRow[]): string {
  const head =
    '| Tool | Wall | Our CPU (all threads) | Main thread: database protocol, reading and encoding (backup) or writing (restore) | (De)compressing | (En/de)crypting | Hashing (SHA-256: backups both sides, restores the stored bytes) | Part workers: hand-off, GC | Other threads: storage file I/O, V8 helpers | Server CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows
    .filter((r) => r.stages)
    .map(
      (r) =>
        `| ${r.group}: ${r.tool} | ${secs(r.wallMs)} | ${splitCells(r.stages as StageSplit).join(' | ')} | ${serverCpu(r)} |`,
    );
  return [head, ...body].join('\n');
}

/** The split of each of our rows, for the console. */
export function consoleSplit(rows: ResultRow[]): string {
  return rows
    .filter((r) => r.stages)
    .map((r) => {
      const [cpu, main, comp, crypt, hash, workers, other] = splitCells(r.stages as StageSplit);
      const shape = r.shape ? `[${r.shape}] ` : '';
      return `${shape}${r.group}: ${r.tool}\n  wall ${secs(r.wallMs)}, our cpu ${cpu}: main thread (db protocol, reading/encoding/writing) ${main}, (de)compressing ${comp}, (en/de)crypting ${crypt}, hashing ${hash}, workers' hand-off/GC ${workers}, other threads (storage I/O, GC) ${other}; server cpu ${serverCpu(r)}`;
    })
    .join('\n');
}

function table(rows: ResultRow[]): string {
  const head =
    '| Group | Tool | Wall (median) | Wall range | CPU | Server CPU | Output size | Peak RSS (tree) | Largest process | Notes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|';
  const body = rows.map(
    (r) =>
      `| ${r.group} | ${r.tool} | ${secs(r.wallMs)} | ${range(r)} | ${r.cpuSeconds.toFixed(1)} s | ${serverCpu(r)} | ${r.bytes === null ? '—' : mb(r.bytes)} | ${mb(r.peakRssBytes)} | ${mb(r.maxProcessRssBytes)} (${r.processes} proc) | ${r.note} |`,
  );
  return [head, ...body].join('\n');
}

export function consoleTable(rows: ResultRow[]): string {
  const tagged = new Set(rows.map((r) => r.shape).filter(Boolean)).size > 1;
  const cells = rows.map((r) => [
    tagged && r.shape ? `[${r.shape}] ${r.group}` : r.group,
    r.tool,
    secs(r.wallMs),
    range(r),
    `${r.cpuSeconds.toFixed(1)} s`,
    serverCpu(r),
    r.bytes === null ? '-' : mb(r.bytes),
    mb(r.peakRssBytes),
    r.note,
  ]);
  const header = ['group', 'tool', 'wall', 'range', 'cpu', 'server cpu', 'size', 'peak RSS', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const ANALYSIS_START = '<!-- analysis:start -->';
const ANALYSIS_END = '<!-- analysis:end -->';

function keptAnalysis(path: string): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(ANALYSIS_START);
  const b = text.indexOf(ANALYSIS_END);
  return a >= 0 && b > a ? text.slice(a + ANALYSIS_START.length, b).trim() : '';
}

function rowsCell(rows: Record<string, number>): string {
  const entries = Object.entries(rows);
  // A shape of 500 tables: the total and the largest, not every table.
  if (entries.length > 8) {
    const total = entries.reduce((a, [, v]) => a + v, 0);
    const [big, n] = entries.reduce((a, b) => (b[1] > a[1] ? b : a));
    return `${entries.length} tables, ${total.toLocaleString('en-US')} rows (largest ${big} ${n.toLocaleString('en-US')})`;
  }
  return entries.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
}

function datasetTable(datasets: Report['datasets']): string {
  return `| Engine | On disk | Rows | Seed time |
|---|---:|---|---:|
${datasets.map((d) => `| ${d.engine} | ${mb(d.bytes)} | ${rowsCell(d.rows)} | ${secs(d.seedMs)} |`).join('\n')}`;
}

function goalsTable(goals: Goal[]): string {
  return `| Goal | Target | Measured | Result |
|---|---|---|---|
${goals.map((g) => `| ${g.name} | ${g.target} | ${g.measured} | ${g.met ? '✅' : '❌'} ${g.margin} |`).join('\n')}`;
}

const RESULTS_INTRO = `Wall is the child process's elapsed time; CPU is user + system time of the tool's process
tree; Server CPU is what the PostgreSQL server (postmaster and all its processes, including
backends that ended) spent meanwhile. Peak RSS is sampled from \`/proc/<pid>/status\`
(VmHWM) every 50 ms for every process in the tool's tree and summed (an upper bound of the
tree's real peak); the PostgreSQL server's own backends are not counted, for any tool. Our
backup and restore run as compiled JavaScript, as \`dist/\` ships them (the sources are
transpiled once before the run), with node's \`--initial-old-space-size=64\`, as \`npm start\` and
the Docker image start the service; the baseline row is node's own floor.`;

const TIME_INTRO = `Our backup and restore report where their own CPU went (\`STRONGROOM_STAGE_STATS=1\`,
\`src/engine/archive/stage-stats.ts\`): each step of the part pipeline is timed on its thread,
exclusively (a step that hands bytes on synchronously stops its own clock), and each thread
reads its CPU time from \`/proc/thread-self\`. The main thread's untimed rest is the database
protocol or storage: on a PostgreSQL backup storing the finished bytes (a part worker receives the
COPY rows itself, in the workers' rest; the server encodes them, inside Server CPU), on a SQLite
backup reading and encoding rows (SQLite encodes them to JSON in its own query), on a restore
sending COPY data. "Other threads" is the process's CPU outside the main
thread and the part workers: libuv's pool doing the storage file reads and writes, and V8's
garbage collector and compiler threads. Medians over the runs; Server CPU as in the results.
The steps are timed by the clock, not by CPU accounting (Node has no cheap per-thread CPU
clock): on a machine busier than its cores, a step's time includes waiting for a core, and
the steps can then add up to more than their thread's CPU (its rest shows as 0).`;

function timeSection(rows: ResultRow[], h: string): string {
  if (!rows.some((r) => r.stages)) return '';
  return `\n${h} Where the time goes\n\n${TIME_INTRO}\n\n${timeTable(rows)}\n`;
}

/** Dataset, results, goals and time split of one shape, under headings of level `h`. */
function shapeSections(r: Report, shape: ShapeInfo | undefined, h: string): string {
  const mine = <T extends { shape?: string }>(xs: T[]): T[] =>
    shape ? xs.filter((x) => x.shape === shape.id || x.shape === undefined) : xs;
  const datasets = shape ? r.datasets.filter((d) => d.shape === shape.id) : r.datasets;
  const rows = mine(r.rows);
  const goals = shape ? r.goals.filter((g) => g.shape === shape.id) : r.goals;
  const about =
    !shape || shape.id === 'a'
      ? `Seed ${r.seed}, scale ${r.scale} (\`bench/dataset.ts\`): projects, tasks (200–2000 characters of
word-like text, enum status, tag arrays, two indexes), comments and an audit table with
~300-byte JSON payloads; foreign keys tasks → projects and comments → tasks.`
      : `Seed ${r.seed}, scale ${r.scale} (\`bench/shapes-pg.ts\`, \`bench/shapes-sqlite.ts\`): ${shape.description}.`;
  const caveat = shape?.sizeCaveat ? `\n\nArchive size on this shape: ${shape.sizeCaveat}.` : '';
  return `${h} Dataset

${about}

${datasetTable(datasets)}

${h} Results

${RESULTS_INTRO}

${table(rows)}

${h} Goals

${goalsTable(goals)}${caveat}
${timeSection(rows, h)}`;
}

/** One line per shape and one column per goal: the whole run at a glance. */
function goalMatrix(r: Report): string {
  const names = [...new Set(r.goals.filter((g) => g.shape).map((g) => g.name))];
  const head = `| Shape | ${names.join(' | ')} |\n|---|${names.map(() => '---|').join('')}`;
  const body = r.shapes.map((s) => {
    const cells = names.map((n) => {
      const g = r.goals.find((x) => x.shape === s.id && x.name === n);
      return g ? `${g.met ? '✅' : '❌'} ${g.measured.split(' (')[0]}` : '—';
    });
    return `| ${s.id}: ${s.title} | ${cells.join(' | ')} |`;
  });
  return [head, ...body].join('\n');
}

/** Our rows' peaks in this run next to the same tools' in a larger run of the same shape. */
function memorySection(r: Report): string {
  const big = r.memoryRun;
  if (!big) return '';
  const ours = (x: ResultRow) => x.tool.startsWith('Strongroom');
  const shapes = [...new Set(big.rows.filter(ours).map((x) => x.shape))];
  const lines = big.rows.filter(ours).map((b) => {
    const here = r.rows.find((x) => x.tool === b.tool && x.group === b.group && x.shape === b.shape);
    return `| ${b.shape ?? 'a'} | ${b.group}: ${b.tool} | ${here ? mb(here.peakRssBytes) : '—'} | ${mb(b.peakRssBytes)} | ${secs(b.wallMs)} |`;
  });
  const size = (ds: Report['datasets']) =>
    ds
      .filter((d) => shapes.includes(d.shape))
      .map((d) => `${d.engine} ${mb(d.bytes)}`)
      .join(', ');
  return `## Memory independent of database size

The same shape at scale ${big.scale} (${size(big.datasets)}), against this run at scale ${r.scale}
(${size(r.datasets)}): our tools stream, so their peak memory should not grow with the data.
From \`${big.file}\`, made by \`${big.command}\` (not run in CI: it needs about
${Math.ceil(big.scale * 3)} GB of disk).

| Shape | Tool | Peak RSS, this run | Peak RSS, scale ${big.scale} | Wall, scale ${big.scale} |
|---|---|---:|---:|---:|
${lines.join('\n')}

`;
}

export function markdown(r: Report, outPath: string): string {
  const m = r.machine;
  const analysis = keptAnalysis(outPath) || '_No analysis written yet for these numbers._';
  const single = r.shapes.length <= 1;
  const body = single
    ? shapeSections(r, undefined, '##')
    : `## Shapes

Every shape is about 1 GB in PostgreSQL at scale 1, seeded from the same seed; each was
measured with every tool before the next was seeded.

| Shape | What |
|---|---|
${r.shapes.map((s) => `| ${s.id}: ${s.title} | ${s.description} |`).join('\n')}

## Goals by shape

${goalMatrix(r)}

${r.shapes.map((s) => `## Shape ${s.id}: ${s.title}\n\n${shapeSections(r, s, '###')}`).join('\n')}`;
  return `# Benchmarks

Generated by \`bench/run.ts\` on ${r.finishedAt} (run started ${m.startedAt}). Every tool ran
${r.repeat} time(s) on the same dataset and the same PostgreSQL cluster, the tools of a group in
rotation; walls and CPU are medians. Reproduce with:

\`\`\`sh
${r.command}
\`\`\`

## Machine

- CPUs: ${m.cpus} × ${m.cpuModel}
- Memory: ${mb(m.memoryBytes)}
- Kernel: ${m.kernel}
- Node.js: ${m.node}
- PostgreSQL: ${m.postgres ?? 'not run'} (a cluster started by the benchmark with default settings: fsync, synchronous_commit and full_page_writes on, shared_buffers 128MB)
- Load average (1 min) sampled between steps: ${m.loadAverages.map((l) => l.toFixed(1)).join(', ')}. Other engineers
  were running test suites on this shared machine at the same time, so wall times carry noise
  of the order of tens of percent; peak memory and sizes are not affected.

${body}
${memorySection(r)}## Failures

${r.failures.length ? r.failures.map((f) => `- ${f}`).join('\n') : 'None: every run of every tool succeeded.'}

## Analysis

${ANALYSIS_START}
${analysis}
${ANALYSIS_END}
`;
}
