/**
 * One isolated Strongroom installation for a trial family: its own database (a fresh SQLite
 * file, or a fresh database on the campaign's PostgreSQL cluster), storage directory,
 * file-artefact roots, keys and logs, all under one temp directory removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, Engine, tempDir, TestDatabase } from '../support/databases';
import { queryRows } from '../support/sample-data';
import { baseEnv, Env, request, RequestOptions, Server, startServer } from './service';
import { seedFiles } from './target';

export interface Instance {
  engine: Engine;
  label: string;
  dir: string;
  db: TestDatabase;
  backupDir: string;
  filesParent: string;
  roots: string[];
  adminKey: string;
  env: Env;
  logFile: string;
  boots: number;
  start(): Promise<Server>;
  api(server: Server, method: string, path: string, o?: RequestOptions): ReturnType<typeof request>;
  /** Backup directories in storage: name → whether it holds a manifest. */
  storedBackups(): Map<string, boolean>;
  catalog(): Promise<CatalogRow[]>;
  heldLeases(): Promise<{ name: string; owner: string; expires_at: string }[]>;
  /** Drops the database and the temp directory; `logCopy` keeps the service log. */
  dispose(logCopy?: string): Promise<void>;
}

export interface CatalogRow {
  id: string;
  status: string;
  trigger: string;
  storage_dir: string;
  created_at: string;
  error: string | null;
}

export async function createInstance(
  engine: Engine,
  label: string,
  opts: { files?: boolean; extraEnv?: Env } = {},
): Promise<Instance> {
  const tmp = tempDir(`strongroom-chaos-${label}-`);
  const db = await createTestDatabase(engine);
  const backupDir = join(tmp.path, 'storage');
  const filesParent = join(tmp.path, 'files');
  mkdirSync(backupDir, { recursive: true });
  mkdirSync(filesParent, { recursive: true });
  const roots = opts.files === false ? [] : seedFiles(filesParent);
  const adminKey = `chaos-admin-${randomBytes(12).toString('hex')}`;
  const env: Env = {
    ...baseEnv(tmp.path),
    DATABASE_URL: db.url,
    BACKUP_DIR: backupDir,
    ADMIN_API_KEY: adminKey,
    BACKUP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    ...(roots.length ? { BACKUP_FILE_PATHS: roots.join(',') } : {}),
    ...(opts.extraEnv ?? {}),
  };
  const logFile = join(tmp.path, 'service.log');
  const inst: Instance = {
    engine,
    label,
    dir: tmp.path,
    db,
    backupDir,
    filesParent,
    roots,
    adminKey,
    env,
    logFile,
    boots: 0,
    start() {
      inst.boots++;
      return startServer(env, tmp.path, logFile);
    },
    api: (server, method, path, o = {}) => request(server.base, method, path, { key: adminKey, ...o }),
    storedBackups() {
      const root = join(backupDir, 'backups');
      const out = new Map<string, boolean>();
      if (!existsSync(root)) return out;
      for (const d of readdirSync(root)) out.set(d, existsSync(join(root, d, 'manifest.json')));
      return out;
    },
    catalog: () =>
      queryRows<CatalogRow>(
        db,
        `SELECT id, status, "trigger", storage_dir, created_at, error FROM strongroom_backups ORDER BY created_at`,
      ),
    heldLeases: async () => {
      const now = new Date().toISOString();
      const rows = await queryRows<{ name: string; owner: string; expires_at: string }>(
        db,
        `SELECT name, owner, expires_at FROM strongroom_leases`,
      );
      return rows.filter((r) => r.expires_at > now);
    },
    async dispose(logCopy) {
      if (logCopy && existsSync(logFile)) copyFileSync(logFile, logCopy);
      await db.drop().catch(() => undefined);
      rmSync(tmp.path, { recursive: true, force: true });
    },
  };
  return inst;
}
