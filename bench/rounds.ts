/**
 * Repeats the tools being compared in rotation rather than back to back, so a burst of load
 * from other work on a shared machine hits every tool alike, and reports the median wall and
 * CPU, the highest peak memory, and the range of walls. Each round starts one tool further on
 * (A B C, B C A, C A B, …): what a run leaves behind for the next one (a dropped 1 GB
 * database, memory the machine takes back) then falls on every tool in turn, not always on
 * the first.
 */
import { loadavg } from 'node:os';
import type { ProcessStageStats } from '../src/engine/archive/stage-stats';
import type { Measured } from './measure';
import { secs, stageSplit, type ResultRow } from './report';

export interface Sample {
  measured: Measured;
  bytes: number | null;
  /** CPU seconds the PostgreSQL server spent meanwhile; null for SQLite. */
  serverCpuSeconds?: number | null;
  note?: string;
  /** Where our tool's CPU went (STRONGROOM_STAGE_STATS), for our own rows. */
  stages?: ProcessStageStats;
}

export interface Case {
  key: string;
  group: ResultRow['group'];
  tool: string;
  /** One of the field's tools we compare with (not ours): left out by `--reference false`. */
  reference?: boolean;
  /** Untimed preparation before each run (e.g. a fresh target database). */
  setup?(): Promise<void>;
  run(): Promise<Sample>;
  /** Untimed checks and cleanup after each run; a failed check fails the benchmark. */
  after?(): Promise<void>;
}

/** The cases this run measures: `--reference false` leaves out the field's tools. */
export function selectCases(ctx: { reference: boolean }, cases: Case[]): Case[] {
  return ctx.reference ? cases : cases.filter((c) => !c.reference);
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * One row from a case's successful runs. Failed runs are named in the note rather than
 * dropped silently; a case with no successful run has no row (the caller reports it).
 */
export function summarize(c: Case, samples: Sample[], failures: string[] = []): ResultRow | null {
  if (!samples.length) return null;
  const walls = samples.map((s) => s.measured.wallMs);
  const last = samples[samples.length - 1];
  const failed = failures.length
    ? `; FAILED ${failures.length} of ${samples.length + failures.length} runs: ${failures[0]}`
    : '';
  return {
    group: c.group,
    tool: c.tool,
    wallMs: median(walls),
    wallMinMs: Math.min(...walls),
    wallMaxMs: Math.max(...walls),
    runs: samples.length,
    cpuSeconds: median(samples.map((s) => s.measured.cpuSeconds)),
    serverCpuSeconds: samples.some((s) => s.serverCpuSeconds == null)
      ? null
      : median(samples.map((s) => s.serverCpuSeconds as number)),
    bytes: last.bytes,
    peakRssBytes: Math.max(...samples.map((s) => s.measured.peakRssBytes)),
    maxProcessRssBytes: Math.max(...samples.map((s) => s.measured.maxProcessRssBytes)),
    processes: Math.max(...samples.map((s) => s.measured.processes)),
    note: (last.note ?? '') + failed,
    stages: stageSplit(samples.map((s) => s.stages)),
  };
}

export interface RoundsResult {
  rows: Map<string, ResultRow>;
  /** Each case's wall per round (null where that run failed): rounds pair the tools' runs in time. */
  walls: Map<string, Array<number | null>>;
  /** Cases with failed runs, with the failure messages: findings in their own right. */
  failures: Map<string, string[]>;
}

/**
 * Runs every case `repeat` times in rotation, round r starting at case r (see the top). A run
 * that fails (the tool exits non-zero) is recorded and the rounds go on, so one intermittent
 * failure does not throw away the other measurements; a failing setup or check still stops
 * the benchmark.
 */
export async function runRounds(cases: Case[], repeat: number, loads: number[]): Promise<RoundsResult> {
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.key, []]));
  const failures = new Map<string, string[]>();
  const walls = new Map<string, Array<number | null>>(cases.map((c) => [c.key, []]));
  for (let round = 1; round <= repeat; round++) {
    const start = (round - 1) % cases.length;
    for (const c of [...cases.slice(start), ...cases.slice(0, start)]) {
      await c.setup?.();
      loads.push(loadavg()[0]);
      log(`${c.tool} (run ${round}/${repeat}) …`);
      let s: Sample;
      try {
        s = await c.run();
      } catch (err) {
        const msg = (err as Error).message;
        log(`${c.tool} FAILED: ${msg}`);
        failures.set(c.key, [...(failures.get(c.key) ?? []), msg]);
        walls.get(c.key)!.push(null);
        continue;
      }
      const server = s.serverCpuSeconds == null ? '' : `, server cpu ${s.serverCpuSeconds.toFixed(1)} s`;
      log(`${c.tool}: ${secs(s.measured.wallMs)}, cpu ${s.measured.cpuSeconds.toFixed(1)} s${server}`);
      await c.after?.();
      samples.get(c.key)!.push(s);
      walls.get(c.key)!.push(s.measured.wallMs);
    }
  }
  const rows = new Map<string, ResultRow>();
  for (const c of cases) {
    const row = summarize(c, samples.get(c.key)!, failures.get(c.key));
    if (row) rows.set(c.key, row);
  }
  return { rows, failures, walls };
}

/**
 * a/b for each round where both ran. On a shared machine load comes in bursts: the two runs of
 * one round saw much the same machine, so these ratios show how far the medians can be trusted.
 */
export function pairedRatios(r: RoundsResult, a: string, b: string): number[] {
  const wa = r.walls.get(a) ?? [];
  const wb = r.walls.get(b) ?? [];
  const out: number[] = [];
  wa.forEach((x, i) => {
    const y = wb[i];
    if (x != null && y != null) out.push(x / y);
  });
  return out;
}
