/** What the PostgreSQL and SQLite benchmark groups share: the run's settings and our own tools as child processes. */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { transpileTree } from '../test/support/transpile';
import { runMeasured, type Measured } from './measure';
import type { ProcessStageStats } from '../src/engine/archive/stage-stats';
import type { Goal, Report, ResultRow } from './report';
import type { Case, RoundsResult } from './rounds';
import type { Shape } from './shapes';

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
  /**
   * Also measure the field's tools (pg_dump, pg_restore, SQLite's page copy); `--reference false`
   * runs ours alone, for a memory run at a larger scale, where only our peaks matter.
   */
  reference: boolean;
  /** Our tools report where their CPU went (STRONGROOM_STAGE_STATS); `--stage-stats false` turns it off. */
  stageStats: boolean;
  /** The shapes of this run, in order; rows, goals and datasets carry the shape they belong to. */
  shapes: Shape[];
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

/**
 * Node's flags for our tools: those `npm start` and the Docker image start the service with
 * (README, "Node's heap"). Without a larger starting old generation V8 marks its small heap over
 * and over during a restore (89 full collections in one restore of shape f instead of 12).
 */
const NODE_FLAGS = ['--initial-old-space-size=64'];

/** An entry of ours as a measured child process, compiled to JavaScript like `dist/` (see BUILD). */
export function ours(
  script: string,
  args: string[],
  keys: string,
  label: string,
  opts: { stageStats?: boolean } = {},
): Promise<Measured> {
  const stats = opts.stageStats ? { STRONGROOM_STAGE_STATS: '1' } : {};
  return runMeasured(process.execPath, [...NODE_FLAGS, join(BUILD, 'bench', script.replace(/\.ts$/, '.js')), ...args], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BACKUP_KEYS: keys, ...stats },
    label,
  });
}

/** The stage split our tool printed with its result line, when asked for one. */
export function stagesOf(m: Measured): ProcessStageStats | undefined {
  return (JSON.parse(m.stdout) as { stages?: ProcessStageStats }).stages;
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
  rows: number;
  encrypted: boolean;
  stages?: ProcessStageStats;
  /** How the rows were archived: per-table rows, or a SQLite page image (and where its pages were read). */
  format?: string;
  /** Tables archived, and of them in binary COPY (PostgreSQL, pg-copy-binary.ts). */
  tables?: { count: number; binary: number };
}

/** What a PostgreSQL backup's rows were archived as, for the results' note. */
export function copyFormatNote(b: OurBackup): string {
  if (!b.tables?.binary) return 'COPY text';
  if (b.tables.binary === b.tables.count) return 'binary COPY';
  return `binary COPY (${b.tables.binary} of ${b.tables.count} tables; the rest COPY text)`;
}

export async function ourBackup(
  ctx: Ctx,
  url: string,
  store: string,
  v: Variant,
  extra: string[] = [],
): Promise<OurBackup> {
  const args = ['--url', url, '--store', store, '--parallel', '2', '--compression', v.compression, ...extra];
  if (v.workers === false) args.push('--workers', 'false');
  const measured = await ours('our-backup.ts', args, v.encrypt ? ctx.keys : '', `our backup (${v.label})`, {
    stageStats: ctx.stageStats,
  });
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

/** Adds a group's rows (tagged with their shape) and failed runs to the report. */
export function collect(ctx: Ctx, shape: Shape, cases: Case[], r: RoundsResult): void {
  for (const row of r.rows.values()) ctx.rows.push({ ...row, shape: shape.id });
  const tag = ctx.shapes.length > 1 ? `shape ${shape.id}, ` : '';
  for (const c of cases) for (const msg of r.failures.get(c.key) ?? []) ctx.failures.push(`${tag}${c.tool}: ${msg}`);
}

/** Goals of one shape: tagged so the report can put them under it. */
export function pushGoals(ctx: Ctx, shape: Shape, goals: Goal[]): void {
  ctx.goals.push(...goals.map((g) => ({ ...g, shape: shape.id })));
}
