import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { LeaseService } from '../../src/database/lease.service';
import { TargetDatabase } from '../../src/backup/target-database';
import { ENGINES, tempDir } from '../support/databases';
import { createBackup, waitForBackup } from '../support/backup-helpers';
import { seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

describe.each(ENGINES)('backups over HTTP on %s', (engine) => {
  let t: TestApp;
  let files: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    files = tempDir();
    mkdirSync(join(files.path, 'uploads'));
    writeFileSync(join(files.path, 'uploads', 'a.bin'), randomBytes(5000));
    t = await createTestApp(engine, { BACKUP_ENCRYPTION_KEYS: KEYRING, BACKUP_FILE_PATHS: files.path });
    await seedSample(t.db);
  });
  afterAll(async () => {
    await t.close();
    files.remove();
  });
  const admin = () => ({ 'X-API-Key': t.adminKey });

  it('runs a full backup in the background and reports it completed with its contents', async () => {
    const res = await request(t.http)
      .post('/api/backups')
      .set('X-API-Key', t.keys.operator)
      .send({ description: 'nightly', tags: ['t1'] })
      .expect(202);
    expect(res.headers.location).toBe(`/api/backups/${res.body.id}`);
    expect(['pending', 'running']).toContain(res.body.status);
    const b = await waitForBackup(t, res.body.id);
    expect(b).toMatchObject({
      status: 'completed',
      type: 'full',
      trigger: 'manual',
      encrypted: true,
      keyId: 'k1',
      compression: 'zstd',
      description: 'nightly',
      tags: ['t1'],
      error: null,
    });
    const tables = (b.tables as { name: string; rows: number }[]).map((x) => [x.name, x.rows]);
    expect(tables).toEqual(
      expect.arrayContaining([
        ['projects', 20],
        ['tasks', 500],
      ]),
    );
    expect(tables.map(([n]) => n)).toContain('strongroom_audit_events');
    expect(tables.map(([n]) => n)).not.toContain('strongroom_backups');
    expect(b.files).toEqual({ count: 1, bytes: 5000 });
    expect(b.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(b.sizeBytes).toBeGreaterThan(0);
  });

  it('backs up chosen tables, or the audit trail alone, and rejects unknown tables naming them', async () => {
    const tb = await createBackup(t, { type: 'tables', tables: ['tasks'] });
    expect((tb.tables as { name: string }[]).map((x) => x.name)).toEqual(['tasks']);
    const au = await createBackup(t, { type: 'audit' });
    expect((au.tables as { name: string }[]).map((x) => x.name)).toEqual(['strongroom_audit_events']);
    const bad = await request(t.http)
      .post('/api/backups')
      .set(admin())
      .send({ type: 'tables', tables: ['tasks', 'nope'] })
      .expect(400);
    expect(bad.body.message).toMatch(/nope/);
    const none = await request(t.http).post('/api/backups').set(admin()).send({ type: 'tables' }).expect(400);
    expect(JSON.stringify(none.body.message)).toMatch(/tables/);
    const wrong = await request(t.http)
      .post('/api/backups')
      .set(admin())
      .send({ type: 'everything', compression: 'rar' })
      .expect(400);
    expect(JSON.stringify(wrong.body.message)).toMatch(/type/);
    expect(JSON.stringify(wrong.body.message)).toMatch(/compression/);
  });

  it('answers 409 while another backup or restore holds the lease', async () => {
    const leases = t.app.get(LeaseService);
    const target = t.app.get(TargetDatabase);
    const held = await leases.acquire(target.leaseName, 'other-host:1:abc');
    expect(held).not.toBeNull();
    try {
      const res = await request(t.http).post('/api/backups').set(admin()).send({}).expect(409);
      expect(res.body.message).toMatch(/another backup or restore/);
    } finally {
      if (held) await leases.release(held);
    }
  });

  it('verifies plainly and deeply, and records the verification', async () => {
    const b = await createBackup(t);
    const plain = await request(t.http)
      .post(`/api/backups/${b.id}/verify`)
      .set('X-API-Key', t.keys.operator)
      .send({})
      .expect(200);
    expect(plain.body.ok).toBe(true);
    expect(plain.body.checks.length).toBeGreaterThan(3);
    const deep = await request(t.http)
      .post(`/api/backups/${b.id}/verify`)
      .set('X-API-Key', t.keys.operator)
      .send({ deep: true })
      .expect(200);
    expect(deep.body.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(deep.body.checks.map((c: { name: string }) => c.name)).toContain('table tasks');
    const after = await request(t.http).get(`/api/backups/${b.id}`).set(admin()).expect(200);
    expect(after.body.verifiedAt).not.toBeNull();
  });

  it('downloads an archive that imports into another installation, and refuses corrupt ones', async () => {
    const b = await createBackup(t, { type: 'tables', tables: ['projects'] });
    const dl = await request(t.http)
      .get(`/api/backups/${b.id}/download`)
      .set(admin())
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(dl.headers['content-type']).toMatch(/application\/x-tar/);
    expect(dl.headers['content-disposition']).toMatch(/attachment/);
    const archive = dl.body as Buffer;

    const other = await createTestApp(engine, { BACKUP_ENCRYPTION_KEYS: KEYRING });
    try {
      const corrupt = Buffer.from(archive);
      // Inside the first entry's data (after its 512-byte tar header): a byte in tar padding would go unnoticed, rightly.
      corrupt[512 + 16] ^= 0xff;
      const bad = await request(other.http)
        .post('/api/backups/import')
        .set('X-API-Key', other.adminKey)
        .attach('file', corrupt, 'x.tar')
        .expect(422);
      expect(bad.body.message).toMatch(/archive/);
      const foreign = await request(other.http)
        .post('/api/backups/import')
        .set('X-API-Key', other.adminKey)
        .attach('file', Buffer.from('hello world'), 'x.tar')
        .expect(422);
      expect(foreign.body.statusCode).toBe(422);
      expect(
        readdirSync(join(other.config.BACKUP_DIR), { recursive: true }).filter((f) =>
          String(f).includes('quarantine/'),
        ),
      ).toEqual([]);
      const ok = await request(other.http)
        .post('/api/backups/import')
        .set('X-API-Key', other.adminKey)
        .attach('file', archive, 'x.tar');
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({ id: b.id, trigger: 'import', status: 'completed' });
      await request(other.http)
        .post('/api/backups/import')
        .set('X-API-Key', other.adminKey)
        .attach('file', archive, 'x.tar')
        .expect(409);
      const v = await request(other.http)
        .post(`/api/backups/${b.id}/verify`)
        .set('X-API-Key', other.adminKey)
        .send({ deep: true })
        .expect(200);
      expect(v.body.ok).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('edits, pins (admin only), refuses to delete pinned backups, and deletes', async () => {
    const b = await createBackup(t);
    await request(t.http)
      .patch(`/api/backups/${b.id}`)
      .set('X-API-Key', t.keys.operator)
      .send({ pinned: true })
      .expect(403);
    await request(t.http)
      .patch(`/api/backups/${b.id}`)
      .set('X-API-Key', t.keys.operator)
      .send({ description: 'keep', tags: ['x'] })
      .expect(200);
    await request(t.http).patch(`/api/backups/${b.id}`).set(admin()).send({ pinned: true }).expect(200);
    await request(t.http).delete(`/api/backups/${b.id}`).set(admin()).expect(409);
    await request(t.http).patch(`/api/backups/${b.id}`).set(admin()).send({ pinned: false }).expect(200);
    await request(t.http).delete(`/api/backups/${b.id}`).set(admin()).expect(204);
    await request(t.http).get(`/api/backups/${b.id}`).set(admin()).expect(404);
    expect(readdirSync(join(t.config.BACKUP_DIR, 'backups'))).not.toContain(b.id);
  });

  it('lists with filters and cursor, and reports stats', async () => {
    const page = await request(t.http).get('/api/backups?limit=2&status=completed').set(admin()).expect(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.nextCursor).not.toBeNull();
    const next = await request(t.http)
      .get(`/api/backups?limit=2&status=completed&cursor=${page.body.nextCursor}`)
      .set(admin())
      .expect(200);
    expect(next.body.items[0].id).not.toBe(page.body.items[1].id);
    const tagged = await request(t.http).get('/api/backups?tag=t1').set(admin()).expect(200);
    expect(tagged.body.items.every((b: { tags: string[] }) => b.tags.includes('t1'))).toBe(true);
    expect(tagged.body.items.length).toBeGreaterThan(0);
    const stats = await request(t.http).get('/api/backups/stats').set('X-API-Key', t.keys.auditor).expect(200);
    expect(stats.body.count).toBeGreaterThan(3);
    expect(stats.body.byStatus.completed).toBeGreaterThan(3);
    await request(t.http).get('/api/backups?status=lost').set(admin()).expect(400);
  });

  it('rebuilds catalog rows from storage, and flags rows whose manifest is gone', async () => {
    const b = await createBackup(t, { type: 'audit' });
    await t.dataSource.query(`DELETE FROM strongroom_backups WHERE id = '${b.id}'`);
    const scan = await request(t.http).post('/api/backups/rescan').set(admin()).expect(201);
    expect(scan.body.added).toContain(b.id);
    const back = await request(t.http).get(`/api/backups/${b.id}`).set(admin()).expect(200);
    expect(back.body).toMatchObject({ status: 'completed', checksum: b.checksum });
  });
});
