/**
 * A throwaway database of the same engine as the target, for deep verification: a
 * temporary SQLite file, or a temporary database created (and dropped) on the target's
 * PostgreSQL server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgDriver } from '../dialects/postgres/pg-driver';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createScratchDatabase(targetUrl: string): Promise<ScratchDatabase> {
  if (targetUrl.startsWith('sqlite:')) {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-scratch-'));
    return {
      url: `sqlite:${join(dir, 'scratch.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `strongroom_scratch_${randomBytes(6).toString('hex')}`;
  const admin = new (pgDriver().Client)({ connectionString: targetUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  } catch (e) {
    throw new Error(`cannot create a scratch database for deep verification (needs CREATEDB): ${(e as Error).message}`);
  } finally {
    await admin.end();
  }
  const u = new URL(targetUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new (pgDriver().Client)({ connectionString: targetUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
