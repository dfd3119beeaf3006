import request from 'supertest';
import { AuditRefusals } from '../../src/audit/audit-refusals';
import { AuditService } from '../../src/audit/audit.service';
import { ENGINES } from '../support/databases';
import { createTestApp, eventually, TestApp } from '../support/test-app';

describe.each(ENGINES)('service foundation over HTTP on %s', (engine) => {
  let t: TestApp;
  let audit: AuditService;
  beforeAll(async () => {
    t = await createTestApp(engine);
    audit = t.app.get(AuditService);
  });
  afterAll(async () => {
    await t.close();
  });

  const admin = () => ({ Authorization: `Bearer ${t.adminKey}` });
  const eventsFor = (requestId: string) =>
    eventually(
      async () => (await audit.list({}, 200)).items.filter((e) => e.requestId === requestId),
      (items) => items.length > 0,
    );

  it('creates a key shown once, lists it without the key, and revokes it', async () => {
    const created = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .send({ name: 'ci', role: 'operator' })
      .expect(201);
    expect(created.body).toMatchObject({ name: 'ci', role: 'operator' });
    expect(created.body.key).toMatch(/^sr_/);
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);

    const list = await request(t.http).get('/api/keys').set(admin()).expect(200);
    const row = list.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(row).toBeDefined();
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);

    await request(t.http).get('/api/audit').set('X-API-Key', created.body.key).expect(200);
    await request(t.http).delete(`/api/keys/${created.body.id}`).set(admin()).expect(204);
    await request(t.http).get('/api/audit').set('X-API-Key', created.body.key).expect(401);
    await request(t.http).delete(`/api/keys/${created.body.id}`).set(admin()).expect(404);
  });

  it('rejects invalid input with a 400 naming each field', async () => {
    const res = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .send({ name: '', role: 'root', extra: 1 })
      .expect(400);
    expect(res.body.statusCode).toBe(400);
    expect(res.body.error).toBe('Bad Request');
    const text = JSON.stringify(res.body.message);
    expect(text).toMatch(/name/);
    expect(text).toMatch(/role/);
    expect(text).toMatch(/extra/);
    const q = await request(t.http).get('/api/audit?limit=500&outcome=maybe').set(admin()).expect(400);
    expect(JSON.stringify(q.body.message)).toMatch(/limit/);
    expect(JSON.stringify(q.body.message)).toMatch(/outcome/);
    await request(t.http).delete('/api/keys/not-a-uuid').set(admin()).expect(400);
  });

  it('records changes and refusals with actor, request id and outcome, secrets redacted', async () => {
    const created = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('X-Request-Id', 'req-create-1')
      .set('User-Agent', 'jest-agent')
      .send({ name: 'audited', role: 'auditor' })
      .expect(201);
    expect(created.headers['x-request-id']).toBe('req-create-1');
    const [ok] = await eventsFor('req-create-1');
    expect(ok).toMatchObject({
      action: 'api-key.create',
      resource: 'api-key',
      outcome: 'success',
      userAgent: 'jest-agent',
    });
    expect(ok.actor).toMatchObject({ type: 'api-key', name: 'ADMIN_API_KEY (environment)', role: 'admin' });
    expect(ok.details).toMatchObject({ method: 'POST', status: 201 });
    expect(JSON.stringify(ok)).not.toContain(created.body.key);

    await request(t.http)
      .post('/api/keys')
      .set('X-API-Key', t.keys.operator)
      .set('X-Request-Id', 'req-denied-1')
      .send({ name: 'x', role: 'admin' })
      .expect(403);
    const [denied] = await eventsFor('req-denied-1');
    expect(denied).toMatchObject({ action: 'api-key.create', outcome: 'denied', details: { status: 403 } });
    expect(denied.actor).toMatchObject({ role: 'operator' });

    await request(t.http)
      .get('/api/keys')
      .set('Authorization', 'Bearer sr_wrong_secret_value')
      .set('X-Request-Id', 'req-anon-1')
      .expect(401);
    const [anon] = await eventsFor('req-anon-1');
    expect(anon).toMatchObject({ outcome: 'denied', actor: { name: 'anonymous', keyId: null } });
    expect(JSON.stringify(anon)).not.toContain('sr_wrong_secret_value');

    await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('X-Request-Id', 'req-bad-1')
      .send({ name: 'x', role: 'root', apiKey: 'sr_should_not_leak' })
      .expect(400);
    const [bad] = await eventsFor('req-bad-1');
    expect(bad.outcome).toBe('failure');
    expect(JSON.stringify(bad)).not.toContain('sr_should_not_leak');
  });

  it('audits reading the trail, filters it, and pages with a cursor', async () => {
    await request(t.http)
      .get('/api/audit?limit=1')
      .set('X-API-Key', t.keys.auditor)
      .set('X-Request-Id', 'req-read-1')
      .expect(200);
    const [read] = await eventsFor('req-read-1');
    expect(read.action).toBe('audit.read');

    const page1 = await request(t.http).get('/api/audit?limit=2').set(admin()).expect(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.items[0].seq).toBeGreaterThan(page1.body.items[1].seq);
    const page2 = await request(t.http)
      .get(`/api/audit?limit=2&cursor=${page1.body.nextCursor}`)
      .set(admin())
      .expect(200);
    expect(page2.body.items[0].seq).toBe(page1.body.items[1].seq - 1);
    const denied = await request(t.http).get('/api/audit?outcome=denied').set(admin()).expect(200);
    expect(denied.body.items.length).toBeGreaterThan(0);
    expect(denied.body.items.every((e: { outcome: string }) => e.outcome === 'denied')).toBe(true);
    await request(t.http).get('/api/audit?cursor=garbage').set(admin()).expect(400);
  });

  it('verifies the chain and exports it as NDJSON and CSV', async () => {
    const v = await request(t.http).get('/api/audit/verify').set('X-API-Key', t.keys.auditor).expect(200);
    expect(v.body).toMatchObject({ ok: true, firstBadSeq: null });
    expect(v.body.checked).toBeGreaterThan(3);
    expect(v.body.head.hash).toMatch(/^[0-9a-f]{64}$/);

    const nd = await request(t.http).get('/api/audit/export?format=ndjson').set(admin()).expect(200);
    expect(nd.headers['content-type']).toMatch(/ndjson/);
    const lines = nd.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].seq).toBe(1);
    expect(lines.every((e, i) => e.seq === i + 1)).toBe(true);

    const csv = await request(t.http).get('/api/audit/export?format=csv').set(admin()).expect(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.text.split('\r\n')[0]).toBe(
      'seq,at,actorType,actorKeyId,actorName,actorRole,action,resource,resourceId,outcome,ip,userAgent,requestId,details,prevHash,hash',
    );
    await request(t.http).get('/api/audit/export?format=xml').set(admin()).expect(400);
  });

  it('serves health and the OpenAPI document without a key', async () => {
    const h = await request(t.http).get('/health').expect(200);
    expect(h.body.status).toBe('ok');
    expect(h.body.info).toMatchObject({ database: { status: 'up' }, storage: { status: 'up' } });
    const doc = await request(t.http).get('/docs-json').expect(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(doc.body.components.securitySchemes).toHaveProperty('bearer');
    await request(t.http)
      .get('/docs')
      .expect((r) => expect([200, 301]).toContain(r.status));
  });
});

describe('rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite', { THROTTLE_LIMIT: '5', THROTTLE_TTL_SECONDS: '60' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 with Retry-After once the limit is used up, and audits it', async () => {
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 7; i++) {
      last = await request(t.http)
        .get('/api/audit/verify')
        .set('X-API-Key', t.keys.auditor)
        .set('X-Request-Id', `rl-${i}`);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[6]).toBe(429);
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    // The first 429 of the window is its own event; the next is counted into the window's summary.
    const audit = t.app.get(AuditService);
    const events = await eventually(
      async () => (await audit.list({ outcome: 'denied' }, 50)).items,
      (items) => items.some((e) => e.requestId === 'rl-5'),
    );
    expect(events.find((e) => e.requestId === 'rl-5')?.details).toMatchObject({ status: 429 });
    expect(events.some((e) => e.requestId === 'rl-6')).toBe(false);
    await t.app.get(AuditRefusals).flush();
    const summary = (await audit.list({ outcome: 'denied' }, 50)).items.find((e) => e.details.lastRequestId === 'rl-6');
    expect(summary?.details).toMatchObject({ status: 429, repeats: 1, route: '/api/audit/verify' });
  });
});
