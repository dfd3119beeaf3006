/**
 * Cancelling backups and recoveries, on both engines: a cancelled backup leaves nothing in
 * storage and ends `cancelled`; a restore cancelled before its commit leaves the target (tables
 * and file artefacts) exactly as it was; once committed a cancel is a 409 saying it is too late.
 * Cancels at random moments never leave a half backup or a half restore. A cancel recorded by
 * another instance (only in the catalog) reaches the job too. The moments are spread over one
 * job's duration by test/support/long-mode.ts (more of them with STRONGROOM_LONG_TESTS=1).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { BackupEntity } from '../../src/backup/backup.entity';
import { BackupsService } from '../../src/backup/backups.service';
import { runAs } from '../../src/common/request-scope';
import { JobCancelCatalog } from '../../src/backup/job-cancel-catalog';
import { BACKUP_STORAGE } from '../../src/backup/storage.provider';
import type { BackupStorage } from '../../src/engine/storage/storage';
import { RecoveriesService } from '../../src/recovery/recoveries.service';
import { RecoveryEntity } from '../../src/recovery/recovery.entity';
import { auditActions } from '../recovery/recovery-helpers';
import { createBackup } from '../support/backup-helpers';
import { ENGINES, tempDir } from '../support/databases';
import { rounds, spreadMoments, TEST_SEED } from '../support/long-mode';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';

// The requirement's ≥ 20 cancels of each kind run with STRONGROOM_LONG_TESTS=1; CI cancels at 5
// moments spread over a whole job (start, early, middle, late, around its end), seeded.
const ROUNDS = rounds(5, 20);

describe.each(ENGINES)('cancelling jobs on %s', (engine) => {
  let t: TestApp;
  let files: ReturnType<typeof tempDir>;
  let root: string;
  let storage: BackupStorage;
  let backups: BackupsService;
  let recoveries: RecoveriesService;
  const admin = () => ({ 'X-API-Key': t.adminKey });

  beforeAll(async () => {
    files = tempDir();
    root = join(files.path, 'uploads');
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'first');
    writeFileSync(join(root, 'docs', 'b.bin'), Buffer.alloc(3000, 7));
    t = await createTestApp(engine, { BACKUP_FILE_PATHS: root, DEFAULT_SCHEDULE_ENABLED: 'false' });
    await seedSample(t.db, 300);
    storage = t.app.get<BackupStorage>(BACKUP_STORAGE);
    backups = t.app.get(BackupsService);
    recoveries = t.app.get(RecoveriesService);
  });
  afterAll(async () => {
    await t?.close();
    files?.remove();
  });

  /** The tables' rows and the file tree (paths and contents), as one digest. */
  async function targetDigest(): Promise<string> {
    const h = createHash('sha256');
    for (const table of ['projects', 'tasks'])
      h.update(JSON.stringify(await queryRows(t.db, `SELECT * FROM ${table} ORDER BY id`)));
    const walk = (dir: string, rel: string) => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
        else h.update(`${rel}${name}\0`).update(readFileSync(p)).update('\0');
      }
    };
    walk(root, '');
    // Staged or old copies of a file restore live beside the root: none may be left behind.
    h.update(readdirSync(files.path).sort().join('/'));
    return h.digest('hex');
  }

  /** Changes tables and files, so that a restore has something to undo. */
  async function damage(round: number): Promise<void> {
    await execSql(t.db, [`UPDATE tasks SET title = 'round ${round}' WHERE id % 7 = ${round % 7}`]);
    writeFileSync(join(root, 'a.txt'), `round ${round}`);
    rmSync(join(root, `extra-${round - 1}.txt`), { force: true });
    writeFileSync(join(root, `extra-${round}.txt`), `extra ${round}`);
  }

  const partsOf = (id: string) => storage.list(`backups/${id}/`);

  /** Calls `then` once, right after storage first stores (put) or opens (get) a key matching `match`. */
  function onStorage(method: 'put' | 'get', match: RegExp, then: () => void): () => void {
    const original = storage[method].bind(storage) as (...a: unknown[]) => Promise<unknown>;
    let fired = false;
    (storage as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const result = await original(...args);
      if (!fired && match.test(args[0] as string)) {
        fired = true;
        then();
      }
      return result;
    };
    return () => void ((storage as unknown as Record<string, unknown>)[method] = original);
  }

  it('a backup cancelled mid-stream ends cancelled with no part left in storage, audited with who asked', async () => {
    let id = '';
    let answer: Promise<request.Response> | null = null;
    // Once its first part is stored: parts exist, and the cancel must take them away.
    const restore = onStorage('put', /\/parts\//, () => {
      answer = request(t.http)
        .post(`/api/backups/${id}/cancel`)
        .set('X-API-Key', t.keys.operator)
        .then((r) => r);
    });
    try {
      const started = await backups.start({ type: 'full', trigger: 'manual' });
      id = started.id;
      await backups.waitFor(id);
    } finally {
      restore();
    }
    expect(answer).not.toBeNull();
    expect((await answer!).status).toBe(202);
    const b = await request(t.http).get(`/api/backups/${id}`).set(admin()).expect(200);
    expect(b.body).toMatchObject({ status: 'cancelled', error: expect.stringMatching(/^cancelled by test-operator/) });
    expect(await partsOf(id)).toEqual([]);
    expect(await auditActions(t, id)).toEqual(expect.arrayContaining(['backup.cancel', 'backup.cancelled']));
    // Finished: a second cancel is a 409, and the list filter knows the status.
    await request(t.http).post(`/api/backups/${id}/cancel`).set(admin()).expect(409);
    const listed = await request(t.http).get('/api/backups?status=cancelled').set(admin()).expect(200);
    expect(listed.body.items.map((x: { id: string }) => x.id)).toContain(id);
  });

  it(`cancels backups at ${ROUNDS} random moments: each ends cancelled with nothing stored, or completed and whole`, async () => {
    const input = { type: 'tables' as const, tables: ['projects', 'tasks'], trigger: 'manual' as const };
    const timed = Date.now();
    await backups.waitFor((await backups.start(input)).id);
    const span = Math.max(5, Date.now() - timed);
    const seen = { cancelled: 0, completed: 0 };
    const moments = spreadMoments(ROUNDS, TEST_SEED);
    for (let i = 0; i < ROUNDS; i++) {
      const { id } = await backups.start(input);
      await new Promise((r) => setTimeout(r, moments[i] * span));
      const answer = await request(t.http).post(`/api/backups/${id}/cancel`).set(admin());
      await backups.waitFor(id);
      const b = await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id });
      const stored = (await partsOf(id)).map((o) => o.key.slice(`backups/${id}/`.length));
      if (answer.status === 202) {
        expect(b.status).toBe('cancelled');
        expect(stored).toEqual([]);
        seen.cancelled++;
      } else {
        expect(answer.status).toBe(409);
        expect(b.status).toBe('completed');
        // Whole: every part the manifest lists is there, and the manifest itself.
        expect(stored.sort()).toEqual(
          ['manifest.json', 'parts/schema.sql', ...b.tables.map((_t, n) => `parts/000${n + 1}.rows`)].sort(),
        );
        seen.completed++;
      }
    }
    expect(seen.cancelled + seen.completed).toBe(ROUNDS);
  });

  it('a restore cancelled mid-way (rows being written) rolls back: tables and files exactly as before', async () => {
    const backup = await createBackup(t, { type: 'full' });
    await damage(1);
    const before = await targetDigest();
    let id = '';
    // Once the restore opens a table's rows: its transaction is open and writing.
    const restore = onStorage(
      'get',
      /\.rows$/,
      () => void runAs(actor, () => recoveries.cancel(id)).catch(() => undefined),
    );
    try {
      const r = await recoveries.start({
        backupId: backup.id as string,
        mode: 'replace',
        tables: ['tasks'],
        files: true,
        confirm: `RESTORE ${backup.id as string}`,
        safetyBackup: false,
      });
      id = r.id;
      await recoveries.waitFor(id);
    } finally {
      restore();
    }
    const r = (await request(t.http).get(`/api/recoveries/${id}`).set(admin()).expect(200)).body;
    expect(r).toMatchObject({
      status: 'cancelled',
      error: expect.stringMatching(/^cancelled by tester before its commit/),
    });
    expect(await targetDigest()).toBe(before);
    expect(await auditActions(t, id)).toContain('recovery.cancelled');
  });

  it('after the commit a cancel is too late: 409 saying so', async () => {
    const backup = await createBackup(t, { type: 'tables', tables: ['projects'] });
    const res = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, mode: 'replace', confirm: `RESTORE ${backup.id as string}`, safetyBackup: false })
      .expect(202);
    await recoveries.waitFor(res.body.id);
    const late = await request(t.http).post(`/api/recoveries/${res.body.id}/cancel`).set(admin()).expect(409);
    expect(late.body.message).toMatch(/already committed its restore: it is too late to cancel/);
    // Operators may cancel backups, not recoveries.
    await request(t.http).post(`/api/recoveries/${res.body.id}/cancel`).set('X-API-Key', t.keys.operator).expect(403);
  });

  it('a cancel recorded by another instance (in the catalog only) stops the recovery and its safety backup', async () => {
    const backup = await createBackup(t, { type: 'full' });
    await damage(2);
    const before = await targetDigest();
    const r = await recoveries.start({
      backupId: backup.id as string,
      mode: 'replace',
      tables: ['tasks'],
      files: true,
      confirm: `RESTORE ${backup.id as string}`,
    });
    // What another instance does: record the request on the row; this instance has to find it.
    await t.app.get(JobCancelCatalog).request(RecoveryEntity, 'recovery', r.id, 'elsewhere', 'too late');
    await recoveries.waitFor(r.id);
    const done = await t.dataSource.getRepository(RecoveryEntity).findOneByOrFail({ id: r.id });
    expect(done).toMatchObject({ status: 'cancelled', cancelRequestedBy: 'elsewhere' });
    expect(await targetDigest()).toBe(before);
    if (done.safetyBackupId) {
      const safety = await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id: done.safetyBackupId });
      expect(['cancelled', 'completed']).toContain(safety.status);
    }
  });

  it(`cancels restores at ${ROUNDS} random moments: each ends cancelled with the target as before, or completed as the backup`, async () => {
    const backup = await createBackup(t, { type: 'full' });
    const spec = {
      backupId: backup.id as string,
      mode: 'replace' as const,
      tables: ['tasks'],
      files: true,
      confirm: `RESTORE ${backup.id as string}`,
      safetyBackup: false,
    };
    // The backup's state, and how long a restore takes here.
    const timed = Date.now();
    await recoveries.waitFor((await recoveries.start(spec)).id);
    const span = Math.max(5, Date.now() - timed);
    const restored = await targetDigest();
    const seen = { cancelled: 0, completed: 0 };
    const moments = spreadMoments(ROUNDS, TEST_SEED + 1);
    for (let i = 0; i < ROUNDS; i++) {
      await damage(100 + i);
      const before = await targetDigest();
      const { id } = await recoveries.start(spec);
      await new Promise((r) => setTimeout(r, moments[i] * span));
      const answer = await request(t.http).post(`/api/recoveries/${id}/cancel`).set(admin());
      await recoveries.waitFor(id);
      const r = (await request(t.http).get(`/api/recoveries/${id}`).set(admin()).expect(200)).body;
      const after = await targetDigest();
      if (answer.status === 202) {
        expect(r.status).toBe('cancelled');
        expect(after).toBe(before);
        seen.cancelled++;
      } else {
        expect(answer.status).toBe(409);
        expect(r.status).toBe('completed');
        // The damage undone, except the extra file this round added (a replace of the root removes it).
        expect(after).toBe(restored);
        seen.completed++;
      }
    }
    expect(seen.cancelled + seen.completed).toBe(ROUNDS);
  });
});

const actor = { type: 'system' as const, keyId: null, name: 'tester', role: null };
