/**
 * Repeats the tools being compared in rotation (A B C, A B C, …) rather than back to back, so
 * a burst of load from other work on a shared machine hits every tool alike, and reports the
 * median wall and CPU, the highest peak memory, and the range of walls.
 */
import { loadavg } from 'node:os';
import type { Measured } from './measure';
import { secs, type ResultRow } from './report';

export interface Sample {
  measured: Measured;
  bytes: number | null;
  /** CPU seconds the PostgreSQL server spent meanwhile; null for SQLite. */
  serverCpuSeconds?: number | null;
  note?: string;
}

export interface Case {
  key: string;
  group: ResultRow['group'];
  tool: string;
  /** Untimed preparation before each run (e.g. a fresh target database). */
  setup?(): Promise<void>;
  run(): Promise<Sample>;
  /** Untimed checks and cleanup after each run; a failed check fails the benchmark. */
  after?(): Promise<void>;
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(c: Case, samples: Sample[]): ResultRow {
  const walls = samples.map((s) => s.measured.wallMs);
  const last = samples[samples.length - 1];
  return {
    group: c.group,
    tool: c.tool,
    wallMs: median(walls),
    wallMinMs: Math.min(...walls),
    wallMaxMs: Math.max(...walls),
    runs: samples.length,
    cpuSeconds: median(samples.map((s) => s.measured.cpuSeconds)),
    serverCpuSeconds: samples.some((s) => s.serverCpuSeconds == null) ? null : median(samples.map((s) => s.serverCpuSeconds as number)),
    bytes: last.bytes,
    peakRssBytes: Math.max(...samples.map((s) => s.measured.peakRssBytes)),
    maxProcessRssBytes: Math.max(...samples.map((s) => s.measured.maxProcessRssBytes)),
    processes: Math.max(...samples.map((s) => s.measured.processes)),
    note: last.note ?? '',
  };
}

/** Runs every case `repeat` times in rotation; returns one summarized row per case, by key. */
export async function runRounds(cases: Case[], repeat: number, loads: number[]): Promise<Map<string, ResultRow>> {
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.key, []]));
  for (let round = 1; round <= repeat; round++) {
    for (const c of cases) {
      await c.setup?.();
      loads.push(loadavg()[0]);
      log(`${c.tool} (run ${round}/${repeat}) …`);
      const s = await c.run();
      const server = s.serverCpuSeconds == null ? '' : `, server cpu ${s.serverCpuSeconds.toFixed(1)} s`;
      log(`${c.tool}: ${secs(s.measured.wallMs)}, cpu ${s.measured.cpuSeconds.toFixed(1)} s${server}`);
      await c.after?.();
      samples.get(c.key)!.push(s);
    }
  }
  return new Map(cases.map((c) => [c.key, summarize(c, samples.get(c.key)!)]));
}
