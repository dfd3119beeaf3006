/**
 * Invariant 1 (commit point): a backup process killed at any moment never leaves a
 * `completed` backup without its manifest, and the next start marks the interrupted job
 * failed, removes its parts and frees the lease. Each engine kills backups at the moments that
 * differ (after the first part, before and after the manifest: test/support/backup-child.ts)
 * and at seeded moments spread over a backup; STRONGROOM_LONG_TESTS=1 adds many more of those
 * on a larger table.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { createTestDatabase, ENGINES, tempDir } from '../support/databases';
import { LONG_TESTS, rounds, spreadMoments, TEST_SEED } from '../support/long-mode';
import { execSql } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { createBackup } from '../support/backup-helpers';
import { builtPath } from '../support/transpile';

const ROOT = resolve(__dirname, '../..');
/** Where the child kills itself, and what the next start must make of that backup. */
const POINTS = [
  { at: 'first-part', status: 'failed' },
  { at: 'before-manifest', status: 'failed' },
  { at: 'after-manifest', status: 'completed' },
] as const;
const RANDOM_TRIALS = rounds(1, 20);
// The table only has to make a backup last long enough for kills at random moments to land
// inside it; the kill points above do not depend on its size.
const ROWS = LONG_TESTS ? 300_000 : 30_000;
const WINDOW_MS = LONG_TESTS ? 1500 : 500;
const TRIALS = POINTS.length + RANDOM_TRIALS;

function spawnBackup(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [builtPath('test/support/backup-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_ENV: 'test', LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the backup id once the child printed "started", i.e. its job is running. */
function started(child: ChildProcess): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /started (\S+)\n/.exec(out);
      if (m) res(m[1]);
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => rej(new Error(`child exited (${code}) before starting: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

describe.each(ENGINES)('a backup process killed at random points on %s', (engine) => {
  it(`never leaves a half backup that looks whole (${TRIALS} trials)`, async () => {
    // Each trial boots a child Strongroom process: slow on a loaded 2-core machine.
    const db = await createTestDatabase(engine);
    const store = tempDir();
    const env = {
      DATABASE_URL: db.url,
      BACKUP_DIR: store.path,
      ADMIN_API_KEY: `crash-test-admin-${Date.now()}-key`,
      BACKUP_COMPRESSION: 'gzip',
    };
    await execSql(db, [`CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)`]);
    await execSql(db, [
      engine === 'postgres'
        ? `INSERT INTO big SELECT g, md5(g::text) || repeat('payload', 40) FROM generate_series(1, ${ROWS}) g`
        : `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${ROWS}) INSERT INTO big SELECT g, hex(randomblob(16)) || printf('%.280c', 'p') FROM s`,
    ]);
    const kills: string[] = [];
    const expected = new Map<string, string>();
    try {
      for (const p of POINTS) {
        const child = spawnBackup({ ...env, BACKUP_KILL_AT: p.at });
        const id = await started(child);
        kills.push(p.at);
        await exited(child);
        // It reached its kill point (a backup that ended otherwise exits normally).
        expect({ at: p.at, signal: child.signalCode }).toEqual({ at: p.at, signal: 'SIGKILL' });
        expected.set(id, p.status);
      }
      for (const moment of spreadMoments(RANDOM_TRIALS, TEST_SEED)) {
        const child = spawnBackup(env);
        await started(child);
        const delay = Math.floor(moment * WINDOW_MS);
        kills.push(`${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
        // The backup may already have finished (and the child exited): then there is nothing to kill.
        const done = exited(child);
        child.kill('SIGKILL');
        await done;
      }
      // A restart: boot recovery runs, then everything must be consistent.
      const next = await createTestApp(engine, env, { db });
      try {
        const rows: { id: string; status: string; storage_dir: string }[] = await next.dataSource.query(
          `SELECT id, status, storage_dir FROM strongroom_backups`,
        );
        expect(rows).toHaveLength(TRIALS);
        for (const row of rows) {
          expect(['completed', 'failed']).toContain(row.status);
          if (expected.has(row.id))
            expect({ id: row.id, status: row.status }).toEqual({ id: row.id, status: expected.get(row.id) });
          const manifest = join(store.path, row.storage_dir, 'manifest.json');
          if (row.status === 'completed') {
            expect(existsSync(manifest)).toBe(true);
            const v = await request(next.http)
              .post(`/api/backups/${row.id}/verify`)
              .set('X-API-Key', next.adminKey)
              .send({})
              .expect(200);
            expect(v.body.ok).toBe(true);
          } else {
            expect(existsSync(join(store.path, row.storage_dir))).toBe(false);
          }
        }
        // Every directory left in storage is a whole backup.
        const dirs = existsSync(join(store.path, 'backups')) ? readdirSync(join(store.path, 'backups')) : [];
        for (const d of dirs) expect(existsSync(join(store.path, 'backups', d, 'manifest.json'))).toBe(true);
        // The lease was freed: a new backup starts and completes.
        const fresh = await createBackup(next, {});
        expect(fresh.status).toBe('completed');
      } finally {
        await next.close();
      }
    } catch (e) {
      throw new Error(`${(e as Error).message} (kills: ${kills.join(', ')}; seed ${TEST_SEED})`);
    } finally {
      await db.drop();
      store.remove();
    }
  }, 400_000);
});
