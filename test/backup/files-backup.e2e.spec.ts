/**
 * Files-only backups (`type: "files"`): the file artefacts (BACKUP_FILE_PATHS) alone, no
 * table rows; verified like any backup, and restorable alone with the usual dry run,
 * confirmation, safety backup (of the files) and rollback, never touching the tables.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { recover, waitForRecovery } from '../recovery/recovery-helpers';
import { createBackup } from '../support/backup-helpers';
import { ENGINES, tempDir } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';

describe.each(ENGINES)('files-only backups on %s', (engine) => {
  let t: TestApp;
  let files: ReturnType<typeof tempDir>;
  let root: string;
  const admin = () => ({ 'X-API-Key': t.adminKey });

  beforeAll(async () => {
    files = tempDir();
    root = join(files.path, 'uploads');
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'original');
    writeFileSync(join(root, 'docs', 'b.bin'), Buffer.alloc(2000, 3));
    t = await createTestApp(engine, { BACKUP_FILE_PATHS: root, DEFAULT_SCHEDULE_ENABLED: 'false' });
    await seedSample(t.db, 50);
  });
  afterAll(async () => {
    await t?.close();
    files?.remove();
  });

  function tree(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string, rel: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
        else out[`${rel}${name}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
      }
    };
    walk(root, '');
    return out;
  }
  const tasks = () => queryRows(t.db, 'SELECT * FROM tasks ORDER BY id');

  it('backs up the files alone, verifies, and restores them alone (dry run, confirmation, safety backup, rollback)', async () => {
    const original = tree();
    const b = await createBackup(t, { type: 'files' });
    expect(b).toMatchObject({
      type: 'files',
      status: 'completed',
      tables: [],
      rowCount: 0,
      files: { count: 2, bytes: 2008 },
    });
    const verified = await request(t.http)
      .post(`/api/backups/${b.id as string}/verify`)
      .set(admin())
      .send({})
      .expect(200);
    expect(verified.body.ok).toBe(true);

    // Damage files and tables; only the files may come back.
    writeFileSync(join(root, 'a.txt'), 'changed');
    rmSync(join(root, 'docs', 'b.bin'));
    writeFileSync(join(root, 'new.txt'), 'added later');
    await execSql(t.db, [`UPDATE tasks SET title = 'changed since' WHERE id <= 10`]);
    const damaged = tree();
    const tablesNow = await tasks();

    const plan = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: b.id, dryRun: true })
      .expect(200);
    expect(plan.body.plan).toMatchObject({ tables: [], blockers: [] });
    const unconfirmed = await request(t.http).post('/api/recoveries').set(admin()).send({ backupId: b.id }).expect(400);
    expect(unconfirmed.body.message).toMatch(/confirm/);
    expect(tree()).toEqual(damaged);

    const r = await recover(t, { backupId: b.id });
    expect(r).toMatchObject({ status: 'completed', tables: [] });
    expect(tree()).toEqual(original);
    expect(await tasks()).toEqual(tablesNow);
    const safety = await request(t.http)
      .get(`/api/backups/${r.safetyBackupId as string}`)
      .set(admin())
      .expect(200);
    expect(safety.body).toMatchObject({ type: 'files', trigger: 'pre-restore', status: 'completed' });

    const rollback = await request(t.http)
      .post(`/api/recoveries/${r.id as string}/rollback`)
      .set(admin())
      .send({ confirm: `ROLLBACK ${r.id as string}` })
      .expect(202);
    expect((await waitForRecovery(t, rollback.body.id)).status).toBe('completed');
    expect(tree()).toEqual(damaged);
    expect(await tasks()).toEqual(tablesNow);
  });
});
