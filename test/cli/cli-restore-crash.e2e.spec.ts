/**
 * A restore killed mid-way (SIGKILL of the CLI at random moments while it writes) leaves
 * the target exactly as it was, and the next start marks the recovery failed. Afterwards a
 * restore still runs to completion. The kill moments are seeded and spread over the first
 * 250 ms of the restore (test/support/long-mode.ts); STRONGROOM_LONG_TESTS=1 kills more restores.
 */
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { rounds, spreadMoments, TEST_SEED } from '../support/long-mode';
import { execSql, queryRows } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { runCli, spawnCli } from './cli-process';

const ROWS = 300_000;
const TRIALS = rounds(2, 10);

async function fingerprint(db: TestDatabase): Promise<string> {
  const rows = await queryRows(
    db,
    `SELECT count(*) AS n, sum(id) AS ids, sum(length(v)) AS len, sum(CASE WHEN v = 'changed' THEN 1 ELSE 0 END) AS changed FROM big`,
  );
  return JSON.stringify(Object.values(rows[0]).map(Number));
}

describe.each(ENGINES)('CLI restore killed mid-way on %s', (engine) => {
  let db: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = tempDir();
    // One admin key across restarts: it is only adopted while no admin key exists.
    env = {
      DATABASE_URL: db.url,
      BACKUP_DIR: `${dir.path}/backups`,
      ADMIN_API_KEY: `crash-admin-${Date.now()}-0123456789abcdef`,
    };
  });
  afterAll(async () => {
    await db.drop();
    dir.remove();
  });

  it('leaves the target unchanged and a restart marks the recovery failed', async () => {
    const t = await createTestApp(engine, env, { db });
    let backupId: string;
    try {
      await execSql(db, [`CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`]);
      await execSql(db, [
        engine === 'postgres'
          ? `INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`
          : `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${ROWS}) INSERT INTO big SELECT g, hex(randomblob(16)) FROM s`,
      ]);
      backupId = (await createBackup(t)).id as string;
    } finally {
      await t.close();
    }
    const atBackup = await fingerprint(db);
    await execSql(db, [`UPDATE big SET v = 'changed' WHERE id % 3 = 0`, `DELETE FROM big WHERE id % 7 = 0`]);
    const before = await fingerprint(db);
    expect(before).not.toEqual(atBackup);

    let killedMidway = 0;
    const moments = spreadMoments(TRIALS, TEST_SEED);
    for (let trial = 0; trial < TRIALS; trial++) {
      const cli = spawnCli(['restore', backupId, '--yes'], env);
      await cli.stderrSeen(/: restoring/);
      await new Promise((r) => setTimeout(r, Math.floor(moments[trial] * 250)));
      cli.child.kill('SIGKILL');
      const result = await cli.result;
      const after = await fingerprint(db);
      if (result.signal === 'SIGKILL' && after === before) killedMidway++;
      // Never a mix: either nothing of the restore is visible, or (killed after commit) all of it.
      expect([before, atBackup]).toContain(after);
      if (after === atBackup)
        await execSql(db, [`UPDATE big SET v = 'changed' WHERE id % 3 = 0`, `DELETE FROM big WHERE id % 7 = 0`]);

      const restarted = await createTestApp(engine, env, { db });
      try {
        const list = await request(restarted.http)
          .get('/api/recoveries')
          .query({ limit: 1 })
          .set('X-API-Key', restarted.adminKey)
          .expect(200);
        const newest = list.body.items[0];
        if (result.signal === 'SIGKILL' && after === before) {
          expect(newest).toMatchObject({ backupId, status: 'failed', error: expect.stringMatching(/interrupted/) });
        }
        if (result.signal === 'SIGKILL' && after === atBackup) {
          // Killed after the restore committed: the proof its transaction left in the target makes it completed, not failed.
          expect(newest).toMatchObject({ backupId, status: 'completed', error: null });
        }
      } finally {
        await restarted.close();
      }
    }
    expect(killedMidway).toBeGreaterThan(0);

    // The target is still whole and writable: a restore now runs to its end.
    const done = await runCli(['restore', backupId, '--yes', '--no-safety-backup'], env);
    expect(done.stderr).toMatch(/completed/);
    expect(done.code).toBe(0);
    expect(await fingerprint(db)).toEqual(atBackup);
    // The command line acts as its operator (runAs in src/cli/commands.ts), not as the system.
    const [execute] = await queryRows<{ actor_name: string; actor_type: string }>(
      db,
      `SELECT actor_name, actor_type FROM strongroom_audit_events WHERE action = 'recovery.execute' ORDER BY seq DESC LIMIT 1`,
    );
    expect(execute).toMatchObject({ actor_type: 'system', actor_name: expect.stringMatching(/^cli:/) });
    if (engine === 'postgres') {
      // `big` (12 MB of rows) was loaded through a shadow table; whatever the kills left of those is gone now.
      const left = await queryRows(
        db,
        `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strongroom\\_restore\\_%'`,
      );
      expect(left).toEqual([]);
    }
    // Many child processes and two 300k-row restores: on a loaded 2-core machine this outlasts the default timeout.
  }, 400_000);
});
