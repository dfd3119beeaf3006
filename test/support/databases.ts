/**
 * Each test file makes its own databases: a fresh PostgreSQL database on the shared test
 * server, or a fresh SQLite file in a temp directory. Nothing is shared between tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: Engine[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  engine: Engine;
  url: string;
  drop(): Promise<void>;
}

export function pgServerUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error(
      "TEST_DATABASE_URL is not set: the integration project's global setup starts PostgreSQL (run through `npm test`; a spec in src/ that needs it is named *.int.spec.ts)",
    );
  return url;
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * A fresh database; `opts.template` copies another test database (schema and rows) instead of
 * an empty one: cheaper than replaying the same setup before every test. Nobody may be
 * connected to the template while it is copied.
 */
export async function createPgDatabase(prefix = 't', opts: { template?: TestDatabase } = {}): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: pgServerUrl() });
  await admin.connect();
  try {
    const template = opts.template
      ? ` TEMPLATE "${decodeURIComponent(new URL(opts.template.url).pathname.slice(1))}"`
      : '';
    await admin.query(`CREATE DATABASE "${name}"${template}`);
  } finally {
    await admin.end();
  }
  return {
    engine: 'postgres',
    url: withDatabase(pgServerUrl(), name),
    async drop() {
      const c = new Client({ connectionString: pgServerUrl() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export function createSqliteDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-sqlite-'));
  return {
    engine: 'sqlite',
    url: `sqlite:${join(dir, 'test.db')}`,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  return engine === 'postgres' ? createPgDatabase() : createSqliteDatabase();
}

export function tempDir(prefix = 'strongroom-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** One query on its own connection to a PostgreSQL database given by URL. */
export async function pgQuery<T extends object>(url: string, sql: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}
