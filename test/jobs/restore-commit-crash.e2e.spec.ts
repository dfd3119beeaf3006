/**
 * A restore's final status is decided by whether its commit happened. A Strongroom process is
 * killed (SIGKILL) at a chosen point of a recovery; the next start reconciles it by asking
 * the target for the proof the restore's transaction left there:
 * - killed after the restore committed, before the catalog recorded it: `completed`, with a
 *   note, and the restored rows are in place;
 * - killed before the restore began: `failed`, and the tables hold what they held before.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { builtPath } from '../support/transpile';

const ROOT = resolve(__dirname, '../..');

interface Child {
  child: ChildProcess;
  /** Resolves with the recovery id once the child printed both "started <id>" and "hanging …". */
  hanging: Promise<string>;
}

function spawnRecovery(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [builtPath('test/support/recovery-child.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      SCHEDULER_ENABLED: 'false',
      DEFAULT_SCHEDULE_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hanging = new Promise<string>((res, rej) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const id = /started (\S+)/.exec(out)?.[1];
      if (id && out.includes('hanging ')) res(id);
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => rej(new Error(`child exited (${code}) before hanging: ${err}`)));
  });
  return { child, hanging };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function taskCount(db: TestDatabase): Promise<number> {
  return Number((await queryRows<{ n: number | string }>(db, 'SELECT count(*) AS n FROM tasks'))[0].n);
}

describe.each(ENGINES)('a recovery process killed around its commit on %s', (engine) => {
  let db: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  let backupId: string;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = tempDir();
    env = {
      DATABASE_URL: db.url,
      BACKUP_DIR: `${dir.path}/backups`,
      ADMIN_API_KEY: `commit-crash-admin-${Date.now()}-0123456789`,
      DEFAULT_SCHEDULE_ENABLED: 'false',
    };
    const t = await createTestApp(engine, env, { db });
    try {
      await seedSample(db, 500);
      backupId = (await createBackup(t)).id as string;
    } finally {
      await t.close();
    }
  });
  afterAll(async () => {
    await db.drop();
    dir.remove();
  });

  it('after the restore committed: the next start records it completed, with a note, and the rows are restored', async () => {
    await execSql(db, [`DELETE FROM tasks WHERE id % 2 = 0`]);
    expect(await taskCount(db)).toBe(250);
    const c = spawnRecovery({ ...env, RECOVER_BACKUP_ID: backupId, HANG_AT_AUDIT: 'recovery.completed' });
    const recoveryId = await c.hanging;
    await kill(c.child);
    // The restore committed before the kill: its rows are in, while the catalog still says running.
    expect(await taskCount(db)).toBe(500);
    const statusBefore = await queryRows<{ status: string }>(
      db,
      `SELECT status FROM strongroom_recoveries WHERE id = '${recoveryId}'`,
    );
    expect(statusBefore[0].status).toBe('running');

    const t = await createTestApp(engine, env, { db });
    try {
      const r = await request(t.http).get(`/api/recoveries/${recoveryId}`).set('X-API-Key', t.adminKey).expect(200);
      expect(r.body).toMatchObject({
        status: 'completed',
        error: null,
        note: expect.stringMatching(/restore committed.*the process running it stopped/),
      });
      const audit = await request(t.http)
        .get('/api/audit')
        .query({ resourceId: recoveryId, action: 'recovery.completed' })
        .set('X-API-Key', t.adminKey)
        .expect(200);
      expect(audit.body.items).toHaveLength(1);
      expect(audit.body.items[0].details).toMatchObject({ tablesCommitted: true });
      // The lease was freed: a backup runs.
      expect((await createBackup(t)).status).toBe('completed');
    } finally {
      await t.close();
    }
  }, 240_000);

  it('before the restore began: the next start records it failed, and the tables are as they were', async () => {
    await execSql(db, [`DELETE FROM tasks WHERE id % 5 = 0`]);
    expect(await taskCount(db)).toBe(400);
    // Stalls when its safety backup is recorded, before the restore transaction begins.
    const c = spawnRecovery({ ...env, RECOVER_BACKUP_ID: backupId, HANG_AT_AUDIT: 'backup.completed' });
    const recoveryId = await c.hanging;
    await kill(c.child);
    expect(await taskCount(db)).toBe(400);

    const t = await createTestApp(engine, env, { db });
    try {
      const r = await request(t.http).get(`/api/recoveries/${recoveryId}`).set('X-API-Key', t.adminKey).expect(200);
      expect(r.body).toMatchObject({
        status: 'failed',
        note: null,
        error: expect.stringMatching(/stopped before its restore committed.*hold what they held before/),
      });
      expect(await taskCount(db)).toBe(400);
      // Its safety backup was whole (its manifest was stored) though its end was never recorded.
      const safety = await request(t.http)
        .get('/api/backups')
        .query({ trigger: 'pre-restore' })
        .set('X-API-Key', t.adminKey)
        .expect(200);
      expect(safety.body.items.map((b: { status: string }) => b.status)).not.toContain('running');
    } finally {
      await t.close();
    }
  }, 240_000);
});
