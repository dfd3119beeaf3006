/**
 * Runs one tool as a child process and measures it the same way whatever it is: wall time,
 * and peak memory read from /proc while it runs. A tool may fork (pg_dump -j, pg_restore -j),
 * so every process in the child's tree is sampled; the peak reported is the sum of each
 * process's own high-water mark (VmHWM), an upper bound of the tree's real peak.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measured {
  wallMs: number;
  /** Sum over the process tree of each process's VmHWM, in bytes. */
  peakRssBytes: number;
  /** The largest single process's VmHWM, in bytes. */
  maxProcessRssBytes: number;
  processes: number;
  /** User + system CPU seconds of the tree, as last sampled (a child's final 50 ms may be missed). */
  cpuSeconds: number;
  stdout: string;
}

const SAMPLE_MS = 50;

/** Kernel clock ticks per second for /proc CPU times; 100 on every Linux we run on. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields resume after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // exited between listing and reading
  }
}

/**
 * CPU seconds spent so far by a process tree, including children it has already reaped. For
 * the PostgreSQL postmaster this covers backends that came and went (their time lands in its
 * cutime/cstime once reaped), so the difference of two readings is the server's work between them.
 */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of tree(root)) {
    const f = statFields(pid);
    // utime, stime, cutime, cstime: fields 14-17 of stat, i.e. 11-14 after the name.
    if (f) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLOCK_TICKS;
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = byParent.get(ppid) ?? [];
    list.push(Number(name));
    byParent.set(ppid, list);
  }
  return byParent;
}

function tree(root: number): number[] {
  const byParent = children();
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]) ?? []));
  return out;
}

function vmHwmBytes(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Spawns `cmd args`, samples its tree until it exits, and rejects with its stderr when it
 * fails. VmHWM only grows, so sampling every 50 ms misses at most a process's last 50 ms
 * (or a child that lives less than that), which is small against runs of seconds.
 */
export function runMeasured(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; label: string },
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const hwm = new Map<number, number>();
    const cpu = new Map<number, number>();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
    });
    const sample = () => {
      if (child.pid === undefined) return;
      for (const pid of tree(child.pid)) {
        const v = vmHwmBytes(pid);
        if (v !== null) hwm.set(pid, Math.max(hwm.get(pid) ?? 0, v));
        const f = statFields(pid);
        // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
        if (f) cpu.set(pid, (Number(f[11]) + Number(f[12])) / CLOCK_TICKS);
      }
    };
    const timer = setInterval(sample, SAMPLE_MS);
    sample();
    child.on('error', (err) => {
      clearInterval(timer);
      reject(new Error(`${opts.label}: could not start ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) {
        reject(
          new Error(
            `${opts.label} failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${stderr.trim().slice(-2000)}`,
          ),
        );
        return;
      }
      const values = [...hwm.values()];
      resolve({
        wallMs,
        peakRssBytes: values.reduce((a, b) => a + b, 0),
        maxProcessRssBytes: Math.max(0, ...values),
        processes: values.length,
        cpuSeconds: [...cpu.values()].reduce((a, b) => a + b, 0),
        stdout,
      });
    });
  });
}
