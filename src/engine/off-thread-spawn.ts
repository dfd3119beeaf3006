/**
 * Runs a program to completion from a worker thread and hands back its exit status and output.
 *
 * Why: starting a child process forks this one, and fork copies the page tables of the whole
 * process: about 10 ms per 100 MB resident, during which the calling thread is blocked. The
 * service starts pg_dump for every PostgreSQL backup; from the main thread that stalled every API
 * request in flight for 20-60 ms each time. From this worker the main thread keeps serving.
 *
 * One worker per process, started on first use, kept only while a program runs (unref'd when
 * idle), replaced if it dies. Its code is inline: it needs nothing but node's own modules.
 */
import { Worker } from 'node:worker_threads';

export interface SpawnResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const running = new Map();
parentPort.on('message', (m) => {
  if (m.kill) return void running.get(m.id)?.kill('SIGTERM');
  let child;
  try {
    child = spawn(m.path, m.args, { env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return void parentPort.postMessage({ id: m.id, error: String(e && e.message) });
  }
  running.set(m.id, child);
  const out = [];
  const err = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  child.on('error', (e) => {
    if (running.delete(m.id)) parentPort.postMessage({ id: m.id, error: String(e && e.message) });
  });
  child.on('close', (code, signal) => {
    if (running.delete(m.id))
      parentPort.postMessage({ id: m.id, code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
  });
});
`;

interface Reply {
  id: number;
  error?: string;
  code?: number | null;
  signal?: NodeJS.Signals | null;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
}

interface Pending {
  resolve(r: SpawnResult): void;
  reject(e: Error): void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function failAll(err: Error): void {
  worker = null;
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function theWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_CODE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 64 } });
  w.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error !== undefined) return p.reject(new Error(m.error));
    p.resolve({
      code: m.code ?? null,
      signal: m.signal ?? null,
      stdout: Buffer.from(m.stdout ?? new Uint8Array()),
      stderr: Buffer.from(m.stderr ?? new Uint8Array()),
    });
  });
  w.on('error', (e) => failAll(new Error(`the process launcher thread failed: ${e.message}`)));
  w.on('exit', (code) => {
    if (worker === w) failAll(new Error(`the process launcher thread exited (${code})`));
  });
  worker = w;
  return w;
}

/**
 * Starts the launcher thread before its first program, so that its start (a thread and a V8
 * instance, 40-60 ms on two busy cores) overlaps the caller's own work instead of delaying the
 * program. Idle, it does not hold the process open.
 */
export function warmOffThreadSpawn(): void {
  const w = theWorker();
  if (pending.size === 0) w.unref();
}

/** Runs `path` with `args` and exactly `env`, collecting stdout and stderr; aborting `signal` sends SIGTERM. */
export function spawnOffThread(
  path: string,
  args: string[],
  env: Record<string, string | undefined>,
  signal?: AbortSignal,
): Promise<SpawnResult> {
  if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  const w = theWorker();
  const id = nextId++;
  return new Promise<SpawnResult>((resolve, reject) => {
    const onAbort = () => w.postMessage({ kill: true, id });
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    pending.set(id, {
      resolve: (r) => (done(), resolve(r)),
      reject: (e) => (done(), reject(e)),
    });
    w.ref();
    w.postMessage({ id, path, args, env });
  });
}
