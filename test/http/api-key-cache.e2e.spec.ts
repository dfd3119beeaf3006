/**
 * The API-key check remembers a verified key for API_KEY_CACHE_SECONDS (api-keys.service.ts):
 * revocation through this instance takes effect at once, revocation elsewhere (another
 * instance writes revoked_at) within that bound, and nothing else is remembered.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { hashApiKey } from '../../src/auth/api-key-secret';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { ENGINES } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';

describe.each(ENGINES)('API key cache on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine, { DEFAULT_SCHEDULE_ENABLED: 'false', API_KEY_CACHE_SECONDS: '5' });
  });
  afterAll(async () => {
    await t.close();
  });
  const keys = () => t.app.get(ApiKeysService);

  it('a key revoked through this instance is refused at once, though it was just verified', async () => {
    const k = await request(t.http)
      .post('/api/keys')
      .set('X-API-Key', t.adminKey)
      .send({ name: 'cache-revoke-here', role: 'auditor' })
      .expect(201);
    await request(t.http).get('/api/backups').set('X-API-Key', k.body.key).expect(200);
    await request(t.http)
      .delete(`/api/keys/${k.body.id}`)
      .set('X-API-Key', t.adminKey)
      .expect((r) => expect(r.status).toBeLessThan(300));
    await request(t.http).get('/api/backups').set('X-API-Key', k.body.key).expect(401);
  });

  it('a key revoked by another instance stops working here once API_KEY_CACHE_SECONDS have passed, not before', async () => {
    const k = await keys().create('cache-revoke-elsewhere', 'auditor');
    const t0 = Date.now();
    expect(await keys().authenticate(k.key, t0)).toMatchObject({ id: k.id, role: 'auditor' });
    // What another instance's DELETE /api/keys/:id writes.
    await t.dataSource.query(
      `UPDATE strongroom_api_keys SET revoked_at = '${new Date(t0).toISOString()}' WHERE id = '${k.id}'`,
    );
    expect(await keys().authenticate(k.key, t0 + 4999)).toMatchObject({ id: k.id });
    expect(await keys().authenticate(k.key, t0 + 5000)).toBeNull();
    // Refused keys are not remembered: still refused afterwards.
    expect(await keys().authenticate(k.key, t0 + 5001)).toBeNull();
  });

  it('a key created by another instance works at once (unknown keys are never remembered)', async () => {
    const key = `sr_created-elsewhere-${randomUUID()}`;
    expect(await keys().authenticate(key)).toBeNull();
    const id = randomUUID();
    // What another instance's POST /api/keys writes.
    await t.dataSource.query(
      `INSERT INTO strongroom_api_keys (id, name, role, key_hash, created_at, revoked_at, last_used_at) VALUES ('${id}', 'elsewhere', 'operator', '${hashApiKey(key)}', '${new Date().toISOString()}', NULL, NULL)`,
    );
    expect(await keys().authenticate(key)).toMatchObject({ id, role: 'operator' });
  });
});
