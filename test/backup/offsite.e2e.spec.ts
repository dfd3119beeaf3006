/**
 * Offsite copies end to end on real storage: two s3rver instances on loopback (primary and
 * offsite; the offsite one behind a loopback TCP relay that can be cut), then two local
 * directories. Every completed backup is copied and verified; an unreachable offsite storage
 * is retried and, once the copy lags more than OFFSITE_MAX_LAG_HOURS, makes the status
 * unhealthy; a deleted or corrupted primary copy is restored, verified and downloaded from the
 * offsite copy, which says so; and the catalog can be rebuilt from the offsite storage alone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { partKey } from '../../src/engine/archive/part-io';
import { checkCopy } from '../../src/engine/backup/backup-copy';
import { readManifest } from '../../src/engine/backup/read-backup';
import { readAll } from '../../src/engine/storage/read-all';
import { S3Storage } from '../../src/engine/storage/s3-storage';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import type { BackupStorage } from '../../src/engine/storage/storage';
import { OffsiteCopier } from '../../src/offsite/offsite-copier.service';
import { createBackup } from '../support/backup-helpers';
import { tempDir } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { startS3Server, TestS3Server } from '../support/s3-server';
import { startRelay } from '../support/tcp-relay';
import { createTestApp, eventually, TestApp } from '../support/test-app';
import { auditActions, recover } from '../recovery/recovery-helpers';

type Body = Record<string, unknown>;

function s3Env(prefix: string, s3: TestS3Server, endpoint = s3.endpoint): Record<string, string> {
  return {
    [`${prefix}S3_BUCKET`]: s3.bucket,
    [`${prefix}S3_ENDPOINT`]: endpoint,
    [`${prefix}S3_REGION`]: s3.region,
    [`${prefix}S3_FORCE_PATH_STYLE`]: 'true',
    [`${prefix}S3_ACCESS_KEY_ID`]: s3.accessKeyId,
    [`${prefix}S3_SECRET_ACCESS_KEY`]: s3.secretAccessKey,
  };
}

function s3Storage(s3: TestS3Server, prefix: string): S3Storage {
  return new S3Storage({
    bucket: s3.bucket,
    prefix,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
}

const get = async (t: TestApp, id: string): Promise<Body> =>
  (await request(t.http).get(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(200)).body as Body;

/** Copies everything due now, and returns the backup as the API then shows it. */
async function copied(t: TestApp, id: string): Promise<Body> {
  await t.app.get(OffsiteCopier).drain();
  return get(t, id);
}

/** Flips one byte in the middle of the backup's first table part, keeping its size. */
async function corruptFirstTablePart(storage: BackupStorage, id: string): Promise<string> {
  const m = await readManifest(storage, `backups/${id}`);
  const part = m.tables[0].part ?? m.image?.parts[0];
  if (!part) throw new Error(`backup ${id} has no part to corrupt`);
  const name = part.name;
  const key = partKey(`backups/${id}`, name);
  const bytes = await readAll(await storage.get(key));
  bytes[bytes.length >> 1] ^= 0xff;
  await storage.put(key, Readable.from([bytes]));
  return name;
}

const taskCount = async (t: TestApp) =>
  Number((await queryRows<{ n: number }>(t.db, 'SELECT COUNT(*) AS n FROM tasks'))[0].n);

describe('offsite copies on two S3-compatible servers', () => {
  let primaryS3: TestS3Server;
  let offsiteS3: TestS3Server;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let primary: S3Storage;
  let offsite: S3Storage;
  let t: TestApp;

  beforeAll(async () => {
    [primaryS3, offsiteS3] = await Promise.all([startS3Server('primary'), startS3Server('offsite')]);
    relay = await startRelay(Number(new URL(offsiteS3.endpoint).port));
    t = await createTestApp('sqlite', {
      BACKUP_STORAGE: 's3',
      ...s3Env('', primaryS3),
      S3_PREFIX: 'main',
      OFFSITE_STORAGE: 's3',
      ...s3Env('OFFSITE_', offsiteS3, `http://127.0.0.1:${relay.port}`),
      OFFSITE_S3_PREFIX: 'copy',
      OFFSITE_MAX_LAG_HOURS: '24',
      OFFSITE_RETRY_BASE_SECONDS: '1',
      OFFSITE_RETRY_MAX_SECONDS: '1',
    });
    await seedSample(t.db, 300);
    primary = s3Storage(primaryS3, 'main');
    offsite = s3Storage(offsiteS3, 'copy');
  });
  afterAll(async () => {
    await t?.close();
    primary?.destroy();
    offsite?.destroy();
    await relay?.close();
    await Promise.all([primaryS3?.stop(), offsiteS3?.stop()]);
  });

  it('copies a completed backup offsite, verified, and reports its bytes', async () => {
    const b = await createBackup(t);
    expect(b.status).toBe('completed');
    expect(b.progress).toMatchObject({ bytesDone: b.sizeBytes, bytesTotal: b.sizeBytes, etaSeconds: null });
    const after = await copied(t, b.id as string);
    expect(after.offsite).toMatchObject({ status: 'copied', attempts: 1, error: null });
    expect(typeof (after.offsite as Body).at).toBe('string');
    // The copy is whole: every part matches the manifest's checksums, read from the offsite server itself.
    const check = await checkCopy(offsite, `backups/${b.id as string}`);
    expect(check.ok).toBe(true);
    const actions = await eventually(
      () => auditActions(t, b.id as string),
      (a) => a.includes('backup.offsite-copy'),
    );
    expect(actions).toContain('backup.offsite-copy');
    const status = await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
    expect(status.body.offsite).toMatchObject({ lagSeconds: 0, oldest: null });
  });

  it('retries while the offsite storage is down, is unhealthy once the copy lags too long, and recovers', async () => {
    relay.down();
    const b = await createBackup(t);
    const failed = await copied(t, b.id as string);
    expect(failed.offsite).toMatchObject({ status: 'failed' });
    expect((failed.offsite as Body).attempts).toBeGreaterThanOrEqual(1);
    expect((failed.offsite as Body).error).toEqual(expect.any(String));
    expect((failed.offsite as Body).nextAttemptAt).toEqual(expect.any(String));
    // Within OFFSITE_MAX_LAG_HOURS: still healthy.
    let status = await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
    expect(status.body.problems.filter((p: string) => p.includes('offsite'))).toEqual([]);
    // The backup finished 25 hours ago as far as the catalog knows: the lag passes 24 h.
    const past = new Date(Date.now() - 25 * 3600_000).toISOString();
    await t.dataSource.query(`UPDATE strongroom_backups SET finished_at = ? WHERE id = ?`, [past, b.id]);
    status = await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
    expect(status.body.healthy).toBe(false);
    expect(status.body.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`offsite copy lags more than OFFSITE_MAX_LAG_HOURS (24h): backup ${b.id as string}`),
      ]),
    );
    expect(status.body.offsite.lagSeconds).toBeGreaterThan(24 * 3600);
    const metrics = await request(t.http).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/strongroom_offsite_lag_seconds (\d+)/);
    expect(Number(/strongroom_offsite_lag_seconds (\d+)/.exec(metrics.text)![1])).toBeGreaterThan(24 * 3600);
    expect(Number(/strongroom_offsite_copy_failures (\d+)/.exec(metrics.text)![1])).toBeGreaterThanOrEqual(1);
    expect(metrics.text).toMatch(/strongroom_offsite_backups\{state="failed"\} 1/);

    relay.up();
    // The retry comes after the backoff (1 s here); the copier's own passes pick it up.
    const back = await eventually(
      () => copied(t, b.id as string),
      (x) => (x.offsite as Body).status === 'copied',
      30_000,
    );
    expect(back.offsite).toMatchObject({ status: 'copied', error: null, nextAttemptAt: null });
    expect((back.offsite as Body).attempts).toBeGreaterThanOrEqual(2);
    status = await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
    expect(status.body.problems.filter((p: string) => p.includes('offsite'))).toEqual([]);
    expect(status.body.healthy).toBe(true);
  });

  it('restores from the offsite copy when the primary copy is gone, and says so', async () => {
    const b = await createBackup(t);
    expect((await copied(t, b.id as string)).offsite).toMatchObject({ status: 'copied' });
    await primary.deletePrefix(`backups/${b.id as string}`);
    await execSql(t.db, ['DELETE FROM tasks WHERE id > 100']);
    expect(await taskCount(t)).toBe(100);

    const r = await recover(t, { backupId: b.id, tables: ['projects', 'tasks'], safetyBackup: false });
    expect(r.status).toBe('completed');
    expect(r.source).toBe('offsite');
    expect(r.note).toEqual(expect.stringContaining('restored from the offsite copy'));
    expect(await taskCount(t)).toBe(300);
    const actions = await eventually(
      () => auditActions(t, b.id as string),
      (a) => a.includes('backup.offsite-fallback'),
    );
    expect(actions).toContain('backup.offsite-fallback');

    const dl = await request(t.http)
      .get(`/api/backups/${b.id as string}/download`)
      .set('X-API-Key', t.adminKey);
    expect(dl.status).toBe(200);
    expect(dl.headers['x-strongroom-copy']).toBe('offsite');
  });

  it('verifies and restores from the offsite copy when the primary copy is corrupt', async () => {
    const b = await createBackup(t);
    expect((await copied(t, b.id as string)).offsite).toMatchObject({ status: 'copied' });
    const part = await corruptFirstTablePart(primary, b.id as string);

    const v = await request(t.http)
      .post(`/api/backups/${b.id as string}/verify`)
      .set('X-API-Key', t.keys.operator)
      .send({})
      .expect(200);
    expect(v.body).toMatchObject({ ok: true, source: 'offsite' });
    expect(v.body.primaryProblem).toContain(part);

    await execSql(t.db, ['DELETE FROM tasks WHERE id > 50']);
    const r = await recover(t, { backupId: b.id, tables: ['projects', 'tasks'], safetyBackup: false });
    expect(r.status).toBe('completed');
    expect(r.source).toBe('offsite');
    expect(r.note).toEqual(expect.stringContaining(part));
    expect(await taskCount(t)).toBe(300);
  });

  it('rebuilds the catalog from the offsite storage alone', async () => {
    const ids = (
      await request(t.http).get('/api/backups').query({ status: 'completed' }).set('X-API-Key', t.adminKey).expect(200)
    ).body.items.map((b: Body) => b.id as string);
    // A new deployment: empty catalog, an empty primary storage, the same offsite storage.
    const fresh = await createTestApp('sqlite', {
      BACKUP_STORAGE: 's3',
      ...s3Env('', primaryS3),
      S3_PREFIX: 'rebuilt',
      OFFSITE_STORAGE: 's3',
      ...s3Env('OFFSITE_', offsiteS3),
      OFFSITE_S3_PREFIX: 'copy',
    });
    try {
      const before = await request(fresh.http).get('/api/backups').set('X-API-Key', fresh.adminKey).expect(200);
      expect(before.body.items).toEqual([]);
      const rescan = await request(fresh.http)
        .post('/api/backups/rescan')
        .query({ from: 'offsite' })
        .set('X-API-Key', fresh.adminKey)
        .expect(201);
      expect([...rescan.body.added].sort()).toEqual([...ids].sort());
      const one = await get(fresh, ids[0]);
      expect(one).toMatchObject({ status: 'completed', offsite: { status: 'copied' } });
      // Its only copy is the offsite one: verification reads that one, and says so.
      const v = await request(fresh.http)
        .post(`/api/backups/${ids[0]}/verify`)
        .set('X-API-Key', fresh.keys.operator)
        .send({})
        .expect(200);
      expect(v.body).toMatchObject({ ok: true, source: 'offsite' });
      // A rescan of the (empty) primary storage keeps them: their offsite copy is there.
      const again = await request(fresh.http).post('/api/backups/rescan').set('X-API-Key', fresh.adminKey).expect(201);
      expect(again.body.missing).toEqual([]);
      expect([...again.body.offsiteOnly].sort()).toEqual([...ids].sort());
      await request(fresh.http)
        .post('/api/backups/rescan')
        .query({ from: 'elsewhere' })
        .set('X-API-Key', fresh.adminKey)
        .expect(400);
    } finally {
      await fresh.close();
    }
  });
});

describe('offsite copies between two local directories', () => {
  const dirs = tempDir('strongroom-offsite-');
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite', {
      BACKUP_DIR: join(dirs.path, 'primary'),
      OFFSITE_STORAGE: 'local',
      OFFSITE_DIR: join(dirs.path, 'offsite'),
    });
    await seedSample(t.db, 50);
  });
  afterAll(async () => {
    await t?.close();
    dirs.remove();
  });

  it('copies, falls back when the primary copy is gone, and deletes both copies', async () => {
    const b = await createBackup(t);
    const id = b.id as string;
    expect((await copied(t, id)).offsite).toMatchObject({ status: 'copied', attempts: 1 });
    const offsite = new LocalStorage(join(dirs.path, 'offsite'));
    expect((await checkCopy(offsite, `backups/${id}`)).ok).toBe(true);

    await new LocalStorage(join(dirs.path, 'primary')).deletePrefix(`backups/${id}`);
    const v = await request(t.http).post(`/api/backups/${id}/verify`).set('X-API-Key', t.keys.operator).send({});
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ ok: true, source: 'offsite' });
    expect(v.body.primaryProblem).toContain('manifest');

    await request(t.http).delete(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(204);
    expect(existsSync(join(dirs.path, 'offsite', 'backups', id))).toBe(false);
    expect(existsSync(join(dirs.path, 'primary', 'backups', id))).toBe(false);
  });

  it('copies a backup left without a copy by an earlier run when the service starts', async () => {
    const b = await createBackup(t);
    const id = b.id as string;
    await t.app.get(OffsiteCopier).drain();
    // As if the process had died before copying: no copy, state not yet set.
    await new LocalStorage(join(dirs.path, 'offsite')).deletePrefix(`backups/${id}`);
    await t.dataSource.query(
      `UPDATE strongroom_backups SET offsite_status = NULL, offsite_attempts = 0, offsite_at = NULL WHERE id = ?`,
      [id],
    );
    const second = await createTestApp(
      'sqlite',
      { BACKUP_DIR: join(dirs.path, 'primary'), OFFSITE_STORAGE: 'local', OFFSITE_DIR: join(dirs.path, 'offsite') },
      { db: t.db },
    );
    try {
      await second.app.get(OffsiteCopier).drain();
      expect((await get(second, id)).offsite).toMatchObject({ status: 'copied' });
      expect(existsSync(join(dirs.path, 'offsite', 'backups', id, 'manifest.json'))).toBe(true);
    } finally {
      await second.close();
    }
  });
});
