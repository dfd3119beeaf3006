/** ADMIN_API_KEY is honest: while set it is a working admin key, a new value retires the old one, and all of it is audited. */
import request from 'supertest';
import { AuditService } from '../../src/audit/audit.service';
import { AdminBootstrap } from '../../src/auth/admin-bootstrap';
import { ENV_ADMIN_KEY_NAME } from '../../src/auth/api-key-secret';
import { createTestDatabase, ENGINES, TestDatabase } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';

const KEY_A = 'env-admin-key-A-0123456789abcdef';
const KEY_C = 'env-admin-key-C-0123456789abcdef';

describe.each(ENGINES)('admin key bootstrap on %s', (engine) => {
  let db: TestDatabase;
  let t: TestApp | null = null;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await t?.close();
    t = null;
  });
  afterAll(async () => {
    await db.drop();
  });

  const boot = async (env: Record<string, string>) => {
    await t?.close();
    t = await createTestApp(engine, env, { db });
    return t;
  };
  const status = async (app: TestApp, key: string) =>
    (await request(app.http).get('/api/keys').set('X-API-Key', key)).status;
  const systemEvents = async (app: TestApp, action: string) =>
    (await app.app.get(AuditService).list({ action }, 200)).items.filter(
      (e) => e.actor.type === 'system' && e.resource === 'api-key',
    );

  it('creates, keeps, restores and rotates the environment key, auditing each change', async () => {
    let app = await boot({ ADMIN_API_KEY: KEY_A });
    expect(await status(app, KEY_A)).toBe(200);
    const created = await systemEvents(app, 'api-key.env-create');
    expect(created).toHaveLength(1);
    expect(JSON.stringify(created)).not.toContain(KEY_A);
    const keyA = (await request(app.http).get('/api/keys').set('X-API-Key', KEY_A)).body.items.find(
      (k: { name: string }) => k.name === ENV_ADMIN_KEY_NAME,
    );
    expect(keyA).toMatchObject({ role: 'admin', revokedAt: null });
    // Another admin key exists from now on: the environment key must still be created when it changes.
    const other = (
      await request(app.http)
        .post('/api/keys')
        .set('X-API-Key', KEY_A)
        .send({ name: 'second admin', role: 'admin' })
        .expect(201)
    ).body.key as string;
    // The reserved name cannot be taken through the API, so "the environment key" stays unambiguous.
    const reserved = await request(app.http)
      .post('/api/keys')
      .set('X-API-Key', KEY_A)
      .send({ name: ENV_ADMIN_KEY_NAME, role: 'auditor' })
      .expect(400);
    expect(JSON.stringify(reserved.body.message)).toMatch(/name/);

    // Same value again: nothing changes, nothing is audited.
    app = await boot({ ADMIN_API_KEY: KEY_A });
    expect(await status(app, KEY_A)).toBe(200);
    expect(await systemEvents(app, 'api-key.env-create')).toHaveLength(1);

    // A new value: created although other admins exist; the key of the old value stops working.
    app = await boot({ ADMIN_API_KEY: KEY_C });
    expect(await status(app, KEY_C)).toBe(200);
    expect(await status(app, KEY_A)).toBe(401);
    expect(await status(app, other)).toBe(200);
    expect(await systemEvents(app, 'api-key.env-create')).toHaveLength(2);
    const revoked = await systemEvents(app, 'api-key.env-revoke');
    expect(revoked.map((e) => e.resourceId)).toEqual([keyA.id]);

    // Revoked through the API while still configured: the next boot restores it, and says so.
    const keyC = (await request(app.http).get('/api/keys').set('X-API-Key', KEY_C)).body.items.find(
      (k: { name: string; revokedAt: string | null }) => k.name === ENV_ADMIN_KEY_NAME && !k.revokedAt,
    );
    await request(app.http).delete(`/api/keys/${keyC.id}`).set('X-API-Key', other).expect(204);
    expect(await status(app, KEY_C)).toBe(401);
    app = await boot({ ADMIN_API_KEY: KEY_C });
    expect(await status(app, KEY_C)).toBe(200);
    expect((await systemEvents(app, 'api-key.env-restore')).map((e) => e.resourceId)).toEqual([keyC.id]);

    // Unset, with admins in place: nothing is generated.
    app = await boot({ ADMIN_API_KEY: '' });
    expect(app.app.get(AdminBootstrap).takeGeneratedKey()).toBeNull();
    expect(await systemEvents(app, 'api-key.generate')).toHaveLength(0);
  });

  it('generates a key on a fresh installation without ADMIN_API_KEY and hands it out once', async () => {
    const fresh = await createTestDatabase(engine);
    let app: TestApp | null = null;
    try {
      app = await createTestApp(engine, { ADMIN_API_KEY: '' }, { db: fresh });
      const bootstrap = app.app.get(AdminBootstrap);
      const key = bootstrap.takeGeneratedKey();
      expect(key).toMatch(/^sr_/);
      expect(bootstrap.takeGeneratedKey()).toBeNull();
      expect(await status(app, key as string)).toBe(200);
      const generated = await systemEvents(app, 'api-key.generate');
      expect(generated).toHaveLength(1);
      expect(JSON.stringify(generated)).not.toContain(key as string);
    } finally {
      await app?.close();
      await fresh.drop();
    }
  });
});
