/**
 * Scopes over HTTP, on SQLite (the engine-level proof covers both engines): a saved scope, a
 * scoped backup carrying its scope and member counts, refusals that name the field, a scoped
 * replace with a scope-only safety backup, the 409 for moved rows, and a rollback.
 */
import request from 'supertest';
import { sampleData, sampleSchemaSql } from '../../scripts/sample-app';
import { createBackup } from '../support/backup-helpers';
import { execSql } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { recover, waitForRecovery } from '../recovery/recovery-helpers';

describe('scopes over HTTP on sqlite', () => {
  let t: TestApp;
  const admin = () => ({ 'X-API-Key': t.adminKey });

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    const split = (sql: string) => sql.split(/;\s*\n/).filter((s) => s.trim());
    await execSql(t.db, [...split(sampleSchemaSql('sqlite')), ...split(sampleData('sqlite', { engagements: 3 }).sql)]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('saves a scope, backs up one engagement with it, restores it exactly and rolls back', async () => {
    await request(t.http)
      .post('/api/scopes')
      .set(admin())
      .send({ name: 'engagement', table: 'engagements', exclude: ['app_audit_log'] })
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
    await execSql(t.db, [`UPDATE chat_messages SET body = 'tampered' WHERE session_id = 4 AND seq = 1`]);
    const plan = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id, dryRun: true })
      .expect(200);
    expect(plan.body.plan.tables).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'chat_messages', update: 1, delete: 0 })]),
    );
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
  });
});
