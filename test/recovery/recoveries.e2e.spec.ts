/**
 * Recoveries over HTTP against the real app on both engines: restores bring back the data
 * exactly as at the backup moment, modes do what they say, refusals write nothing, and a
 * failure leaves the target as it was.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { TargetDatabase } from '../../src/backup/target-database';
import { LeaseService } from '../../src/database/lease.service';
import { createBackup } from '../support/backup-helpers';
import { ENGINES, tempDir } from '../support/databases';
import { execSql } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { appTables, changeAllTypes, dumpData, items, ITEMS, keylessTable, seedAllTypes } from './recovery-fixtures';
import { auditActions, recover, waitForRecovery } from './recovery-helpers';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

describe.each(ENGINES)('recoveries over HTTP on %s', (engine) => {
  let t: TestApp;
  let files: ReturnType<typeof tempDir>;
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const operator = () => ({ 'X-API-Key': t.keys.operator });

  beforeAll(async () => {
    files = tempDir();
    mkdirSync(join(files.path, 'uploads'));
    writeFileSync(join(files.path, 'uploads', 'a.txt'), 'original');
    t = await createTestApp(engine, { BACKUP_ENCRYPTION_KEYS: KEYRING, BACKUP_FILE_PATHS: files.path });
    await seedAllTypes(t.db);
  });
  afterAll(async () => {
    await t.close();
    files.remove();
  });

  it('restores a full backup in replace mode: data, files and the audit trail as expected', async () => {
    const atBackup = await dumpData(t.db);
    const backup = await createBackup(t);
    await changeAllTypes(t.db);
    writeFileSync(join(files.path, 'uploads', 'a.txt'), 'changed');
    writeFileSync(join(files.path, 'uploads', 'b.txt'), 'new');
    // An audit event written after the backup: a replace restore must keep it.
    const key = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .send({ name: 'after-backup', role: 'auditor' })
      .expect(201);
    const changed = await dumpData(t.db);
    expect(changed).not.toEqual(atBackup);

    const res = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, confirm: `RESTORE ${backup.id}` })
      .expect(202);
    expect(res.headers.location).toBe(`/api/recoveries/${res.body.id}`);
    expect(res.body).toMatchObject({
      backupId: backup.id,
      mode: 'replace',
      status: expect.stringMatching(/pending|running/),
    });
    const r = await waitForRecovery(t, res.body.id);
    expect(r).toMatchObject({
      status: 'completed',
      error: null,
      options: { safetyBackup: true, files: true, allowSchemaMismatch: false },
    });
    expect(r.rowsWritten).toBeGreaterThan(0);
    expect(await dumpData(t.db)).toEqual(atBackup);
    expect(readFileSync(join(files.path, 'uploads', 'a.txt'), 'utf8')).toBe('original');
    expect(readdirSync(join(files.path, 'uploads'))).toEqual(['a.txt']);

    const safety = await request(t.http)
      .get(`/api/backups/${r.safetyBackupId as string}`)
      .set(admin())
      .expect(200);
    expect(safety.body).toMatchObject({ trigger: 'pre-restore', status: 'completed' });
    const events = await request(t.http)
      .get('/api/audit')
      .query({ action: 'api-key.create', limit: 200 })
      .set(admin())
      .expect(200);
    expect(events.body.items.map((e: { details: { body?: { name?: string } } }) => e.details.body?.name)).toContain(
      'after-backup',
    );
    expect(key.body.id).toEqual(expect.any(String));
    expect(await auditActions(t, r.id as string)).toEqual(
      expect.arrayContaining(['recovery.execute', 'recovery.completed']),
    );
    const chain = await request(t.http).get('/api/audit/verify').set(admin()).expect(200);
    expect(chain.body.ok).toBe(true);

    // Rollback brings back the state just before the recovery.
    const wrong = await request(t.http)
      .post(`/api/recoveries/${r.id as string}/rollback`)
      .set(admin())
      .send({ confirm: 'ROLLBACK please' })
      .expect(400);
    expect(wrong.body.message).toContain(`ROLLBACK ${r.id as string}`);
    const rb = await request(t.http)
      .post(`/api/recoveries/${r.id as string}/rollback`)
      .set(admin())
      .send({ confirm: `ROLLBACK ${r.id as string}` })
      .expect(202);
    expect(rb.body.rollbackOf).toBe(r.id);
    const done = await waitForRecovery(t, rb.body.id);
    expect(done.status).toBe('completed');
    expect(await dumpData(t.db)).toEqual(changed);
    expect(readFileSync(join(files.path, 'uploads', 'b.txt'), 'utf8')).toBe('new');
    const original = await request(t.http)
      .get(`/api/recoveries/${r.id as string}`)
      .set(admin())
      .expect(200);
    expect(original.body).toMatchObject({ status: 'rolled_back', rolledBackBy: rb.body.id });
  });

  it('plans a dry run with exact counts and writes nothing; operators may dry-run but not execute', async () => {
    await execSql(t.db, [`DELETE FROM ${ITEMS}`, `INSERT INTO ${ITEMS} VALUES (1, 'a'), (2, 'b'), (3, 'c')`]);
    const backup = await createBackup(t, { type: 'tables', tables: [ITEMS] });
    await execSql(t.db, [
      `UPDATE ${ITEMS} SET v = 'x' WHERE id = 1`,
      `DELETE FROM ${ITEMS} WHERE id = 2`,
      `INSERT INTO ${ITEMS} VALUES (4, 'd')`,
    ]);
    const before = await dumpData(t.db);
    const plan = (mode: string) =>
      request(t.http)
        .post('/api/recoveries')
        .set(operator())
        .send({ backupId: backup.id, mode, dryRun: true })
        .expect(200);
    expect((await plan('replace')).body).toEqual({
      plan: { tables: [{ name: ITEMS, insert: 1, update: 1, delete: 1, unchanged: 1 }], blockers: [], warnings: [] },
    });
    expect((await plan('merge')).body.plan.tables).toEqual([
      { name: ITEMS, insert: 1, update: 1, delete: 0, unchanged: 1 },
    ]);
    expect((await plan('missing-only')).body.plan.tables).toEqual([
      { name: ITEMS, insert: 1, update: 0, delete: 0, unchanged: 2 },
    ]);
    expect(await dumpData(t.db)).toEqual(before);
    await request(t.http)
      .post('/api/recoveries')
      .set(operator())
      .send({ backupId: backup.id, mode: 'missing-only' })
      .expect(403);
    await request(t.http)
      .post('/api/recoveries')
      .set('X-API-Key', t.keys.auditor)
      .send({ backupId: backup.id, dryRun: true })
      .expect(403);
  });

  it('merge and missing-only do what they say', async () => {
    await execSql(t.db, [`DELETE FROM ${ITEMS}`, `INSERT INTO ${ITEMS} VALUES (1, 'a'), (2, 'b'), (3, 'c')`]);
    const backup = await createBackup(t, { type: 'tables', tables: [ITEMS] });
    const diverge = [`DELETE FROM ${ITEMS}`, `INSERT INTO ${ITEMS} VALUES (1, 'x'), (3, 'c'), (4, 'd')`];
    await execSql(t.db, diverge);
    const merged = await recover(t, { backupId: backup.id, mode: 'merge', safetyBackup: false });
    expect(merged).toMatchObject({ status: 'completed', safetyBackupId: null, rowsWritten: 2 });
    expect(await items(t.db)).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    await execSql(t.db, diverge);
    // missing-only only adds rows, so it needs no confirmation phrase.
    const res = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, mode: 'missing-only' })
      .expect(202);
    expect((await waitForRecovery(t, res.body.id)).rowsWritten).toBe(1);
    expect(await items(t.db)).toEqual([
      [1, 'x'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    expect(await auditActions(t, merged.id as string)).toEqual(
      expect.arrayContaining(['recovery.execute', 'recovery.completed']),
    );
    const started = await request(t.http)
      .get('/api/audit')
      .query({ resourceId: merged.id, action: 'recovery.execute' })
      .set(admin())
      .expect(200);
    expect(started.body.items[0].details).toMatchObject({ safetyBackup: false, mode: 'merge' });
  });

  it('refuses without writing: wrong phrase, keyless merge, unknown tables, unknown or unfinished backups, a held lease', async () => {
    const backup = await createBackup(t);
    await changeAllTypes(t.db);
    const before = await dumpData(t.db);
    const post = (body: Record<string, unknown>) => request(t.http).post('/api/recoveries').set(admin()).send(body);

    for (const confirm of [undefined, 'RESTORE', `restore ${backup.id}`]) {
      const res = await post({ backupId: backup.id, mode: 'replace', confirm }).expect(400);
      expect(res.body.message).toContain(`"RESTORE ${backup.id}"`);
    }
    expect((await post({ backupId: backup.id, mode: 'merge' }).expect(400)).body.message).toContain(
      `RESTORE ${backup.id}`,
    );
    const keyless = await post({ backupId: backup.id, mode: 'merge', confirm: `RESTORE ${backup.id}` }).expect(400);
    expect(keyless.body.message).toContain(keylessTable(t.db));
    expect(keyless.body.message).toMatch(/no primary key/);
    const unknown = await post({ backupId: backup.id, tables: ['nope'], confirm: `RESTORE ${backup.id}` }).expect(400);
    expect(unknown.body.message).toMatch(/nope/);
    const bad = await post({ backupId: 'not-a-uuid', mode: 'sideways' }).expect(400);
    expect(JSON.stringify(bad.body.message)).toMatch(/backupId/);
    expect(JSON.stringify(bad.body.message)).toMatch(/mode/);
    await post({
      backupId: '00000000-0000-4000-8000-000000000000',
      confirm: 'RESTORE 00000000-0000-4000-8000-000000000000',
    }).expect(404);

    const leases = t.app.get(LeaseService);
    const held = await leases.acquire(t.app.get(TargetDatabase).leaseName, 'other-host:1:abc');
    try {
      const res = await post({ backupId: backup.id, confirm: `RESTORE ${backup.id}` }).expect(409);
      expect(res.body.message).toMatch(/another backup or restore/);
    } finally {
      if (held) await leases.release(held);
    }
    // A backup whose manifest vanished is flagged failed by a rescan and cannot be restored.
    const gone = await createBackup(t, { type: 'tables', tables: [ITEMS] });
    const { rmSync } = await import('node:fs');
    rmSync(join(t.config.BACKUP_DIR, 'backups', gone.id as string, 'manifest.json'));
    await request(t.http).post('/api/backups/rescan').set(admin()).expect(201);
    const notDone = await post({ backupId: gone.id, confirm: `RESTORE ${gone.id as string}` }).expect(409);
    expect(notDone.body.message).toMatch(/failed/);
    expect(await dumpData(t.db)).toEqual(before);
  });

  it('a schema mismatch is a 409 listing the differences, unless allowSchemaMismatch', async () => {
    await execSql(t.db, [`DELETE FROM ${ITEMS}`, `INSERT INTO ${ITEMS} VALUES (1, 'a'), (2, 'b')`]);
    const backup = await createBackup(t, { type: 'tables', tables: [ITEMS] });
    await execSql(t.db, [`ALTER TABLE ${ITEMS} ADD COLUMN note TEXT`, `UPDATE ${ITEMS} SET v = 'x'`]);
    try {
      const res = await request(t.http)
        .post('/api/recoveries')
        .set(admin())
        .send({ backupId: backup.id, confirm: `RESTORE ${backup.id}` })
        .expect(409);
      expect(res.body.message).toMatch(/note/);
      expect(res.body.differences).toEqual([
        expect.objectContaining({ table: ITEMS, kind: 'extra-column', column: 'note' }),
      ]);
      expect((await items(t.db)).map(([, v]) => v)).toEqual(['x', 'x']);
      const r = await recover(t, { backupId: backup.id, allowSchemaMismatch: true, safetyBackup: false });
      expect(r.status).toBe('completed');
      expect(await items(t.db)).toEqual([
        [1, 'a'],
        [2, 'b'],
      ]);
    } finally {
      await execSql(t.db, [`ALTER TABLE ${ITEMS} DROP COLUMN note`]);
    }
  });

  it('a corrupted part fails the recovery and leaves every table as it was', async () => {
    const backup = await createBackup(t, { compression: 'none', encrypt: false });
    await changeAllTypes(t.db);
    const before = await dumpData(t.db);
    // The last table's part is read last, after the others were written inside the transaction.
    const tables = backup.tables as { name: string }[];
    const partsDir = join(t.config.BACKUP_DIR, 'backups', backup.id as string, 'parts');
    const part = join(partsDir, `${String(tables.length).padStart(4, '0')}.rows`);
    const bytes = readFileSync(part);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(part, bytes);
    const r = await recover(t, { backupId: backup.id, safetyBackup: false });
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/sha-?256|checksum|digest|corrupt/i);
    expect(await dumpData(t.db)).toEqual(before);
    expect(await auditActions(t, r.id as string)).toEqual(
      expect.arrayContaining(['recovery.execute', 'recovery.failed']),
    );
  });

  it('a corrupted schema part fails the recovery before anything is written, though a replace never applies it', async () => {
    const backup = await createBackup(t, { compression: 'none', encrypt: false });
    await changeAllTypes(t.db);
    const before = await dumpData(t.db);
    const part = join(t.config.BACKUP_DIR, 'backups', backup.id as string, 'parts', 'schema.sql');
    const bytes = readFileSync(part);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(part, bytes);
    const r = await recover(t, { backupId: backup.id, safetyBackup: false });
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/schema\.sql.*(sha-?256|checksum|digest|corrupt)/i);
    expect(await dumpData(t.db)).toEqual(before);
  });

  it('lists recoveries newest first with a cursor', async () => {
    const page1 = await request(t.http)
      .get('/api/recoveries')
      .query({ limit: 2 })
      .set('X-API-Key', t.keys.auditor)
      .expect(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await request(t.http)
      .get('/api/recoveries')
      .query({ limit: 200, cursor: page1.body.nextCursor })
      .set(admin())
      .expect(200);
    const all = [...page1.body.items, ...page2.body.items] as { id: string; createdAt: string }[];
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(all.map((r) => r.createdAt)).toEqual([...all.map((r) => r.createdAt)].sort().reverse());
    expect(appTables(t.db).length).toBeGreaterThan(0);
  });
});
