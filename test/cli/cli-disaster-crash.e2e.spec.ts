/**
 * The CLI's disaster restore of a full PostgreSQL backup killed while its loaders fill the
 * staging schemas (pg-staged-load.ts): nothing of the backup is visible in the target, the
 * staging schemas are all that is left, and the next restore drops them and completes.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, pgQuery, tempDir, type TestDatabase } from '../support/databases';
import { createTestApp, type TestApp } from '../support/test-app';
import { runCli, spawnCli } from './cli-process';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;
const NO_SERVICE_DB = {
  DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
  BACKUP_DIR: '/nonexistent/strongroom',
  BACKUP_ENCRYPTION_KEYS: KEYRING,
};
const STAGING = `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strongroom\\_restore\\_%' ORDER BY 1`;
/** Relations of the backup's schemas (staging schemas and the system's aside). */
const VISIBLE = `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND n.nspname NOT LIKE 'strongroom\\_restore\\_%'`;

describe('CLI disaster restore killed while its tables are staged (PostgreSQL)', () => {
  let t: TestApp;
  let source: TestDatabase;
  const dir = tempDir();

  beforeAll(async () => {
    source = await createTestDatabase('postgres');
    await pgQuery(
      source.url,
      `CREATE TYPE mood AS ENUM ('ok', 'sad');
       CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL, m mood NOT NULL);
       CREATE INDEX big_v ON big (v);
       INSERT INTO big SELECT g, md5(g::text), 'ok' FROM generate_series(1, 400000) g;
       CREATE TABLE small (id int PRIMARY KEY, big_id int REFERENCES big);
       INSERT INTO small SELECT g, g FROM generate_series(1, 1000) g;`,
    );
    t = await createTestApp('postgres', { TARGET_DATABASE_URL: source.url, BACKUP_ENCRYPTION_KEYS: KEYRING });
  });
  afterAll(async () => {
    await t.close();
    await source.drop();
    dir.remove();
  });

  it('leaves nothing visible, and the next restore drops the staging schemas and completes', async () => {
    const backup = await createBackup(t);
    expect(backup.status).toBe('completed');
    const archive = join(dir.path, 'backup.tar');
    await new Promise<void>((resolve, reject) => {
      request(t.http)
        .get(`/api/backups/${backup.id as string}/download`)
        .set('X-API-Key', t.adminKey)
        .pipe(createWriteStream(archive))
        .on('finish', resolve)
        .on('error', reject);
    });
    const target = await createTestDatabase('postgres');
    try {
      const args = ['restore', archive, '--database-url', target.url, '--create-schema', '--yes'];
      const cli = spawnCli(args, NO_SERVICE_DB);
      // Killed as soon as a staging schema holds a table: the loaders are at work.
      let staged = false;
      for (let i = 0; i < 2000 && !staged; i++) {
        const rows = await pgQuery<{ n: number }>(
          target.url,
          `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname LIKE 'strongroom\\_restore\\_%' AND c.relkind = 'r'`,
        );
        staged = rows[0].n > 0;
        if (!staged) await new Promise((r) => setTimeout(r, 5));
      }
      expect(staged).toBe(true);
      cli.child.kill('SIGKILL');
      expect((await cli.result).signal).toBe('SIGKILL');
      expect(await pgQuery(target.url, VISIBLE)).toEqual([{ n: 0 }]);
      expect((await pgQuery(target.url, STAGING)).length).toBeGreaterThan(0);

      const done = await runCli(args, NO_SERVICE_DB);
      expect(done.stderr).toMatch(/restored 2 tables/);
      expect(done.code).toBe(0);
      expect(await pgQuery(target.url, STAGING)).toEqual([]);
      const sums = `SELECT (SELECT count(*)::int FROM big) AS big, (SELECT sum(id)::int FROM small) AS small,
        (SELECT count(*)::int FROM big WHERE m = 'ok') AS ok`;
      expect(await pgQuery(target.url, sums)).toEqual(await pgQuery(source.url, sums));
    } finally {
      await target.drop();
    }
  });
});
