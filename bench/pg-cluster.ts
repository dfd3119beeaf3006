/**
 * A throwaway PostgreSQL cluster for one benchmark run. Unlike the test cluster it keeps the
 * server's normal durability settings (fsync, synchronous_commit, full_page_writes on), so
 * numbers resemble a real server; every tool compared runs against this same cluster.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgBinDir, freePort, INSTALL_HINT } from '../test/support/postgres-server';

export interface BenchCluster {
  /** URL of the `postgres` maintenance database. */
  url: string;
  base: string;
  dataDir: string;
  binDir: string;
  port: number;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** initdb and the server refuse to run as root; as root they run as the `postgres` user. */
function run(cmd: string, args: string[]): void {
  const [c, a] = isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const res = spawnSync(c, a, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} failed (exit ${res.status}): ${res.stderr || res.stdout}`);
}

export async function startBenchCluster(): Promise<BenchCluster> {
  const binDir = findPgBinDir();
  if (!binDir) throw new Error(INSTALL_HINT);
  const base = mkdtempSync(join(tmpdir(), 'strongroom-bench-pg-'));
  chmodSync(base, 0o755);
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
  }
  const dataDir = join(base, 'data');
  run(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  // Only logging differs from the defaults: slow statements and checkpoints explain where restore time goes.
  const opts = [
    `-p ${port}`,
    `-k ${base}`,
    "-c listen_addresses='127.0.0.1'",
    '-c log_min_duration_statement=1000',
    '-c log_checkpoints=on',
  ].join(' ');
  run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-o', opts, '-l', join(base, 'server.log'), '-w', 'start']);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, base, dataDir, binDir, port };
}

/** The postmaster's pid, whose process tree is the whole server. */
export function postmasterPid(cluster: BenchCluster): number {
  return Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

export function stopBenchCluster(cluster: BenchCluster, opts: { keepLogAs?: string } = {}): void {
  try {
    run(join(cluster.binDir, 'pg_ctl'), ['-D', cluster.dataDir, '-m', 'fast', '-w', 'stop']);
    if (opts.keepLogAs) copyFileSync(join(cluster.base, 'server.log'), opts.keepLogAs);
  } finally {
    rmSync(cluster.base, { recursive: true, force: true });
  }
}

export function databaseUrl(cluster: BenchCluster, db: string): string {
  const u = new URL(cluster.url);
  u.pathname = `/${db}`;
  return u.toString();
}
