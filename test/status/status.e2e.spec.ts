import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import request from 'supertest';
import { BackupEntity } from '../../src/backup/backup.entity';
import { BackupsService } from '../../src/backup/backups.service';
import { NotificationsService } from '../../src/notifications/notifications.service';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.service';
import { ENGINES } from '../support/databases';
import { execSql, seedSample } from '../support/sample-data';
import { createBackup } from '../support/backup-helpers';
import { createTestApp, TestApp } from '../support/test-app';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { insertBackup } from '../scheduler/schedule-helpers';

interface Hook {
  url: string;
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

const webhookReceiver = (): Promise<Hook> => startWebhookReceiver<Record<string, unknown>>();

describe.each(ENGINES)('status, metrics and alerts on %s', (engine) => {
  let t: TestApp;
  let hook: Hook;
  beforeAll(async () => {
    hook = await webhookReceiver();
    t = await createTestApp(engine, {
      MAX_BACKUP_AGE_HOURS: '26',
      MAX_STORAGE_BYTES: '100000000',
      NOTIFY_WEBHOOK_URLS: hook.url,
      THROTTLE_EXPENSIVE_LIMIT: '100000',
    });
    await seedSample(t.db, 50);
  });
  afterAll(async () => {
    await t.close();
    await hook.close();
  });
  const status = async () =>
    (await request(t.http).get('/api/status').set('X-API-Key', t.keys.auditor).expect(200)).body;

  it('is unhealthy without a backup, healthy after one, and unhealthy again when it is too old or storage is over the limit', async () => {
    const before = await status();
    expect(before).toMatchObject({ healthy: false, lastBackup: null, lastVerifiedBackup: null, rpoSeconds: null });
    expect(before.problems).toEqual(['no completed backup exists']);
    expect(before.schedules).toEqual([expect.objectContaining({ name: 'daily', nextRunAt: expect.any(String) })]);

    const b = await createBackup(t);
    await request(t.http).post(`/api/backups/${b.id}/verify`).set('X-API-Key', t.keys.operator).send({}).expect(200);
    const good = await status();
    expect(good).toMatchObject({
      healthy: true,
      problems: [],
      lastBackup: { id: b.id },
      lastVerifiedBackup: { id: b.id },
    });
    expect(good.rpoSeconds).toBeGreaterThanOrEqual(0);
    expect(good.storage.count).toBe(1);
    expect(good.storage.totalBytes).toBe(b.sizeBytes);
    // The limits the health is judged against, for a dashboard to show beside the values.
    expect(good.storage.limitBytes).toBe(100_000_000);
    expect(good.rpoLimitSeconds).toBe(26 * 3600);

    await t.dataSource.query(`UPDATE strongroom_backups SET created_at = '2020-01-01T00:00:00.000Z'`);
    const stale = await status();
    expect(stale.healthy).toBe(false);
    expect(stale.problems.join()).toMatch(/older than MAX_BACKUP_AGE_HOURS \(26h\)/);
    expect(stale.rpoSeconds).toBeGreaterThan(26 * 3600);
    await t.dataSource.query(`UPDATE strongroom_backups SET created_at = '${new Date().toISOString()}'`);
    expect((await status()).healthy).toBe(true);

    const big = await insertBackup(t, { createdAt: '2021-01-01T00:00:00.000Z', sizeBytes: 200_000_000 });
    const full = await status();
    expect(full.problems.join()).toMatch(/more than MAX_STORAGE_BYTES \(100000000\)/);
    // Through the catalog (as a DELETE of the backup does): the cached totals drop at once.
    await t.dataSource.getRepository(BackupEntity).delete({ id: big.id });
    expect((await status()).healthy).toBe(true);
  });

  it('alerts a webhook on loopback when a backup fails, and turns unhealthy when the last scheduled run failed', async () => {
    const s = await request(t.http)
      .post('/api/schedules')
      .set('X-API-Key', t.adminKey)
      .send({ name: 'tasks', cron: '0 0 1 1 *', type: 'tables', tables: ['tasks'] })
      .expect(201);
    // The table disappears after the schedule was made: its next tick cannot start the backup.
    await execSql(t.db, ['DROP TABLE tasks']);
    await expect(t.app.get(ScheduleRunner).tick(s.body.id, new Date(Date.now() + 60_000))).resolves.toBe('failed');
    const st = await status();
    expect(st.healthy).toBe(false);
    expect(st.problems.join()).toMatch(/schedule "tasks" .*last run failed/);
    await t.app.get(NotificationsService).drain();
    expect(hook.bodies.find((x) => x.type === 'backup.failed')).toMatchObject({
      source: 'strongroom',
      severity: 'error',
      details: { scheduleId: s.body.id },
    });
    expect(hook.bodies.some((x) => x.type === 'status.unhealthy')).toBe(true);

    // A job that fails while it runs (storage gone) alerts with its backup id.
    rmSync(t.config.BACKUP_DIR, { recursive: true, force: true });
    writeFileSync(t.config.BACKUP_DIR, 'not a directory');
    try {
      const res = await request(t.http)
        .post('/api/backups')
        .set('X-API-Key', t.keys.operator)
        .send({ type: 'audit' })
        .expect(202);
      await t.app.get(BackupsService).waitFor(res.body.id);
      await t.app.get(NotificationsService).drain();
      expect(
        hook.bodies.find(
          (x) => x.type === 'backup.failed' && (x.details as { backupId?: string }).backupId === res.body.id,
        ),
      ).toMatchObject({ details: { trigger: 'manual' } });
    } finally {
      rmSync(t.config.BACKUP_DIR, { force: true });
      mkdirSync(t.config.BACKUP_DIR, { recursive: true });
    }
    await seedSample(t.db, 50).catch(() => undefined);
    await request(t.http).delete(`/api/schedules/${s.body.id}`).set('X-API-Key', t.adminKey).expect(204);
  });

  it('serves Prometheus metrics from its own registry, public by default', async () => {
    const res = await request(t.http).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const series of [
      'strongroom_backup_last_success_timestamp_seconds{schedule="none",schedule_name="none"}',
      'strongroom_backup_last_duration_seconds{',
      'strongroom_backup_last_size_bytes{',
      'strongroom_backups{status="completed"} 1',
      'strongroom_storage_bytes ',
      'strongroom_backup_failures{trigger="manual"} 1',
      'strongroom_backup_jobs_total{result="failed",trigger="manual"} 1',
      'strongroom_verifications{kind="plain",outcome="success"} 1',
      'strongroom_backup_last_verified_timestamp_seconds ',
      'strongroom_audit_chain_length ',
      'strongroom_status_healthy ',
      'strongroom_backup_jobs_total{result="completed",trigger="manual"} 1',
    ])
      expect(res.text).toContain(series);
    const chain = Number(/strongroom_audit_chain_length (\d+)/.exec(res.text)![1]);
    const head = await request(t.http).get('/api/audit/verify').set('X-API-Key', t.keys.auditor).expect(200);
    expect(chain).toBeGreaterThan(0);
    expect(chain).toBeLessThanOrEqual(head.body.head.seq);
  });

  it('keeps one alert per key: a repeat only updates it, a reminder after ALERT_RENOTIFY_HOURS, one recovered, then a new episode', async () => {
    const n = t.app.get(NotificationsService);
    const key = 'test:dedupe';
    const c = { key, type: 'backup.failed' as const, severity: 'error' as const, message: 'first' };
    const alerts = (query: Record<string, string>) =>
      request(t.http).get('/api/alerts').query(query).set('X-API-Key', t.keys.auditor);
    expect(await n.raise(c)).toBe('new');
    expect(await n.raise({ ...c, message: 'second' })).toBeNull();
    expect(await Promise.all([n.raise(c), n.raise(c)])).toEqual([null, null]);
    let page = await alerts({ key }).expect(200);
    expect(page.body.items).toEqual([
      expect.objectContaining({ key, state: 'open', occurrences: 4, message: 'first' }),
    ]);
    // Its last webhook was long ago: the next raise reminds, once.
    await t.dataSource.query(
      `UPDATE strongroom_alerts SET notified_at = '2020-01-01T00:00:00.000Z' WHERE open_key = '${key}'`,
    );
    expect(await Promise.all([n.raise(c), n.raise(c)])).toEqual(expect.arrayContaining(['reminder', null]));
    expect(await n.resolve(key, 'fixed')).toBe(true);
    expect(await n.resolve(key, 'fixed')).toBe(false);
    expect(await n.raise(c)).toBe('new');
    await n.drain();
    const sent = hook.bodies.filter((b) => (b.alert as { key?: string } | undefined)?.key === key);
    expect(sent.map((b) => [b.type, (b.alert as { state: string; reminder?: boolean }).reminder ?? false])).toEqual([
      ['backup.failed', false],
      ['backup.failed', true],
      ['alert.recovered', false],
      ['backup.failed', false],
    ]);
    expect(sent[2]).toMatchObject({
      message: 'Recovered: fixed',
      details: { alertType: 'backup.failed', occurrences: 6 },
    });

    // Two episodes, newest first, one per page.
    page = await alerts({ key, limit: '1' }).expect(200);
    expect(page.body.items).toEqual([expect.objectContaining({ state: 'open', occurrences: 1, resolvedAt: null })]);
    const next = await alerts({ key, limit: '1', cursor: page.body.nextCursor }).expect(200);
    expect(next.body).toEqual({
      items: [expect.objectContaining({ state: 'resolved', resolution: 'fixed', occurrences: 6 })],
      nextCursor: null,
    });
    expect((await alerts({ key, state: 'resolved' }).expect(200)).body.items).toHaveLength(1);
    const bad = await alerts({ state: 'closed' }).expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('state');
    // Open alerts are part of the status and of the metric.
    expect((await status()).alerts).toEqual(expect.arrayContaining([expect.objectContaining({ key })]));
    expect((await request(t.http).get('/metrics').expect(200)).text).toContain(
      'strongroom_alerts_open{type="backup.failed",severity="error"} 1',
    );
    await n.resolve(key, 'done');
    await n.drain();
  });
});

describe('metrics access and expensive-route limits', () => {
  it('needs an auditor key for /metrics when METRICS_PUBLIC=false', async () => {
    const t = await createTestApp('sqlite', { METRICS_PUBLIC: 'false' });
    try {
      await request(t.http).get('/metrics').expect(401);
      await request(t.http).get('/metrics').set('X-API-Key', 'nope').expect(401);
      const ok = await request(t.http).get('/metrics').set('X-API-Key', t.keys.auditor).expect(200);
      expect(ok.text).toContain('strongroom_backups');
    } finally {
      await t.close();
    }
  });

  it('answers 429 with Retry-After once a client exceeds THROTTLE_EXPENSIVE_LIMIT on an expensive route, while cheap routes go on', async () => {
    const t = await createTestApp('sqlite', { THROTTLE_EXPENSIVE_LIMIT: '2', THROTTLE_EXPENSIVE_TTL_SECONDS: '600' });
    try {
      const id = '00000000-0000-4000-8000-000000000000';
      await request(t.http).delete(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(404);
      await request(t.http).delete(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(404);
      const limited = await request(t.http).delete(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) await request(t.http).get(`/api/backups`).set('X-API-Key', t.adminKey).expect(200);
    } finally {
      await t.close();
    }
  });
});
