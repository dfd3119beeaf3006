/**
 * Starts a throwaway PostgreSQL cluster for the test run: initdb into a temp directory,
 * listening on loopback only, on a free port. initdb refuses to run as root, so when we
 * are root the server runs as the `postgres` system user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with: ' +
  'sudo apt-get install -y postgresql-15 postgresql-client-15   (or set TEST_DATABASE_URL to a server you own)';

export interface PgCluster {
  url: string;
  dataDir: string;
  binDir: string;
  port: number;
}

export function findPgBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function asPostgresUser(cmd: string, args: string[]): { cmd: string; args: string[] } {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot ? { cmd: 'runuser', args: ['-u', 'postgres', '--', cmd, ...args] } : { cmd, args };
}

function run(cmd: string, args: string[]): void {
  const c = asPostgresUser(cmd, args);
  const res = spawnSync(c.cmd, c.args, { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new Error(`${cmd} failed (exit ${res.status}): ${res.stderr || res.stdout}`);
  }
}

export async function startPgCluster(): Promise<PgCluster> {
  const binDir = findPgBinDir();
  if (!binDir) throw new Error(INSTALL_HINT);
  const base = mkdtempSync(join(tmpdir(), 'strongroom-pg-'));
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
  }
  run(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    `-k ${base}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c shared_buffers=128MB',
  ].join(' ');
  run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-o', opts, '-l', join(base, 'server.log'), '-w', 'start']);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dataDir, binDir, port };
}

export function stopPgCluster(cluster: { dataDir: string; binDir: string }): void {
  try {
    run(join(cluster.binDir, 'pg_ctl'), ['-D', cluster.dataDir, '-m', 'immediate', '-w', 'stop']);
  } finally {
    rmSync(join(cluster.dataDir, '..'), { recursive: true, force: true });
  }
}
