import { Client } from 'pg';
import request from 'supertest';
import { MaintenanceEntity } from '../../src/maintenance/maintenance.entity';
import { waitForRecovery } from '../recovery/recovery-helpers';
import { createBackup } from '../support/backup-helpers';
import { createPgDatabase, ENGINES, TestDatabase } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { createTestApp, eventually, TestApp } from '../support/test-app';
import { startWebhookReceiver } from '../support/webhook-receiver';

interface Hook {
  url: string;
  bodies: { type: string; details: Record<string, unknown> }[];
  close(): Promise<void>;
}

const webhookReceiver = (): Promise<Hook> => startWebhookReceiver<Hook['bodies'][number]>();

const types = (h: Hook) => h.bodies.map((b) => b.type).filter((t) => t.startsWith('maintenance.'));

describe.each(ENGINES)("an admin's maintenance on %s", (engine) => {
  let t: TestApp;
  let second: TestApp | null = null;
  let hook: Hook;
  beforeAll(async () => {
    hook = await webhookReceiver();
    t = await createTestApp(engine, { DEFAULT_SCHEDULE_ENABLED: 'false', NOTIFY_WEBHOOK_URLS: hook.url });
  });
  afterAll(async () => {
    await second?.close();
    await t.close();
    await hook.close();
  });
  const as = (key: string) => ({ 'X-API-Key': key });

  it('refuses changes with 503, Retry-After and the reason, in every instance and across restarts, until turned off', async () => {
    expect((await request(t.http).get('/api/maintenance').set(as(t.keys.auditor)).expect(200)).body).toEqual({
      active: false,
      reason: null,
      since: null,
      by: null,
      recoveryId: null,
    });
    await request(t.http).put('/api/maintenance').set(as(t.keys.operator)).send({ active: true }).expect(403);
    const bad = await request(t.http).put('/api/maintenance').set(as(t.adminKey)).send({ active: 'yes' }).expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('active');

    const on = await request(t.http)
      .put('/api/maintenance')
      .set(as(t.adminKey))
      .send({ active: true, reason: 'moving the database to new disks' })
      .expect(200);
    expect(on.body).toMatchObject({ active: true, by: 'admin', reason: 'moving the database to new disks' });

    const refused = await request(t.http).post('/api/backups').set(as(t.keys.operator)).send({}).expect(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body.message).toContain('moving the database to new disks');
    await request(t.http).get('/api/backups').set(as(t.keys.auditor)).expect(200);

    // Another instance on the same catalog (or this one after a restart) agrees.
    second = await createTestApp(
      engine,
      { DEFAULT_SCHEDULE_ENABLED: 'false', NOTIFY_WEBHOOK_URLS: hook.url },
      { db: t.db },
    );
    expect(
      (await request(second.http).get('/api/maintenance').set(as(second.adminKey)).expect(200)).body,
    ).toMatchObject({
      active: true,
      by: 'admin',
    });
    await request(second.http)
      .post('/api/schedules')
      .set(as(second.adminKey))
      .send({ name: 'x', cron: '0 1 * * *' })
      .expect(503);

    await request(second.http).put('/api/maintenance').set(as(second.adminKey)).send({ active: false }).expect(200);
    await request(t.http).post('/api/backups').set(as(t.keys.operator)).send({}).expect(202);
    // One announcement per change, whichever instance noticed it.
    await eventually(
      async () => types(hook),
      (v) => v.length >= 2,
    );
    expect(types(hook)).toEqual(['maintenance.started', 'maintenance.ended']);
    const audit = await request(t.http).get('/api/audit?resource=maintenance').set(as(t.adminKey)).expect(200);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['maintenance.on', 'maintenance.off']),
    );
  });
});

const pgOnly = ENGINES.includes('postgres') ? describe : describe.skip;

pgOnly('a restore with MAINTENANCE_READ_ONLY_TARGET on PostgreSQL', () => {
  let t: TestApp;
  let target: TestDatabase;
  let hook: Hook;
  beforeAll(async () => {
    hook = await webhookReceiver();
    target = await createPgDatabase('maint');
    await seedSample(target, 200);
    t = await createTestApp('postgres', {
      DEFAULT_SCHEDULE_ENABLED: 'false',
      TARGET_DATABASE_URL: target.url,
      MAINTENANCE_READ_ONLY_TARGET: 'true',
      NOTIFY_WEBHOOK_URLS: hook.url,
    });
  });
  afterAll(async () => {
    await t.close();
    await target.drop();
    await hook.close();
  });

  async function connectTarget(): Promise<Client> {
    const c = new Client({ connectionString: target.url });
    await c.connect();
    return c;
  }

  it('makes application sessions opened during the restore read-only, while the restore itself completes', async () => {
    const backup = await createBackup(t, { type: 'tables', tables: ['projects', 'tasks'] });
    // A session opened before maintenance holds the table, so the restore is still running when the app connects.
    const locker = await connectTarget();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tasks IN ACCESS SHARE MODE');
    const started = await request(t.http)
      .post('/api/recoveries')
      .set('X-API-Key', t.adminKey)
      .send({ backupId: backup.id, tables: ['tasks'], safetyBackup: false, confirm: `RESTORE ${String(backup.id)}` })
      .expect(202);
    const state = await request(t.http).get('/api/maintenance').set('X-API-Key', t.keys.auditor).expect(200);
    expect(state.body).toMatchObject({ active: true, by: 'restore', recoveryId: started.body.id });
    await request(t.http).post('/api/backups').set('X-API-Key', t.keys.operator).send({}).expect(503);

    const app = await connectTarget();
    try {
      await expect(app.query(`INSERT INTO projects VALUES (999, 'written during the restore', 1)`)).rejects.toThrow(
        /read-only transaction/,
      );
      const running = await request(t.http).get(`/api/recoveries/${started.body.id}`).set('X-API-Key', t.adminKey);
      expect(running.body.status).toBe('running');
    } finally {
      await app.end();
      await locker.query('COMMIT');
      await locker.end();
    }

    const done = await waitForRecovery(t, started.body.id as string);
    expect(done.status).toBe('completed');
    await eventually(
      async () => (await request(t.http).get('/api/maintenance').set('X-API-Key', t.adminKey)).body.active as boolean,
      (active) => !active,
    );
    const after = await connectTarget();
    try {
      await after.query(`INSERT INTO projects VALUES (1000, 'written after the restore', 1)`);
      expect((await after.query(`SELECT count(*)::int AS n FROM projects WHERE id = 1000`)).rows[0].n).toBe(1);
    } finally {
      await after.end();
    }
    await eventually(
      async () => types(hook),
      (v) => v.length >= 2,
    );
    expect(types(hook)).toEqual(['maintenance.started', 'maintenance.ended']);
  });

  it('makes the target writable again at start when a crash left it read-only', async () => {
    // What a process killed during a restore leaves: the setting on, and the catalog saying so.
    const admin = await connectTarget();
    try {
      await admin.query(
        `ALTER DATABASE "${new URL(target.url).pathname.slice(1)}" SET default_transaction_read_only = on`,
      );
    } finally {
      await admin.end();
    }
    await t.dataSource.getRepository(MaintenanceEntity).update({ id: 'state' }, { targetReadOnly: true });
    const restarted = await createTestApp(
      'postgres',
      { DEFAULT_SCHEDULE_ENABLED: 'false', TARGET_DATABASE_URL: target.url, MAINTENANCE_READ_ONLY_TARGET: 'true' },
      { db: t.db },
    );
    try {
      const app = await connectTarget();
      try {
        expect((await app.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe(
          'off',
        );
      } finally {
        await app.end();
      }
    } finally {
      await restarted.close();
    }
  });
});
