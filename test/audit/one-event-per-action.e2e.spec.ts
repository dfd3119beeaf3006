import request from 'supertest';
import { AuditService, type AuditEventView } from '../../src/audit/audit.service';
import { waitForBackup } from '../support/backup-helpers';
import { ENGINES } from '../support/databases';
import { createTestApp, eventually, TestApp } from '../support/test-app';

/**
 * An auditor reads one event per action, carrying who (key, role), from where (IP, user
 * agent), under which request id, with what outcome and severity, and for changes the values
 * before and after. Services record their actions themselves (in the change's transaction)
 * with the request's context; the HTTP hook records only what no service did: refusals and
 * requests that failed before a service acted.
 */
describe.each(ENGINES)('one audit event per action on %s', (engine) => {
  let t: TestApp;
  let audit: AuditService;
  beforeAll(async () => {
    t = await createTestApp(engine);
    audit = t.app.get(AuditService);
  });
  afterAll(async () => {
    await t.close();
  });

  const UA = 'audit-test/1.0';
  /** The events of one request, once the hook (which writes after the response) has had its turn. */
  async function eventsOf(requestId: string, atLeast = 1): Promise<AuditEventView[]> {
    await eventually(
      async () => (await audit.list({}, 500)).items.filter((e) => e.requestId === requestId),
      (found) => found.length >= atLeast,
    );
    // A second event would come from the hook after the response: give it the time to show.
    await new Promise((r) => setTimeout(r, 200));
    return (await audit.list({}, 500)).items.filter((e) => e.requestId === requestId);
  }

  it('a backup request is one backup.create with the request context; its job events share the request id', async () => {
    const res = await request(t.http)
      .post('/api/backups')
      .set('X-API-Key', t.keys.operator)
      .set('X-Request-Id', `${engine}-create-1`)
      .set('User-Agent', UA)
      .send({ description: 'one event' })
      .expect(202);
    await waitForBackup(t, res.body.id as string);
    const events = await eventsOf(`${engine}-create-1`, 2);
    const creates = events.filter((e) => e.action === 'backup.create');
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({
      resource: 'backup',
      resourceId: res.body.id,
      outcome: 'success',
      severity: 'info',
      userAgent: UA,
      actor: { type: 'api-key', role: 'operator' },
    });
    expect(creates[0].ip).toEqual(expect.any(String));
    // The job's own end is a lifecycle event of the same request, not a second record of the action.
    expect(events.map((e) => e.action).sort()).toEqual(['backup.completed', 'backup.create']);
  });

  it('verify, pin and unpin: one event each, pinning with before and after', async () => {
    const res = await request(t.http).post('/api/backups').set('X-API-Key', t.keys.operator).send({}).expect(202);
    const id = res.body.id as string;
    await waitForBackup(t, id);

    await request(t.http)
      .post(`/api/backups/${id}/verify`)
      .set('X-API-Key', t.keys.operator)
      .set('X-Request-Id', `${engine}-verify-1`)
      .send({})
      .expect(200);
    const verify = await eventsOf(`${engine}-verify-1`);
    expect(verify).toHaveLength(1);
    expect(verify[0]).toMatchObject({ action: 'backup.verify', outcome: 'success', details: { deep: false } });

    await request(t.http)
      .patch(`/api/backups/${id}`)
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-pin-1`)
      .send({ pinned: true })
      .expect(200);
    const pin = await eventsOf(`${engine}-pin-1`);
    expect(pin).toHaveLength(1);
    expect(pin[0]).toMatchObject({
      action: 'backup.update',
      actor: { role: 'admin' },
      details: { before: { pinned: false }, after: { pinned: true } },
    });
  });

  it('schedule edits carry before and after; deleting one is critical', async () => {
    const created = await request(t.http)
      .post('/api/schedules')
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-sched-1`)
      .send({ name: 'audited', cron: '0 3 * * *' })
      .expect(201);
    expect((await eventsOf(`${engine}-sched-1`)).map((e) => e.action)).toEqual(['schedule.create']);

    await request(t.http)
      .patch(`/api/schedules/${created.body.id}`)
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-sched-2`)
      .send({ cron: '0 4 * * *', retention: { daily: 3 } })
      .expect(200);
    const update = await eventsOf(`${engine}-sched-2`);
    expect(update).toHaveLength(1);
    expect(update[0]).toMatchObject({
      action: 'schedule.update',
      details: { before: { cron: '0 3 * * *' }, after: { cron: '0 4 * * *', retention: { daily: 3 } } },
    });

    await request(t.http)
      .delete(`/api/schedules/${created.body.id}`)
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-sched-3`)
      .expect(204);
    const del = await eventsOf(`${engine}-sched-3`);
    expect(del).toHaveLength(1);
    expect(del[0]).toMatchObject({
      action: 'schedule.delete',
      severity: 'critical',
      details: { before: { cron: '0 4 * * *' } },
    });
  });

  it('API keys: creation and revocation recorded once by the hook, with what changed and never the secret', async () => {
    const created = await request(t.http)
      .post('/api/keys')
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-key-1`)
      .send({ name: 'audited-key', role: 'auditor' })
      .expect(201);
    const create = await eventsOf(`${engine}-key-1`);
    expect(create).toHaveLength(1);
    expect(create[0]).toMatchObject({
      action: 'api-key.create',
      details: { after: { id: created.body.id, name: 'audited-key', role: 'auditor' } },
    });
    expect(JSON.stringify(create[0])).not.toContain(created.body.key);

    await request(t.http)
      .delete(`/api/keys/${created.body.id}`)
      .set('X-API-Key', t.adminKey)
      .set('X-Request-Id', `${engine}-key-2`)
      .expect(204);
    const revoke = await eventsOf(`${engine}-key-2`);
    expect(revoke).toHaveLength(1);
    expect(revoke[0]).toMatchObject({
      action: 'api-key.revoke',
      severity: 'critical',
      details: { before: { revokedAt: null }, after: { revokedAt: expect.any(String) } },
    });
  });

  it('refused and invalid requests are still recorded, once, by the HTTP layer', async () => {
    await request(t.http)
      .post('/api/keys')
      .set('X-API-Key', t.keys.operator)
      .set('X-Request-Id', `${engine}-denied-1`)
      .send({ name: 'nope', role: 'admin' })
      .expect(403);
    const denied = await eventsOf(`${engine}-denied-1`);
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ action: 'api-key.create', outcome: 'denied', severity: 'critical' });

    await request(t.http)
      .post('/api/backups')
      .set('X-API-Key', t.keys.operator)
      .set('X-Request-Id', `${engine}-invalid-1`)
      .send({ type: 'nonsense' })
      .expect(400);
    const invalid = await eventsOf(`${engine}-invalid-1`);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ action: 'backup.create', outcome: 'failure', severity: 'warning' });
  });

  it('the chain still verifies with the derived severity left out of the hash', async () => {
    const v = await request(t.http).get('/api/audit/verify').set('X-API-Key', t.keys.auditor).expect(200);
    expect(v.body.ok).toBe(true);
  });
});
