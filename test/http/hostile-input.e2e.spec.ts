/**
 * The cases found by attack (issue 10): each answered with a 4xx naming what is wrong (or a
 * 503 for an unreachable catalog database), never a 500, and each still audited.
 */
import { createServer, Server, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { AuditRefusals } from '../../src/audit/audit-refusals';
import { AuditService } from '../../src/audit/audit.service';
import { encodeCursor } from '../../src/common/pagination';
import { createPgDatabase, ENGINES, pgServerUrl } from '../support/databases';
import { createTestApp, eventually, TestApp } from '../support/test-app';

/** superagent would JSON-encode a Buffer sent as application/json; send its bytes as they are. */
const raw = (body: unknown) => body as string;
const deepJson = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe.each(ENGINES)('hostile input on %s', (engine) => {
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
  const eventFor = async (requestId: string) =>
    (
      await eventually(
        async () => (await audit.list({}, 200)).items.filter((e) => e.requestId === requestId),
        (items) => items.length > 0,
      )
    )[0];
  const newKey = async () =>
    (await request(t.http).post('/api/keys').set(admin()).send({ name: 'victim', role: 'auditor' }).expect(201))
      .body as { id: string; key: string };

  it('refuses a 10,000-level body with 400 before any handler runs, and audits the attempt by digest', async () => {
    const victim = await newKey();
    const body = JSON.stringify({ a: JSON.parse('[0]') }).replace('0', deepJson(10_000));
    const res = await request(t.http)
      .delete(`/api/keys/${victim.id}`)
      .set(admin())
      .set('Content-Type', 'application/json')
      .set('X-Request-Id', `deep-${engine}`)
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/deeper than 32 levels/);
    // The key was not revoked: the body never reached the handler.
    await request(t.http).get('/api/audit?limit=1').set('X-API-Key', victim.key).expect(200);
    const event = await eventFor(`deep-${engine}`);
    expect(event).toMatchObject({ outcome: 'failure', details: { status: 400, method: 'DELETE' } });
    expect(event.details.body).toBeUndefined();
    expect(event.details.bodyDigest).toMatchObject({
      bytes: Buffer.byteLength(body),
      sha256: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('audits a change whose body is deep but within the limit, and a revoke carrying an absurd body', async () => {
    const victim = await newKey();
    // 30 levels pass the parser; the handler ignores the body; the audit copy is bounded.
    await request(t.http)
      .delete(`/api/keys/${victim.id}`)
      .set(admin())
      .set('X-Request-Id', `revoke-${engine}`)
      .send({ x: JSON.parse(deepJson(30)) })
      .expect(204);
    const event = await eventFor(`revoke-${engine}`);
    expect(event).toMatchObject({ action: 'api-key.revoke', outcome: 'success', resourceId: victim.id });
    expect(JSON.stringify(event.details).length).toBeLessThan(9 * 1024);
    expect(JSON.stringify(event.details.body)).toContain('[TRUNCATED]');
  });

  it('answers 415 for a charset other than UTF-8 and for an unknown Content-Encoding, 413 past BODY_MAX_BYTES', async () => {
    const nope = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json; charset=nope')
      .send('{"name":"x","role":"auditor"}');
    expect(nope.status).toBe(415);
    expect(nope.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    const latin = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json; charset=latin1')
      .send('{"name":"x","role":"auditor"}');
    expect(latin.status).toBe(415);
    const enc = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'nope')
      .send('{"name":"x","role":"auditor"}');
    expect(enc.status).toBe(415);
    expect(enc.body.message).toMatch(/Content-Encoding/);
    const badGzip = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send('not gzip at all');
    expect(badGzip.status).toBe(400);
    const gz = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json; charset=UTF-8')
      .set('Content-Encoding', 'gzip')
      .serialize(raw)
      .send(gzipSync(JSON.stringify({ name: 'zipped', role: 'auditor' })));
    expect(gz.status).toBe(201);
    const big = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(200_000), role: 'auditor' }));
    expect(big.status).toBe(413);
    // A decompression bomb is measured after inflating.
    const bomb = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .serialize(raw)
      .send(gzipSync(JSON.stringify({ name: ' '.repeat(5_000_000), role: 'auditor' })));
    expect(bomb.status).toBe(413);
    const text = await request(t.http).post('/api/keys').set(admin()).set('Content-Type', 'text/plain').send('name=x');
    expect(text.status).toBe(415);
    const malformed = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('Content-Type', 'application/json')
      .send('{"name": "x",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toBe('request body is not valid JSON');
    const array = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .send([{ name: 'x', role: 'auditor' }]);
    expect(array.status).toBe(400);
    expect(JSON.stringify(array.body.message)).toMatch(/JSON object/);
  });

  it('an import whose multipart body cannot be read (no boundary, cut off) is a 400 naming the file field', async () => {
    const noBoundary = await request(t.http)
      .post('/api/backups/import')
      .set(admin())
      .set('Content-Type', 'multipart/form-data')
      .send(Buffer.from('description=x'));
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body.message).toEqual([expect.stringMatching(/^file: the multipart body could not be read/)]);
    const cut = await request(t.http)
      .post('/api/backups/import')
      .set(admin())
      .set('Content-Type', 'multipart/form-data; boundary=xyz')
      .send(Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.tar"\r\n\r\nabc'));
    expect(cut.status).toBe(400);
  });

  it('PATCH /api/backups/:id: {} changes nothing, null tags or pinned are a 400 naming the field', async () => {
    const created = await request(t.http)
      .post('/api/backups')
      .set(admin())
      .send({ type: 'audit', tags: ['keep'] })
      .expect(202);
    const id = created.body.id as string;
    await eventually(
      async () => (await request(t.http).get(`/api/backups/${id}`).set(admin())).body.status,
      (s) => s === 'completed' || s === 'failed',
    );
    const same = await request(t.http).patch(`/api/backups/${id}`).set(admin()).send({}).expect(200);
    expect(same.body).toMatchObject({ id, tags: ['keep'] });
    const nullTags = await request(t.http).patch(`/api/backups/${id}`).set(admin()).send({ tags: null }).expect(400);
    expect(JSON.stringify(nullTags.body.message)).toMatch(/tags must not be null/);
    const nullPinned = await request(t.http)
      .patch(`/api/backups/${id}`)
      .set(admin())
      .send({ pinned: null })
      .expect(400);
    expect(JSON.stringify(nullPinned.body.message)).toMatch(/pinned/);
    // description: null still clears the description, as the contract says.
    const cleared = await request(t.http)
      .patch(`/api/backups/${id}`)
      .set(admin())
      .send({ description: null })
      .expect(200);
    expect(cleared.body.description).toBeNull();
    await request(t.http).patch('/api/backups/00000000-0000-4000-8000-000000000000').set(admin()).send({}).expect(404);
  });

  it('refuses from/to that pass ISO-8601 but not Date, and names the field', async () => {
    for (const bad of ['2020-W01', '2020-01-01T10Z', '+275760-09-13T00:00:00.001Z']) {
      for (const path of ['/api/backups', '/api/audit', '/api/audit/export']) {
        for (const field of ['from', 'to']) {
          const res = await request(t.http)
            .get(path)
            .query({ [field]: bad })
            .set(admin());
          expect([path, field, bad, res.status]).toEqual([path, field, bad, 400]);
          expect(JSON.stringify(res.body.message)).toContain(field);
        }
      }
    }
    await request(t.http)
      .get('/api/backups')
      .query({ from: '2020-01-01', to: '2999-12-31T23:59:59.999Z' })
      .set(admin())
      .expect(200);
    await request(t.http).get('/api/audit').query({ from: '2020-01-01T10:00:00+02:00' }).set(admin()).expect(200);
  });

  it('validates cursors strictly', async () => {
    for (const cursor of [
      encodeCursor([1e308]),
      encodeCursor([1.5]),
      encodeCursor([-1]),
      encodeCursor([1, 2]),
      encodeCursor(['1']),
    ]) {
      await request(t.http).get('/api/audit').query({ cursor }).set(admin()).expect(400);
    }
    for (const path of ['/api/backups', '/api/recoveries', '/api/schedules']) {
      for (const cursor of [
        encodeCursor([1e308, 'x']),
        encodeCursor(['2020-W01', 'x']),
        encodeCursor(['2020-01-01T00:00:00.000Z', 'a\u0000b']),
        encodeCursor(['x']),
      ]) {
        const res = await request(t.http).get(path).query({ cursor }).set(admin());
        expect([path, res.status]).toEqual([path, 400]);
      }
    }
  });

  it('refuses NUL characters in any string input with a 400 naming the field, and still audits', async () => {
    const res = await request(t.http)
      .post('/api/keys')
      .set(admin())
      .set('X-Request-Id', `nul-${engine}`)
      .send({ name: 'a\u0000b', role: 'auditor' })
      .expect(400);
    expect(JSON.stringify(res.body.message)).toMatch(/name must not contain NUL/);
    const nested = await request(t.http)
      .post('/api/backups')
      .set(admin())
      .send({ type: 'tables', tables: ['ok', 'bad\u0000'] })
      .expect(400);
    expect(JSON.stringify(nested.body.message)).toMatch(/tables\[1\] must not contain NUL/);
    const query = await request(t.http).get('/api/audit').query({ action: 'x\u0000' }).set(admin()).expect(400);
    expect(JSON.stringify(query.body.message)).toMatch(/action must not contain NUL/);
    await request(t.http).get('/api/backups/%00').set(admin()).expect(400);
    // A NUL and an over-long id in the path reach the audit trail cleaned and cut, not as an insert error.
    await request(t.http)
      .delete(`/api/keys/${'%00'.repeat(300)}`)
      .set(admin())
      .set('X-Request-Id', `nul-path-${engine}`)
      .expect(400);
    const event = await eventFor(`nul-path-${engine}`);
    expect(event.resourceId).toHaveLength(200);
    expect(event.resourceId).not.toContain('\u0000');
    expect((await eventFor(`nul-${engine}`)).outcome).toBe('failure');
  });
});

describe('an unreachable catalog database', () => {
  let t: TestApp;
  let proxy: Server;
  const sockets = new Set<Socket>();
  let drop: () => Promise<void>;

  beforeAll(async () => {
    // The app reaches PostgreSQL through a loopback proxy the test can cut, as a database going down would.
    const db = await createPgDatabase();
    drop = db.drop;
    const upstream = new URL(pgServerUrl());
    proxy = createServer((client) => {
      const server = new Socket();
      server.connect(Number(upstream.port || 5432), upstream.hostname);
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String((proxy.address() as { port: number }).port);
    t = await createTestApp(
      'postgres',
      {},
      { db: { engine: 'postgres', url: url.toString(), drop: async () => undefined } },
    );
  });
  afterAll(async () => {
    await t.close();
    await drop();
  });

  it('answers 503 with Retry-After, not 500, while PostgreSQL cannot be reached', async () => {
    await request(t.http).get('/api/backups').set('Authorization', `Bearer ${t.adminKey}`).expect(200);
    await new Promise<void>((resolve) => {
      proxy.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    for (const path of ['/api/backups', '/api/audit', '/api/backups/stats']) {
      const res = await request(t.http).get(path).set('Authorization', `Bearer ${t.adminKey}`);
      expect([path, res.status]).toEqual([path, 503]);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    }
    // Flushing the refusal windows while the database is gone logs, never throws.
    await expect(t.app.get(AuditRefusals).flush()).resolves.toBeUndefined();
  });
});
