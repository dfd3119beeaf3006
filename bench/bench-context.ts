/** What the PostgreSQL and SQLite benchmark groups share: the run's settings and our own tools as child processes. */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { transpileTree } from '../test/support/transpile';
import { runMeasured, type Measured } from './measure';
import type { Goal, Report, ResultRow } from './report';
import type { Case, RoundsResult } from './rounds';

export const ROOT = resolve(__dirname, '..');
/**
 * Our tools run as plain JavaScript, as shipped (`dist/`), not under ts-node: compiling the
 * sources at every start costs about 2.3 s of CPU, which is not the product's.
 */
const BUILD = join(ROOT, '.bench-build');

/** Transpiles src and bench once per run into BUILD. */
export function buildOurTools(): void {
  transpileTree(['src', 'bench'], BUILD);
}

export interface Ctx {
  breakdown: boolean;
  /** Keep the work directory (dumps, backups, the server log) after the run. */
  keep: boolean;
  scale: number;
  seed: number;
  repeat: number;
  work: string;
  /** `id:base64` keyring of this run, passed to children by environment. */
  keys: string;
  rows: ResultRow[];
  goals: Goal[];
  failures: string[];
  loads: number[];
  datasets: Report['datasets'];
  postgres: string | null;
}

export function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, n) => a + sizeOf(join(path, n)), 0);
}

/** An entry of ours as a measured child process, compiled to JavaScript like `dist/` (see BUILD). */
export function ours(script: string, args: string[], keys: string, label: string): Promise<Measured> {
  return runMeasured(process.execPath, [join(BUILD, 'bench', script.replace(/\.ts$/, '.js')), ...args], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BACKUP_KEYS: keys },
    label,
  });
}

/** What our backup is asked to do; the variants beyond the first only explain where time goes. */
export interface Variant {
  label: string;
  compression: 'zstd' | 'none';
  encrypt: boolean;
  /** false: the part pipeline on the main thread (`--workers false`). */
  workers?: boolean;
}

export const MAIN_VARIANT: Variant = { label: 'zstd, AES-256-GCM', compression: 'zstd', encrypt: true };
export const BREAKDOWN_VARIANTS: Variant[] = [
  { label: 'zstd, no encryption', compression: 'zstd', encrypt: false },
  { label: 'no compression, no encryption', compression: 'none', encrypt: false },
  { label: 'zstd, AES-256-GCM, no worker threads', compression: 'zstd', encrypt: true, workers: false },
];

export interface OurBackup {
  measured: Measured;
  dir: string;
  bytes: number;
  rawBytes: number;
  encrypted: boolean;
  /** How the rows were archived: per-table rows, or a SQLite page image (and where its pages were read). */
  format?: string;
}

export async function ourBackup(ctx: Ctx, url: string, store: string, v: Variant): Promise<OurBackup> {
  const args = ['--url', url, '--store', store, '--parallel', '2', '--compression', v.compression];
  if (v.workers === false) args.push('--workers', 'false');
  const measured = await ours('our-backup.ts', args, v.encrypt ? ctx.keys : '', `our backup (${v.label})`);
  const out = JSON.parse(measured.stdout) as Omit<OurBackup, 'measured'>;
  if (out.encrypted !== v.encrypt)
    throw new Error(`our backup (${v.label}): encryption was ${out.encrypted ? 'on' : 'off'}, expected the opposite`);
  return { measured, ...out };
}

export async function query<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export const MIB_256 = 256 * 1024 * 1024;

/** Adds a group's rows and failed runs to the report. */
export function collect(ctx: Ctx, cases: Case[], r: RoundsResult): void {
  ctx.rows.push(...r.rows.values());
  for (const c of cases) for (const msg of r.failures.get(c.key) ?? []) ctx.failures.push(`${c.tool}: ${msg}`);
}
