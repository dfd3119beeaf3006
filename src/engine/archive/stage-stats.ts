/**
 * Where a process's CPU goes, by stage of the part pipeline: an opt-in hook for the benchmark
 * (`STRONGROOM_STAGE_STATS=1`), so the next bottleneck is visible without a profiler.
 *
 * Each pipeline step (hashing, compressing, encrypting and their reverse) is timed exclusively:
 * a step that pushes synchronously into the next one hands the clock over and takes it back,
 * so no time is counted twice. Times are the step's own synchronous work on its thread, which
 * for the in-process steps (zstd, AES-GCM, SHA-256) is their CPU time. Each thread also reads
 * its own CPU time (/proc/thread-self), so the remainder of a thread (database protocol, event
 * loop, hand-off between threads, garbage collection) is known too.
 *
 * Off (the default), `timedStage` returns the step untouched: nothing runs per chunk.
 */
import { readFileSync } from 'node:fs';
import type { Transform } from 'node:stream';

export type Stage = 'hashing' | 'compressing' | 'decompressing' | 'encrypting' | 'decrypting';

/** Milliseconds of this thread's time per stage, plus its whole CPU time (null where /proc cannot say). */
export interface ThreadStats {
  stagesMs: Partial<Record<Stage, number>>;
  cpuMs: number | null;
}

let enabled = /^(1|true|on|yes)$/i.test(process.env.STRONGROOM_STAGE_STATS ?? '');

/** Whether steps built from now on are timed: the environment's say, unless set. */
export function stageStatsOn(): boolean {
  return enabled;
}

/**
 * Turns the timing on or off for steps built from now on. Part workers are told the main
 * thread's setting when they start (a worker's environment need not be the main thread's).
 */
export function enableStageStats(on: boolean): void {
  enabled = on;
}

const totalsNs = new Map<Stage, bigint>();
let current: Stage | null = null;
let since = 0n;

/** Charges the time since the last switch to the stage that had the clock, and hands it to `next`. */
function switchTo(next: Stage | null): Stage | null {
  const now = process.hrtime.bigint();
  const prev = current;
  if (prev) totalsNs.set(prev, (totalsNs.get(prev) ?? 0n) + (now - since));
  current = next;
  since = now;
  return prev;
}

function timed<A extends unknown[]>(stage: Stage, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    const prev = switchTo(stage);
    try {
      fn(...args);
    } finally {
      switchTo(prev);
    }
  };
}

/**
 * Runs `fn` with the clock stopped: for what a chain's last step hands on synchronously that is
 * not a stage (posting bytes to another thread), so it is not charged to that step.
 */
export function outsideStages(fn: () => void): void {
  if (!enabled || current === null) return fn();
  const prev = switchTo(null);
  try {
    fn();
  } finally {
    switchTo(prev);
  }
}

/** The step, its work charged to `stage` when stats are on; untouched when off. */
export function timedStage<T extends Transform>(stage: Stage, step: T): T {
  if (!enabled) return step;
  // Instance properties shadow the prototype's methods; `_read` too, because a step may resume
  // its work from there (the zstd decompressor does).
  const s = step as unknown as Record<'_transform' | '_flush' | '_read', ((...a: unknown[]) => void) | undefined>;
  for (const m of ['_transform', '_flush', '_read'] as const) {
    const fn = s[m];
    if (typeof fn === 'function') s[m] = timed(stage, fn.bind(step));
  }
  return step;
}

/** This thread's CPU time in ms (user + system), from /proc/thread-self; null off Linux. */
export function threadCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name; in clock ticks (100/s on Linux).
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** This thread's totals so far (cumulative: a worker sends them with every finished job). */
export function threadStats(): ThreadStats {
  const stagesMs: ThreadStats['stagesMs'] = {};
  for (const [stage, ns] of totalsNs) stagesMs[stage] = Number(ns) / 1e6;
  return { stagesMs, cpuMs: threadCpuMs() };
}

/** The latest cumulative totals of each part worker, by thread id. */
const workerTotals = new Map<number, ThreadStats>();

export function noteWorkerStats(threadId: number, stats: ThreadStats): void {
  workerTotals.set(threadId, stats);
}

/** What this process spent: its main thread, its part workers (summed), and its whole CPU. */
export interface ProcessStageStats {
  main: ThreadStats;
  workers: ThreadStats & { count: number };
  processCpuMs: number;
}

export function processStageStats(): ProcessStageStats {
  const workers: ProcessStageStats['workers'] = { stagesMs: {}, cpuMs: 0, count: workerTotals.size };
  for (const w of workerTotals.values()) {
    for (const [stage, ms] of Object.entries(w.stagesMs) as Array<[Stage, number]>)
      workers.stagesMs[stage] = (workers.stagesMs[stage] ?? 0) + ms;
    workers.cpuMs = w.cpuMs === null || workers.cpuMs === null ? null : workers.cpuMs + w.cpuMs;
  }
  const cpu = process.cpuUsage();
  return { main: threadStats(), workers, processCpuMs: (cpu.user + cpu.system) / 1000 };
}
