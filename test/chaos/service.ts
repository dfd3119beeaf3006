/**
 * The service as an operator runs it: `node dist/main.js` and `node dist/cli.js` from the
 * build, each in its own working directory (so no developer `.env` leaks in), configured
 * only through the environment the campaign gives, listening on loopback.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { freePort } from '../support/postgres-server';

export const ROOT = resolve(__dirname, '../..');
export const MAIN = join(ROOT, 'dist/main.js');
export const CLI = join(ROOT, 'dist/cli.js');

export function assertBuilt(): void {
  if (!existsSync(MAIN) || !existsSync(CLI))
    throw new Error('dist/main.js or dist/cli.js is missing: run `npm run build` first (npm run test:chaos does)');
}

export type Env = Record<string, string>;

/** Every process the campaign started and that still runs, so an interrupted campaign leaves none behind. */
export const children = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killAllChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** What every process of one campaign instance shares; the caller adds DATABASE_URL etc. */
export function baseEnv(workDir: string): Env {
  return {
    PATH: process.env.PATH ?? '',
    HOME: workDir,
    NODE_ENV: 'production',
    // CHAOS_LOG_LEVEL=info keeps the request log (pino's responseTime: the service's own time per request).
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    SCHEDULER_ENABLED: 'false',
    DEFAULT_SCHEDULE_ENABLED: 'false',
    // The campaign measures correctness, not the rate limiter: it must not turn answers into 429s.
    THROTTLE_LIMIT: '100000000',
    THROTTLE_EXPENSIVE_LIMIT: '100000000',
    // Passed through for A/B runs of the latency campaign (pacing on or off).
    ...(process.env.BACKUP_YIELD_MAX_WAIT_MS ? { BACKUP_YIELD_MAX_WAIT_MS: process.env.BACKUP_YIELD_MAX_WAIT_MS } : {}),
    ...(process.env.BACKUP_WORKER_NICE ? { BACKUP_WORKER_NICE: process.env.BACKUP_WORKER_NICE } : {}),
  };
}

export interface Server {
  child: ChildProcess;
  port: number;
  base: string;
  exited: Promise<void>;
  /** SIGKILL, then wait for the process to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then wait. */
  stop(): Promise<void>;
  alive(): boolean;
}

function exitPromise(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
  });
}

/** Starts the server and resolves once GET /health answers (any status: the process is up and serving). */
export async function startServer(env: Env, cwd: string, logFile: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = exitPromise(child);
  const base = `http://127.0.0.1:${port}`;
  const server: Server = {
    child,
    port,
    base,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      if (server.alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (server.alive()) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
  // Bounded: 600 polls of 100 ms (a loaded 2-core machine can take a while to boot Nest).
  for (let i = 0; i < 600; i++) {
    if (!server.alive()) throw new Error(`server exited during boot (see ${logFile})`);
    try {
      await request(server.base, 'GET', '/health', {});
      return server;
    } catch {
      await sleep(100);
    }
  }
  await server.kill();
  throw new Error(`server did not answer /health within 60 s (see ${logFile})`);
}

export interface CliRun {
  child: ChildProcess;
  result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves when stderr matched (or the process ended first: then false). */
  seen(pattern: RegExp): Promise<boolean>;
}

export function spawnCli(args: string[], env: Env, cwd: string): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve(v: boolean): void }[] = [];
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(true);
      }
    }
  });
  const result = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (res) =>
      child.on('close', (code, signal) => {
        for (const w of waiters.splice(0)) w.resolve(false);
        res({ code, signal, stdout, stderr });
      }),
  );
  return {
    child,
    result,
    seen: (pattern) =>
      new Promise<boolean>((res) => {
        if (pattern.test(stderr)) return res(true);
        if (child.exitCode !== null || child.signalCode !== null) return res(false);
        waiters.push({ pattern, resolve: res });
      }),
  };
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Idle sockets are dropped after 4 s, before the service's keep-alive timeout (Node's default,
 * 5 s) closes them: otherwise a request sent on a socket the server is closing at that moment
 * fails with ECONNRESET, a race of the client's making (one in 3,049 requests of an open-loop run).
 */
export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });

export interface RequestOptions {
  key?: string;
  body?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
  agent?: http.Agent;
  timeoutMs?: number;
}

/** One HTTP request; rejects only on a network error or timeout (any status resolves). */
export function request(base: string, method: string, path: string, o: RequestOptions): Promise<HttpAnswer> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let payload: Buffer | undefined;
    if (o.raw !== undefined) payload = Buffer.isBuffer(o.raw) ? o.raw : Buffer.from(o.raw, 'utf8');
    else if (o.body !== undefined) {
      payload = Buffer.from(JSON.stringify(o.body));
      headers['content-type'] ??= 'application/json';
    }
    if (payload && headers['content-length'] === undefined) headers['content-length'] = String(payload.length);
    if (o.key) headers['x-api-key'] = o.key;
    const req = http.request(`${base}${path}`, { method, headers, agent: o.agent ?? false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('error', rej);
      r.on('end', () => {
        const body = Buffer.concat(chunks);
        res({ status: r.statusCode ?? 0, headers: r.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.setTimeout(o.timeoutMs ?? 60_000, () =>
      req.destroy(new Error(`timeout after ${o.timeoutMs ?? 60_000} ms: ${method} ${path}`)),
    );
    req.on('error', rej);
    if (payload) req.end(payload);
    else req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `fn` answers non-null; bounded by `tries` × `everyMs`. */
export async function poll<T>(fn: () => Promise<T | null>, tries: number, everyMs: number): Promise<T | null> {
  for (let i = 0; i < tries; i++) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    await sleep(everyMs);
  }
  return null;
}
