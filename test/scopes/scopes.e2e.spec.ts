/**
 * Scopes over HTTP, on SQLite (the engine-level proof covers both engines): a saved scope, a
 * scoped backup carrying its scope and member counts, refusals that name the field, a scoped
 * replace with a scope-only safety backup that restores the scope's files one by one (and no
 * other engagement's), the 409 for moved rows, a rollback, and a schedule of one scope.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { sampleData, sampleSchemaSql, writeSampleFiles } from '../../scripts/sample-app';
import { tempDir } from '../support/databases';
import { createBackup, waitForBackup } from '../support/backup-helpers';
import { execSql } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { recover, waitForRecovery } from '../recovery/recovery-helpers';

describe('scopes over HTTP on sqlite', () => {
  let t: TestApp;
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const files = tempDir();
  const file = (p: string) => join(files.path, p);

  beforeAll(async () => {
    t = await createTestApp('sqlite', { BACKUP_FILE_PATHS: files.path });
    const split = (sql: string) => sql.split(/;\s*\n/).filter((s) => s.trim());
    const data = sampleData('sqlite', { engagements: 3 });
    writeSampleFiles(files.path, data.files);
    await execSql(t.db, [...split(sampleSchemaSql('sqlite')), ...split(data.sql)]);
  });
  afterAll(async () => {
    await t.close();
    files.remove();
  });

  it('saves a scope, backs up one engagement with it, restores it exactly and rolls back', async () => {
    await request(t.http)
      .post('/api/scopes')
      .set(admin())
      .send({
        name: 'engagement',
        table: 'engagements',
        exclude: ['app_audit_log'],
        filesColumn: 'artefacts.storage_path',
      })
      .expect(201);
    await request(t.http)
      .post('/api/backups')
      .set('X-API-Key', t.keys.operator)
      .send({ type: 'scope', scope: { name: 'engagement', keys: [{ nope: 1 }] } })
      .expect(400)
      .expect((r) => expect(JSON.stringify(r.body.message)).toMatch(/scope\.keys\[0\]/));
    await request(t.http)
      .post('/api/backups')
      .set('X-API-Key', t.keys.operator)
      .send({ type: 'scope', scope: { table: 'no_such_table', keys: [{ id: 1 }] } })
      .expect(400)
      .expect((r) => expect(JSON.stringify(r.body.message)).toMatch(/scope\.table/));

    const backup = await createBackup(t, { type: 'scope', scope: { name: 'engagement', keys: [{ id: 'eng-0002' }] } });
    expect(backup).toMatchObject({
      status: 'completed',
      type: 'scope',
      scope: {
        name: 'engagement',
        table: 'engagements',
        members: { engagements: 1, sessions: 3, chat_messages: 12, workflow_runs: 2, artefacts: 4, approvals: 4 },
        context: { users: expect.any(Number) },
      },
    });
    expect(backup.files).toMatchObject({ count: 4 });
    await execSql(t.db, [`UPDATE chat_messages SET body = 'tampered' WHERE session_id = 4 AND seq = 1`]);
    const original = readFileSync(file('artefacts/eng-0002/report-5.txt'), 'utf8');
    writeFileSync(file('artefacts/eng-0002/report-5.txt'), 'tampered');
    writeFileSync(file('artefacts/eng-0001/report-1.txt'), 'changed in another engagement');
    const plan = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, dryRun: true })
      .expect(200);
    expect(plan.body.plan.tables).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'chat_messages', update: 1, delete: 0 })]),
    );
    expect(plan.body.plan.files).toEqual({
      write: [5, 6, 7, 8].map((n) => `artefacts/eng-0002/report-${n}.txt`),
      remove: [],
    });
    const done = await recover(t, {
      backupId: backup.id,
      mode: 'replace',
      scope: { name: 'engagement', keys: [{ id: 'eng-0002' }] },
    });
    expect(done).toMatchObject({
      status: 'completed',
      rowsWritten: 1,
      scope: { table: 'engagements', rows: { chat_messages: 1 } },
    });
    expect(readFileSync(file('artefacts/eng-0002/report-5.txt'), 'utf8')).toBe(original);
    expect(readFileSync(file('artefacts/eng-0001/report-1.txt'), 'utf8')).toBe('changed in another engagement');
    const safety = await request(t.http)
      .get(`/api/backups/${done.safetyBackupId as string}`)
      .set(admin())
      .expect(200);
    expect(safety.body).toMatchObject({
      type: 'scope',
      trigger: 'pre-restore',
      scope: { members: { chat_messages: 12 } },
    });

    // A wrong scope for this backup is a 400; a moved row a 409 naming it.
    await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, dryRun: true, scope: { table: 'engagements', keys: [{ id: 'eng-0001' }] } })
      .expect(400);
    await execSql(t.db, [`UPDATE sessions SET engagement_id = 'eng-0003' WHERE id = 4`]);
    await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, mode: 'replace', confirm: `RESTORE ${backup.id}` })
      .expect(409)
      .expect((r) => expect(JSON.stringify(r.body.message)).toMatch(/sessions \(id=4\)/));

    const rolled = await request(t.http)
      .post(`/api/recoveries/${done.id as string}/rollback`)
      .set(admin())
      .send({ confirm: `ROLLBACK ${done.id as string}` })
      .expect(202);
    expect(await waitForRecovery(t, rolled.body.id)).toMatchObject({ status: 'completed' });
    // The safety backup carried the scope's files as they were: the rollback brings the tampered one back.
    expect(readFileSync(file('artefacts/eng-0002/report-5.txt'), 'utf8')).toBe('tampered');
  });

  it('schedules a scope: refusals name the field, each run backs up the saved scope', async () => {
    const base = { name: 'one engagement', cron: '0 3 * * *', type: 'scope' };
    await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send(base)
      .expect(400)
      .expect((r) => expect(String(r.body.message)).toMatch(/scope: type "scope" needs a scope/));
    await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ ...base, scope: { name: 'nope', keys: [{ id: 'eng-0001' }] } })
      .expect(400)
      .expect((r) => expect(String(r.body.message)).toMatch(/scope\.name/));
    await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ ...base, type: 'full', scope: { name: 'engagement', keys: [{ id: 'eng-0001' }] } })
      .expect(400)
      .expect((r) => expect(String(r.body.message)).toMatch(/scope: only a schedule of type "scope"/));
    const s = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ ...base, scope: { name: 'engagement', keys: [{ id: 'eng-0001' }] } })
      .expect(201);
    expect(s.body.scope).toEqual({ name: 'engagement', keys: [{ id: 'eng-0001' }] });
    const run = await request(t.http).post(`/api/schedules/${s.body.id}/run`).set(admin()).expect(202);
    const done = await waitForBackup(t, run.body.id);
    expect(done).toMatchObject({
      status: 'completed',
      trigger: 'scheduled',
      scheduleId: s.body.id,
      scope: { name: 'engagement', keys: [{ id: 'eng-0001' }], members: { engagements: 1, sessions: 3 } },
    });
    const off = await request(t.http)
      .patch(`/api/schedules/${s.body.id}`)
      .set(admin())
      .send({ type: 'full' })
      .expect(200);
    expect(off.body.scope).toBeNull();
  });
});
