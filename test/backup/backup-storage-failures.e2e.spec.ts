/**
 * Backups on S3-compatible storage end to end, and a full disk: the failing backup leaves
 * nothing behind and every earlier backup stays intact and verifiable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { tempDir } from '../support/databases';
import { createBackup } from '../support/backup-helpers';
import { execSql, seedSample } from '../support/sample-data';
import { startS3Server, TestS3Server } from '../support/s3-server';
import { createTestApp, TestApp } from '../support/test-app';

describe('backups on S3-compatible storage (s3rver on loopback)', () => {
  let s3: TestS3Server;
  let t: TestApp;
  beforeAll(async () => {
    s3 = await startS3Server();
    t = await createTestApp('postgres', {
      BACKUP_STORAGE: 's3',
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_PREFIX: 'strongroom-test',
    });
    await seedSample(t.db, 2000);
  });
  afterAll(async () => {
    await t.close();
    await s3.stop();
  });

  it('writes, verifies deeply, downloads and deletes a backup in the bucket', async () => {
    const b = await createBackup(t);
    expect(b.status).toBe('completed');
    const v = await request(t.http)
      .post(`/api/backups/${b.id}/verify`)
      .set('X-API-Key', t.adminKey)
      .send({ deep: true })
      .expect(200);
    expect(v.body.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    const dl = await request(t.http).get(`/api/backups/${b.id}/download`).set('X-API-Key', t.adminKey).expect(200);
    expect(Number(dl.headers['content-length'] ?? dl.text.length)).toBeGreaterThan(0);
    const health = await request(t.http).get('/health').expect(200);
    expect(health.body.info.storage).toMatchObject({ status: 'up', kind: 's3' });
    await request(t.http).delete(`/api/backups/${b.id}`).set('X-API-Key', t.adminKey).expect(204);
    const rescan = await request(t.http).post('/api/backups/rescan').set('X-API-Key', t.adminKey).expect(201);
    expect(rescan.body.added).toEqual([]);
  });
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
// Mounting a small tmpfs needs root (CI runs as root); elsewhere this test is reported as skipped, not hidden.
(isRoot ? describe : describe.skip)('a full disk during a backup (2 MiB tmpfs)', () => {
  let mount: ReturnType<typeof tempDir>;
  let t: TestApp;
  beforeAll(async () => {
    mount = tempDir('strongroom-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount.path]);
    t = await createTestApp('sqlite', { BACKUP_DIR: join(mount.path, 'store'), BACKUP_COMPRESSION: 'none' });
    await seedSample(t.db, 100);
  });
  afterAll(async () => {
    await t.close();
    execFileSync('umount', [mount.path]);
    mount.remove();
  });

  it('fails the backup clearly, removes its parts, and keeps earlier backups intact', async () => {
    const small = await createBackup(t);
    expect(small.status).toBe('completed');
    // Several MB of incompressible rows: more than the disk holds.
    await execSql(t.db, [
      `CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)`,
      `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 3000) INSERT INTO blobs SELECT g, randomblob(2000) FROM s`,
    ]);
    const big = await createBackup(t);
    expect(big.status).toBe('failed');
    expect(big.error).toMatch(/ENOSPC|no space|disk full/i);
    expect(existsSync(join(mount.path, 'store', 'backups', String(big.id)))).toBe(false);
    const leftovers = readdirSync(join(mount.path, 'store'), { recursive: true })
      .map(String)
      .filter((f) => /tmp/.test(f));
    expect(leftovers).toEqual([]);
    const v = await request(t.http)
      .post(`/api/backups/${small.id}/verify`)
      .set('X-API-Key', t.adminKey)
      .send({ deep: true })
      .expect(200);
    expect(v.body.ok).toBe(true);
    // Space is back once the big table is gone: backups work again.
    await execSql(t.db, [`DROP TABLE blobs`]);
    expect((await createBackup(t)).status).toBe('completed');
  });
});
