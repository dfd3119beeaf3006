/**
 * `restore --dry-run` on the command line, with the engine alone, on both engines: it prints
 * the plan and each blocker, exits 1 when the restore would fail and 0 when nothing would stop
 * it, and writes nothing. The real restore of the same request writes nothing either.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { runCli } from './cli-process';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

describe.each(ENGINES)('CLI restore --dry-run on %s', (engine) => {
  let t: TestApp;
  let source: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  const NO_SERVICE_DB = {
    DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
    BACKUP_DIR: '/nonexistent/strongroom',
    BACKUP_ENCRYPTION_KEYS: KEYRING,
  };

  beforeAll(async () => {
    dir = tempDir();
    source = await createTestDatabase(engine);
    await execSql(source, [
      `CREATE TABLE owner_t (id INTEGER PRIMARY KEY)`,
      `CREATE TABLE pet_t (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner_t (id))`,
      `INSERT INTO owner_t VALUES (1), (2)`,
      `INSERT INTO pet_t VALUES (10, 1), (20, 2)`,
    ]);
    t = await createTestApp(engine, { TARGET_DATABASE_URL: source.url, BACKUP_ENCRYPTION_KEYS: KEYRING });
  });
  afterAll(async () => {
    await t.close();
    await source.drop();
    dir.remove();
  });

  async function download(id: string): Promise<string> {
    const file = join(dir.path, `${id}.tar`);
    const out = createWriteStream(file);
    await new Promise<void>((resolve, reject) => {
      request(t.http)
        .get(`/api/backups/${id}/download`)
        .set('X-API-Key', t.adminKey)
        .pipe(out)
        .on('finish', resolve)
        .on('error', reject);
    });
    return file;
  }

  const rows = async () =>
    JSON.stringify([
      await queryRows(source, 'SELECT * FROM owner_t ORDER BY 1'),
      await queryRows(source, 'SELECT * FROM pet_t ORDER BY 1'),
    ]);

  it('prints blockers and exits 1 when the restore would fail; the real restore writes nothing', async () => {
    const backup = await createBackup(t, { type: 'tables', tables: ['pet_t'] });
    const archive = await download(backup.id as string);
    await execSql(source, [`DELETE FROM pet_t WHERE id = 20`, `DELETE FROM owner_t WHERE id = 2`]);
    const before = await rows();

    const dry = await runCli(['restore', archive, '--database-url', source.url, '--dry-run'], NO_SERVICE_DB);
    expect(dry.stdout).toContain('pet_t: insert 1, update 0, delete 0, unchanged 1');
    expect(dry.stdout).toMatch(
      /BLOCKER foreign-key pet_t\.\S+: 1 restored row\(s\) of pet_t reference rows missing from owner_t.*\(e\.g\. \(owner_id\)=\(2\)\)/,
    );
    expect(dry.stderr).toMatch(/would fail: 1 blocker/);
    expect(dry.code).toBe(1);
    expect(await rows()).toEqual(before);

    const real = await runCli(['restore', archive, '--database-url', source.url, '--yes'], NO_SERVICE_DB);
    expect(real.code).toBe(1);
    expect(await rows()).toEqual(before);

    // Once the parent row is back, nothing stops it: exit 0, still nothing written.
    await execSql(source, [`INSERT INTO owner_t VALUES (2)`]);
    const ok = await runCli(['restore', archive, '--database-url', source.url, '--dry-run'], NO_SERVICE_DB);
    expect(ok.stderr).toMatch(/nothing would stop the restore/);
    expect(ok.code).toBe(0);
    expect(await queryRows(source, 'SELECT * FROM pet_t ORDER BY 1')).toHaveLength(1);
  });

  it('a missing table: the dry run names it, and the real restore is refused before writing', async () => {
    await execSql(source, [`CREATE TABLE lost_t (id INTEGER PRIMARY KEY)`, `INSERT INTO lost_t VALUES (1)`]);
    const backup = await createBackup(t, { type: 'tables', tables: ['lost_t', 'owner_t'] });
    const archive = await download(backup.id as string);
    await execSql(source, [`DROP TABLE lost_t`, `INSERT INTO owner_t VALUES (3)`]);
    const before = await rows();
    const dry = await runCli(
      ['restore', archive, '--database-url', source.url, '--allow-schema-mismatch', '--dry-run'],
      NO_SERVICE_DB,
    );
    expect(dry.stdout).toMatch(/BLOCKER missing-table lost_t: table lost_t does not exist in the target/);
    expect(dry.code).toBe(1);
    const real = await runCli(
      ['restore', archive, '--database-url', source.url, '--allow-schema-mismatch', '--yes'],
      NO_SERVICE_DB,
    );
    expect(real.stderr).toMatch(/nothing was written/);
    expect(real.code).toBe(1);
    expect(await rows()).toEqual(before);
  });

  it('--create-schema --dry-run into an empty database plans every row as an insert and creates nothing', async () => {
    const backup = await createBackup(t);
    const archive = await download(backup.id as string);
    const fresh = await createTestDatabase(engine);
    try {
      const dry = await runCli(
        ['restore', archive, '--database-url', fresh.url, '--create-schema', '--dry-run'],
        NO_SERVICE_DB,
      );
      expect(dry.stdout).toMatch(/owner_t: insert \d+, update 0, delete 0, unchanged 0/);
      expect(dry.stdout).not.toMatch(/BLOCKER/);
      expect(dry.code).toBe(0);
      const tables =
        engine === 'postgres'
          ? await queryRows(fresh, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
          : await queryRows(fresh, `SELECT name FROM sqlite_master WHERE type = 'table'`);
      expect(tables).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });
});
