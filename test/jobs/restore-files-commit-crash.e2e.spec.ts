/**
 * Tables and file artefacts are one commit (src/recovery/file-commit.ts). A Strongroom process
 * restoring a full backup (tables and two file directories) is killed (SIGKILL) at each moment
 * around that commit; the next start settles it from the target's commit proof:
 * - before the commit (files staged, or the transaction under way): everything old, the
 *   recovery `failed`;
 * - after it (before the swap, or half-way through it): everything new, the recovery
 *   `completed` with a note;
 * and in every case no staged or old copy is left beside the directories and no lease is held.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { snapshotTree } from '../../src/engine/backup/file-archive.fixture';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { builtPath } from '../support/transpile';
import { waitForRecovery } from '../recovery/recovery-helpers';

const ROOT = resolve(__dirname, '../..');
const ROOTS = ['uploads', 'reports'];

function runKilled(
  env: Record<string, string>,
): Promise<{ recoveryId: string | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(process.execPath, [builtPath('test/support/recovery-kill-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_ENV: 'test', LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((res) =>
    child.on('close', (_code, signal) => res({ recoveryId: /started (\S+)/.exec(out)?.[1] ?? null, signal, out, err })),
  );
}

async function taskCount(db: TestDatabase): Promise<number> {
  return Number((await queryRows<{ n: number | string }>(db, 'SELECT count(*) AS n FROM tasks'))[0].n);
}

/** The state of the data: its tables and every file directory, as one comparable value. */
async function state(
  db: TestDatabase,
  dirs: string[],
): Promise<{ tasks: number; files: Array<Record<string, string>> }> {
  return { tasks: await taskCount(db), files: dirs.map((d) => snapshotTree(d)) };
}

describe.each(ENGINES)('a recovery of tables and files killed around its commit on %s', (engine) => {
  let db: TestDatabase;
  let base: ReturnType<typeof tempDir>;
  let dirs: string[];
  let env: Record<string, string>;
  let backupId: string;
  let atBackup: Awaited<ReturnType<typeof state>>;

  /** Moves tables and files away from the backup: the "old" state a restore replaces. */
  async function diverge(): Promise<Awaited<ReturnType<typeof state>>> {
    await execSql(db, [`DELETE FROM tasks WHERE id % 2 = 0`]);
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(join(d, 'docs'), { recursive: true });
      writeFileSync(join(d, 'version.txt'), 'current');
      writeFileSync(join(d, 'docs', 'added-later.txt'), 'later');
    }
    return state(db, dirs);
  }

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    base = tempDir();
    dirs = ROOTS.map((r) => join(base.path, 'files', r));
    for (const [i, d] of dirs.entries()) {
      mkdirSync(join(d, 'nested'), { recursive: true });
      writeFileSync(join(d, 'version.txt'), 'backed-up');
      writeFileSync(join(d, 'nested', `only-${i}.txt`), `root ${i}`.repeat(500));
    }
    env = {
      DATABASE_URL: db.url,
      BACKUP_DIR: join(base.path, 'backups'),
      BACKUP_FILE_PATHS: dirs.join(','),
      ADMIN_API_KEY: `files-commit-admin-${Date.now()}-0123456789`,
      DEFAULT_SCHEDULE_ENABLED: 'false',
    };
    const t = await createTestApp(engine, env, { db });
    try {
      await seedSample(db, 400);
      backupId = (await createBackup(t)).id as string;
    } finally {
      await t.close();
    }
    atBackup = await state(db, dirs);
    expect(atBackup.tasks).toBe(400);
  }, 240_000);
  afterAll(async () => {
    await db.drop();
    base.remove();
  });

  const points: Array<{ at: string; outcome: 'old' | 'new'; engines: string[] }> = [
    { at: 'staged', outcome: 'old', engines: ['sqlite', 'postgres'] },
    // SQLite's transaction hands out no token; its in-flight kill is covered by the chaos campaign.
    { at: 'in-transaction', outcome: 'old', engines: ['postgres'] },
    { at: 'committed', outcome: 'new', engines: ['sqlite', 'postgres'] },
    { at: 'mid-swap', outcome: 'new', engines: ['sqlite', 'postgres'] },
  ];

  for (const p of points.filter((x) => x.engines.includes(engine))) {
    it(`killed at "${p.at}": the next start leaves tables and files all ${p.outcome}, the status true, nothing staged, no lease`, async () => {
      const before = await diverge();
      expect(before).not.toEqual(atBackup);
      const killed = await runKilled({ ...env, RECOVER_BACKUP_ID: backupId, KILL_AT: p.at });
      expect({ signal: killed.signal, err: killed.err }).toEqual({ signal: 'SIGKILL', err: '' });
      const recoveryId = killed.recoveryId!;
      expect(recoveryId).toBeTruthy();

      // At the kill: the window this test is about is really open.
      const atKill = await state(db, dirs);
      expect(atKill.tasks).toBe(p.outcome === 'new' ? atBackup.tasks : before.tasks);
      expect(atKill.files[1]).toEqual(before.files[1]); // the second directory is never swapped in yet
      if (p.at === 'mid-swap') expect(atKill.files[0]).toEqual(atBackup.files[0]);
      expect(readdirSync(join(base.path, 'files')).some((n) => n.includes('.strongroom-'))).toBe(true);

      const t = await createTestApp(engine, env, { db });
      try {
        expect(await state(db, dirs)).toEqual(p.outcome === 'new' ? atBackup : before);
        expect(readdirSync(join(base.path, 'files')).sort()).toEqual([...ROOTS].sort());
        const r = await request(t.http).get(`/api/recoveries/${recoveryId}`).set('X-API-Key', t.adminKey).expect(200);
        if (p.outcome === 'new') {
          expect(r.body).toMatchObject({
            status: 'completed',
            error: null,
            note: expect.stringMatching(/restore committed.*file artefacts, staged before that commit, are swapped in/),
          });
        } else {
          expect(r.body).toMatchObject({
            status: 'failed',
            note: null,
            error: expect.stringMatching(/stopped before its restore committed.*and the file directories too/),
          });
        }
        expect(await queryRows(db, `SELECT name FROM strongroom_leases`)).toEqual([]);
        // And the next restore of the same data runs to its end.
        const again = await request(t.http)
          .post('/api/recoveries')
          .set('X-API-Key', t.adminKey)
          .send({ backupId, confirm: `RESTORE ${backupId}`, safetyBackup: false })
          .expect(202);
        const done = await waitForRecovery(t, again.body.id as string);
        expect(done).toMatchObject({ status: 'completed', error: null });
        expect(await state(db, dirs)).toEqual(atBackup);
        expect(readdirSync(join(base.path, 'files')).sort()).toEqual([...ROOTS].sort());
      } finally {
        await t.close();
      }
    }, 240_000);
  }
});
