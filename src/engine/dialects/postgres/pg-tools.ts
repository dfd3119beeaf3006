/**
 * Finds the PostgreSQL client programs (pg_dump, pg_restore, psql) whose major version
 * matches the server. A pg_dump of another major either refuses the server or emits DDL
 * the server may not accept, so a mismatch is an error that says what to install.
 */
import type * as ChildProcess from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

let execFilePromised:
  ((file: string, args: string[], opts: { timeout: number }) => Promise<{ stdout: string }>) | null = null;
/** child_process is loaded at the first ask (once): a restore never runs a client program. */
function execFileAsync(file: string, args: string[], opts: { timeout: number }): Promise<{ stdout: string }> {
  execFilePromised ??= promisify((require('node:child_process') as typeof ChildProcess).execFile);
  return execFilePromised(file, args, opts);
}

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql';

export interface PgToolLocation {
  path: string;
  major: number;
  version: string;
}

export interface FindPgToolOptions {
  /** Directories to search first (e.g. a configured PG_BIN_DIR). */
  extraDirs?: string[];
  /** Overrides the default search (`/usr/lib/postgresql/<major>/bin`, then PATH); for tests. */
  searchDirs?: string[];
}

/** `server_version_num` (150018) or a version string ("15.18 (Debian ...)") to its major. */
export function serverMajor(version: string | number): number {
  const n = typeof version === 'number' ? version : Number(version);
  if (Number.isInteger(n) && n >= 10000) return Math.floor(n / 10000);
  const m = /^(\d+)/.exec(String(version).trim());
  if (!m) throw new Error(`cannot read a PostgreSQL major version from "${version}"`);
  return Number(m[1]);
}

function defaultDirs(major: number): string[] {
  const root = '/usr/lib/postgresql';
  const versioned = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => (Number(a) === major ? -1 : Number(b) === major ? 1 : Number(b) - Number(a)))
        .map((v) => join(root, v, 'bin'))
    : [];
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...versioned, ...path];
}

type ToolVersion = { major: number; version: string } | null;

/**
 * Versions already asked, by path, valid while the file's mtime and size stay the same (a package
 * upgrade replaces the binary). Every backup looks its pg_dump up: spawning `--version` each time
 * cost a process start per backup, on the service's event loop too.
 */
const versions = new Map<string, { stamp: string; version: Promise<ToolVersion> }>();

function toolVersion(path: string): Promise<ToolVersion> {
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return Promise.resolve(null);
  }
  const hit = versions.get(path);
  if (hit && hit.stamp === stamp) return hit.version;
  const version = askVersion(path);
  const entry = { stamp, version };
  versions.set(path, entry);
  // A failed ask (a timeout on a loaded machine) is asked again next time.
  void version.then((v) => (v || versions.get(path) !== entry ? undefined : versions.delete(path)));
  return version;
}

async function askVersion(path: string): Promise<ToolVersion> {
  try {
    const { stdout } = await execFileAsync(path, ['--version'], { timeout: 30_000 });
    // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    const m = /\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!m) return null;
    return { major: Number(m[1]), version: m[2] ? `${m[1]}.${m[2]}` : m[1] };
  } catch {
    return null;
  }
}

/** The first `tool` of the server's major version; throws naming what to install otherwise. */
export async function findPgTool(tool: PgTool, major: number, opts: FindPgToolOptions = {}): Promise<PgToolLocation> {
  const dirs = [...(opts.extraDirs ?? []), ...(opts.searchDirs ?? defaultDirs(major))];
  const seen = new Set<string>();
  let other: PgToolLocation | null = null;
  for (const dir of dirs) {
    const path = join(dir, tool);
    if (seen.has(path) || !existsSync(path)) continue;
    seen.add(path);
    const v = await toolVersion(path);
    if (!v) continue;
    if (v.major === major) return { path, ...v };
    other ??= { path, ...v };
  }
  const pkg = `postgresql-client-${major}`;
  if (other) {
    const verb = tool === 'pg_dump' ? 'cannot dump' : 'does not match';
    throw new Error(
      `${tool} ${other.major} ${verb} a PostgreSQL ${major} server: install ${pkg} (found ${other.path})`,
    );
  }
  throw new Error(`${tool} was not found on PATH or in /usr/lib/postgresql/*/bin: install ${pkg}`);
}
