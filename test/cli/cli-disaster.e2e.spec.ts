/**
 * Disaster recovery with the command line: an archive downloaded from the API is verified
 * and restored into a new, empty database with --create-schema while no Strongroom
 * database exists at all; schema and data come back the same as the source.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { queryRows } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { appTables, dumpData, seedAllTypes } from '../recovery/recovery-fixtures';
import { runCli } from './cli-process';
import { spawnSync } from 'node:child_process';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

async function schemaOf(db: TestDatabase): Promise<string> {
  if (db.engine === 'postgres') {
    const res = spawnSync('pg_dump', ['--schema-only', '--no-owner', `--dbname=${db.url}`], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(res.stderr);
    return res.stdout
      .split('\n')
      .filter((l) => !l.startsWith('--') && !l.startsWith('\\'))
      .join('\n');
  }
  const rows = await queryRows<{ sql: string }>(
    db,
    `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name`,
  );
  return rows.map((r) => r.sql).join(';\n');
}

describe.each(ENGINES)('CLI disaster recovery on %s', (engine) => {
  let t: TestApp;
  let source: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  // The service database is elsewhere; the CLI is pointed at a database that does not exist.
  const NO_SERVICE_DB = {
    DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
    BACKUP_DIR: '/nonexistent/strongroom',
    BACKUP_ENCRYPTION_KEYS: KEYRING,
  };

  beforeAll(async () => {
    dir = tempDir();
    source = await createTestDatabase(engine);
    await seedAllTypes(source);
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

  it('restores a downloaded archive into a new empty database: same schema, same data', async () => {
    const backup = await createBackup(t);
    expect(backup.status).toBe('completed');
    const archive = await download(backup.id as string);

    const verified = await runCli(['verify', archive], NO_SERVICE_DB);
    expect(verified.stderr).toMatch(/is sound/);
    expect(verified.code).toBe(0);

    const fresh = await createTestDatabase(engine);
    try {
      const refused = await runCli(['restore', archive, '--database-url', fresh.url, '--create-schema'], NO_SERVICE_DB);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/--yes/);

      const res = await runCli(
        ['restore', archive, '--database-url', fresh.url, '--create-schema', '--yes'],
        NO_SERVICE_DB,
      );
      expect(res.stderr).toMatch(/restored \d+ tables/);
      expect(res.code).toBe(0);
      expect(res.stderr).not.toContain('secret');
      expect(await schemaOf(fresh)).toEqual(await schemaOf(source));
      expect(await dumpData(fresh, appTables(fresh))).toEqual(await dumpData(source, appTables(source)));

      // A second --create-schema into the now non-empty database is refused and changes nothing.
      const again = await runCli(
        ['restore', archive, '--database-url', fresh.url, '--create-schema', '--yes'],
        NO_SERVICE_DB,
      );
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/empty database/);
    } finally {
      await fresh.drop();
    }
  });

  it('verify fails (exit 1) on a damaged archive and restore writes nothing; usage errors exit 2', async () => {
    const backup = await createBackup(t, { compression: 'none' });
    const archive = await download(backup.id as string);
    const bytes = readFileSync(archive);
    // Inside the first part's data, after its 512-byte tar header.
    bytes[700] ^= 0xff;
    const damaged = join(dir.path, 'damaged.tar');
    writeFileSync(damaged, bytes);
    const verified = await runCli(['verify', damaged], NO_SERVICE_DB);
    expect(verified.code).toBe(1);
    // The unpacker already checks each entry against the manifest's digests.
    expect(`${verified.stdout}${verified.stderr}`).toMatch(/not a valid Strongroom archive|NOT sound/);
    expect(verified.stderr).toMatch(/sha-?256|digest|checksum|mismatch/i);

    const fresh = await createTestDatabase(engine);
    try {
      const res = await runCli(
        ['restore', damaged, '--database-url', fresh.url, '--create-schema', '--yes'],
        NO_SERVICE_DB,
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/verification|not a valid/);
      expect(await tableCount(fresh)).toBe(0);
    } finally {
      await fresh.drop();
    }
    for (const args of [
      ['restore'],
      ['restore', archive, '--mode', 'sideways'],
      ['frobnicate'],
      ['backup', '--type', 'tables'],
    ]) {
      const res = await runCli(args, NO_SERVICE_DB);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
    }
  });
});

async function tableCount(db: TestDatabase): Promise<number> {
  if (db.engine === 'sqlite' && !existsSync(db.url.slice('sqlite:'.length))) return 0;
  const sql =
    db.engine === 'postgres'
      ? `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`
      : `SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`;
  return Number((await queryRows<{ n: number }>(db, sql))[0].n);
}
