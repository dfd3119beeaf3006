/**
 * The fault matrix of "nothing fails unnoticed": each fault ends in its alert (a webhook on a
 * loopback receiver, sent once however often the fault is seen), in GET /api/status and in the
 * strongroom_alerts_open metric; once it clears, one "alert.recovered" notification; and, where
 * a copy survives, a working restore from it.
 *
 * One deployment serves every case: a PostgreSQL catalog; a PostgreSQL target database behind
 * a TCP relay (the database "down": connections refused and cut); the primary storage a
 * directory on a 4 MiB tmpfs (a disk that really fills up: ENOSPC from the kernel, as on a
 * full volume; mounting needs root, which CI has, elsewhere that case reports as skipped);
 * the offsite storage s3rver behind a relay (offsite "down").
 *
 * Faults proven in depth elsewhere are reproduced here only as far as their alert: a real
 * SIGKILL at random points of a backup in test/backup/backup-crash.e2e.spec.ts (here: the
 * job row such a process leaves behind), the offsite copy and its fallbacks in
 * test/backup/offsite.e2e.spec.ts.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { JobSweeper } from '../../src/backup/job-sweeper';
import {
  primaryCopyKey,
  scheduleDeadlineKey,
  scheduleFailedKey,
  OFFSITE_LAG_KEY,
  UNHEALTHY_KEY,
} from '../../src/notifications/alert-keys';
import { NotificationsService } from '../../src/notifications/notifications.service';
import { OffsiteCopier } from '../../src/offsite/offsite-copier.service';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.service';
import { ScheduleEntity } from '../../src/scheduler/schedule.entity';
import { StatusService } from '../../src/status/status.service';
import { recover } from '../recovery/recovery-helpers';
import { insertBackup } from '../scheduler/schedule-helpers';
import { waitForBackup } from '../support/backup-helpers';
import { createPgDatabase, pgQuery, TestDatabase, tempDir } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { startS3Server, TestS3Server } from '../support/s3-server';
import { startRelay, TcpRelay } from '../support/tcp-relay';
import { createTestApp, eventually, TestApp } from '../support/test-app';
import { startWebhookReceiver, WebhookBody, WebhookReceiver } from '../support/webhook-receiver';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const TASKS = 300;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const HOUR = 3_600_000;

describe('fault matrix: every fault ends in an alert, a status, a metric and a restore', () => {
  let hook: WebhookReceiver;
  let catalog: TestDatabase;
  let target: TestDatabase;
  let targetRelay: TcpRelay;
  let offsiteS3: TestS3Server;
  let offsiteRelay: TcpRelay;
  let mount: ReturnType<typeof tempDir>;
  let store: string;
  let t: TestApp;
  let second: TestApp | undefined;
  let scheduleId: string;
  let lastFire = 0;
  /** Backups taken by the baseline and the offsite case, each with an offsite copy. */
  const ids: Record<string, string> = {};

  const env = (extra: Record<string, string> = {}): Record<string, string> => {
    const targetUrl = new URL(target.url);
    targetUrl.port = String(targetRelay.port);
    return {
      TARGET_DATABASE_URL: targetUrl.toString(),
      BACKUP_DIR: store,
      OFFSITE_STORAGE: 's3',
      OFFSITE_S3_BUCKET: offsiteS3.bucket,
      OFFSITE_S3_ENDPOINT: `http://127.0.0.1:${offsiteRelay.port}`,
      OFFSITE_S3_REGION: offsiteS3.region,
      OFFSITE_S3_FORCE_PATH_STYLE: 'true',
      OFFSITE_S3_ACCESS_KEY_ID: offsiteS3.accessKeyId,
      OFFSITE_S3_SECRET_ACCESS_KEY: offsiteS3.secretAccessKey,
      OFFSITE_S3_PREFIX: 'copy',
      OFFSITE_MAX_LAG_HOURS: '1',
      OFFSITE_RETRY_BASE_SECONDS: '1',
      OFFSITE_RETRY_MAX_SECONDS: '1',
      NOTIFY_WEBHOOK_URLS: hook.url,
      DEFAULT_SCHEDULE_ENABLED: 'false',
      // A run missed while stopped is not caught up: the deadline alert is what must tell.
      CATCH_UP_GRACE_MINUTES: '0',
      ...extra,
    };
  };

  beforeAll(async () => {
    [hook, offsiteS3, catalog, target] = await Promise.all([
      startWebhookReceiver(),
      startS3Server('offsite'),
      createPgDatabase('fm_catalog'),
      createPgDatabase('fm_target'),
    ]);
    offsiteRelay = await startRelay(Number(new URL(offsiteS3.endpoint).port));
    targetRelay = await startRelay(Number(new URL(target.url).port));
    mount = tempDir('strongroom-fault-');
    if (isRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount.path]);
    store = join(mount.path, 'store');
    await seedSample(target, TASKS);
    t = await createTestApp('postgres', env(), { db: catalog });
    const s = await request(t.http)
      .post('/api/schedules')
      .set('X-API-Key', t.adminKey)
      .send({ name: 'nightly', cron: '0 2 * * *', type: 'tables', tables: ['projects', 'tasks'] })
      .expect(201);
    scheduleId = s.body.id;
  });

  afterAll(async () => {
    // Deliveries still in flight would outlive the app (their retry timers keep the worker alive).
    await t?.app.get(NotificationsService).drain();
    await second?.close();
    await t?.close();
    await Promise.all([offsiteRelay?.close(), targetRelay?.close(), hook?.close(), offsiteS3?.stop()]);
    await Promise.all([catalog?.drop(), target?.drop()]);
    if (isRoot && mount) execFileSync('umount', [mount.path]);
    mount?.remove();
  });

  /** One tick of the schedule (as its cron would), and the backup it started once it ended. */
  async function runSchedule(app = t): Promise<{ outcome: string; backup: Body | null }> {
    lastFire = Math.max(Date.now(), lastFire + 1000);
    const outcome = await app.app.get(ScheduleRunner).tick(scheduleId, new Date(lastFire));
    if (outcome !== 'started') return { outcome, backup: null };
    const s = await app.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id: scheduleId });
    return { outcome, backup: await waitForBackup(app, s.lastBackupId!) };
  }

  const status = async (app = t): Promise<Body> =>
    (await request(app.http).get('/api/status').set('X-API-Key', app.keys.auditor).expect(200)).body;
  const openKeys = (st: Body): string[] => (st.alerts as Body[]).map((a) => a.key as string);

  /** The webhooks of one alert key, optionally of one type. */
  const sent = (key: string, type?: string): WebhookBody[] =>
    hook.bodies.filter((b) => b.alert?.key === key && (type === undefined || b.type === type));

  /** Waits (up to 60 s) for the n-th webhook of the key and type; answers the newest. */
  async function webhook(key: string, type: string, n = 1): Promise<WebhookBody> {
    const found = await eventually(
      async () => sent(key, type),
      (v) => v.length >= n,
      60_000,
    );
    expect(found.length).toBeGreaterThanOrEqual(n);
    return found[found.length - 1];
  }

  /** strongroom_alerts_open for one type and severity (0 without a series). */
  async function openMetric(type: string, severity: string): Promise<number> {
    const text = (await request(t.http).get('/metrics').expect(200)).text;
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('strongroom_alerts_open{') &&
          l.includes(`type="${type}"`) &&
          l.includes(`severity="${severity}"`),
      );
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }

  const settle = () => t.app.get(NotificationsService).drain();
  const taskCount = async () =>
    Number((await queryRows<{ n: string }>(target, 'SELECT COUNT(*) AS n FROM tasks'))[0].n);
  const offsiteState = async (id: string) =>
    (await request(t.http).get(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(200)).body.offsite?.status;
  const copiedOffsite = (id: string) =>
    eventually(
      async () => {
        await t.app.get(OffsiteCopier).drain();
        return offsiteState(id);
      },
      (s) => s === 'copied',
      30_000,
    );

  it('starts healthy: a scheduled backup, copied offsite, no alert open', async () => {
    const { backup } = await runSchedule();
    expect(backup).toMatchObject({ status: 'completed' });
    ids.first = backup!.id;
    expect(await copiedOffsite(ids.first)).toBe('copied');
    const st = await status();
    expect(st).toMatchObject({ healthy: true, problems: [], alerts: [] });
    await settle();
    expect(hook.bodies.filter((b) => b.alert)).toEqual([]);
  });

  it('offsite down: one offsite:lag alert however often it is seen; caught up: one recovered', async () => {
    offsiteRelay.down();
    const { backup } = await runSchedule();
    expect(backup).toMatchObject({ status: 'completed' });
    ids.lagging = backup!.id;
    await t.app.get(OffsiteCopier).drain();
    expect(await offsiteState(ids.lagging)).toBe('failed');
    // It finished two hours ago as far as the catalog knows: past OFFSITE_MAX_LAG_HOURS=1.
    await t.dataSource.query(`UPDATE strongroom_backups SET finished_at = $1 WHERE id = $2`, [
      ago(2 * HOUR),
      ids.lagging,
    ]);

    let st = await status();
    expect(st.healthy).toBe(false);
    expect(openKeys(st)).toEqual(expect.arrayContaining([OFFSITE_LAG_KEY, UNHEALTHY_KEY]));
    await status(); // seen again: no second webhook
    const open = await webhook(OFFSITE_LAG_KEY, 'offsite.lagging');
    expect(open).toMatchObject({
      severity: 'error',
      alert: { state: 'open' },
      details: { oldest: { id: ids.lagging } },
    });
    expect(await openMetric('offsite.lagging', 'error')).toBe(1);

    offsiteRelay.up();
    expect(await copiedOffsite(ids.lagging)).toBe('copied');
    st = await status();
    expect(st).toMatchObject({ healthy: true, alerts: [] });
    const recovered = await webhook(OFFSITE_LAG_KEY, 'alert.recovered');
    expect(recovered).toMatchObject({
      severity: 'info',
      alert: { state: 'resolved' },
      details: { alertType: 'offsite.lagging' },
    });
    await settle();
    expect(sent(OFFSITE_LAG_KEY).map((b) => b.type)).toEqual(['offsite.lagging', 'alert.recovered']);
    expect(sent(UNHEALTHY_KEY).map((b) => b.type)).toEqual(['status.unhealthy', 'alert.recovered']);
    expect(await openMetric('offsite.lagging', 'error')).toBe(0);
    const history = await request(t.http)
      .get('/api/alerts')
      .query({ key: OFFSITE_LAG_KEY })
      .set('X-API-Key', t.keys.auditor)
      .expect(200);
    expect(history.body.items).toEqual([
      expect.objectContaining({ state: 'resolved', type: 'offsite.lagging', resolvedAt: expect.any(String) }),
    ]);
  });

  it('primary copy deleted: an alert naming the backup, and a restore from the offsite copy', async () => {
    rmSync(join(store, 'backups', ids.first), { recursive: true, force: true });
    await execSql(target, ['DELETE FROM tasks WHERE id > 100']);
    const r = await recover(t, { backupId: ids.first, tables: ['projects', 'tasks'], safetyBackup: false });
    expect(r).toMatchObject({ status: 'completed', source: 'offsite' });
    expect(await taskCount()).toBe(TASKS);

    const alert = await webhook(primaryCopyKey(ids.first), 'backup.copy-unsound');
    expect(alert).toMatchObject({ severity: 'error', details: { backupId: ids.first } });
    const st = await status();
    // The data is safe (a sound copy exists): healthy, with the alert open beside it.
    expect(st.healthy).toBe(true);
    expect(openKeys(st)).toContain(primaryCopyKey(ids.first));
    expect(await openMetric('backup.copy-unsound', 'error')).toBe(1);
  });

  it('primary copy corrupted: an alert naming the part; verify and restore use the offsite copy', async () => {
    const dir = join(store, 'backups', ids.lagging);
    const parts = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => !f.endsWith('manifest.json') && statSync(join(dir, f)).isFile())
      .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size);
    const file = join(dir, parts[0]);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);

    const v = await request(t.http)
      .post(`/api/backups/${ids.lagging}/verify`)
      .set('X-API-Key', t.keys.operator)
      .send({})
      .expect(200);
    expect(v.body).toMatchObject({ ok: true, source: 'offsite' });
    await execSql(target, ['DELETE FROM tasks WHERE id > 50']);
    const r = await recover(t, { backupId: ids.lagging, tables: ['projects', 'tasks'], safetyBackup: false });
    expect(r).toMatchObject({ status: 'completed', source: 'offsite' });
    expect(await taskCount()).toBe(TASKS);

    const alert = await webhook(primaryCopyKey(ids.lagging), 'backup.copy-unsound');
    expect(alert.message).toContain(ids.lagging);
    expect(JSON.stringify(alert.details)).toContain(parts[0].split('/').pop()!);
    expect(openKeys(await status())).toContain(primaryCopyKey(ids.lagging));
    expect(await openMetric('backup.copy-unsound', 'error')).toBe(2);
    await settle();
    expect(sent(primaryCopyKey(ids.lagging), 'backup.copy-unsound')).toHaveLength(1);
  });

  // Mounting the tmpfs needs root (CI runs as root); elsewhere this case is reported as skipped, not hidden.
  (isRoot ? describe : describe.skip)('storage full', () => {
    it('storage full: the scheduled run fails with ENOSPC and alerts; space back: recovered', async () => {
      const key = scheduleFailedKey(scheduleId);
      // Fill the tmpfs to the last byte: the kernel answers the next write with ENOSPC.
      try {
        writeFileSync(join(mount.path, 'ballast'), Buffer.alloc(8 << 20));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const run = await runSchedule();
      // The job fails writing its parts (or, if even its first directory cannot be made, to start).
      expect(run.outcome === 'failed' || run.backup?.status === 'failed').toBe(true);
      if (run.backup) expect(run.backup.error).toMatch(/ENOSPC|no space/i);

      const alert = await webhook(key, 'backup.failed');
      expect(alert.message).toMatch(/ENOSPC|no space/i);
      const st = await status();
      expect(st.healthy).toBe(false);
      expect(st.problems.join()).toMatch(/last run failed: .*(ENOSPC|no space)/i);
      expect(openKeys(st)).toContain(key);
      expect(await openMetric('backup.failed', 'error')).toBe(1);

      rmSync(join(mount.path, 'ballast'));
      expect((await runSchedule()).backup).toMatchObject({ status: 'completed' });
      await webhook(key, 'alert.recovered');
      expect(openKeys(await status())).not.toContain(key);
      expect(await openMetric('backup.failed', 'error')).toBe(0);
      await settle();
      expect(sent(key).map((b) => b.type)).toEqual(['backup.failed', 'alert.recovered']);
    });
  });

  it('target database down: the scheduled run fails and alerts; back up: recovered, and a restore works', async () => {
    const key = scheduleFailedKey(scheduleId);
    const before = sent(key, 'backup.failed').length;
    targetRelay.down();
    const run = await runSchedule();
    // Either the job fails, or it cannot even start (listing the tables needs the database).
    expect(run.outcome === 'failed' || run.backup?.status === 'failed').toBe(true);
    await webhook(key, 'backup.failed', before + 1);
    const st = await status();
    expect(st.healthy).toBe(false);
    expect(openKeys(st)).toContain(key);
    expect(await openMetric('backup.failed', 'error')).toBe(1);

    targetRelay.up();
    const { backup } = await runSchedule();
    expect(backup).toMatchObject({ status: 'completed' });
    await webhook(key, 'alert.recovered', before + 1);
    expect(openKeys(await status())).not.toContain(key);
    await execSql(target, ['DELETE FROM tasks WHERE id > 10']);
    const r = await recover(t, { backupId: backup!.id, tables: ['projects', 'tasks'], safetyBackup: false });
    expect(r).toMatchObject({ status: 'completed', source: 'primary' });
    expect(await taskCount()).toBe(TASKS);
  });

  it('process killed mid-backup: its job is ended as failed and alerts; the next run: recovered', async () => {
    const key = scheduleFailedKey(scheduleId);
    const before = sent(key, 'backup.failed').length;
    // What a backup process killed an hour ago leaves: its job `running`, its heartbeat stale.
    const row = await insertBackup(t, {
      createdAt: ago(HOUR),
      finishedAt: null,
      status: 'running',
      type: 'tables',
      trigger: 'scheduled',
      scheduleId,
      owner: 'other-host:4242:feedbeef',
      heartbeatAt: ago(HOUR),
    });
    await t.dataSource
      .getRepository(ScheduleEntity)
      .update({ id: scheduleId }, { lastBackupId: row.id, lastStatus: null });
    await t.app.get(JobSweeper).sweep();

    const alert = await webhook(key, 'backup.failed', before + 1);
    expect(JSON.stringify(alert)).toContain(row.id);
    const st = await status();
    expect(st.problems.join()).toContain(`last run failed: backup ${row.id}: interrupted`);
    expect(openKeys(st)).toContain(key);
    expect(await openMetric('backup.failed', 'error')).toBe(1);

    expect((await runSchedule()).backup).toMatchObject({ status: 'completed' });
    await webhook(key, 'alert.recovered', before + 1);
    expect(await openMetric('backup.failed', 'error')).toBe(0);
  });

  it('a restart keeps open alerts without re-sending them; a schedule missed while stopped alerts once, across two instances', async () => {
    await status(); // whatever cleared is resolved before the stop
    const openBefore = (
      await request(t.http).get('/api/alerts').query({ state: 'open' }).set('X-API-Key', t.keys.auditor).expect(200)
    ).body.items as Body[];
    expect(openBefore.map((a) => a.key).sort()).toEqual(
      [primaryCopyKey(ids.first), primaryCopyKey(ids.lagging)].sort(),
    );
    await settle();
    await t.close();

    // Stopped for three days: the schedule's 02:00 runs passed with nobody to start them.
    const threeDaysAgo = ago(72 * HOUR);
    await pgQuery(
      catalog.url,
      `UPDATE strongroom_backups SET created_at = '${threeDaysAgo}' WHERE schedule_id = '${scheduleId}'`,
    );
    await pgQuery(
      catalog.url,
      `UPDATE strongroom_schedules SET last_fire_at = '${threeDaysAgo}' WHERE id = '${scheduleId}'`,
    );
    const sentBefore = hook.bodies.length;

    // Two instances start at once on the same catalog, both running schedules (and both checking at start).
    [t, second] = await Promise.all([
      createTestApp('postgres', env({ SCHEDULER_ENABLED: 'true' }), { db: catalog }),
      createTestApp('postgres', env({ SCHEDULER_ENABLED: 'true' }), { db: catalog }),
    ]);
    const key = scheduleDeadlineKey(scheduleId);
    const missed = await webhook(key, 'schedule.missed');
    expect(missed).toMatchObject({ severity: 'critical', details: { scheduleId, scheduleName: 'nightly' } });
    // Both check again, at the same moment: still one alert, one webhook.
    await Promise.all([t.app.get(StatusService).check(), second.app.get(StatusService).check()]);
    await Promise.all([settle(), second.app.get(NotificationsService).drain()]);
    expect(sent(key, 'schedule.missed')).toHaveLength(1);
    // The alerts open before the restart are there, the same episodes, and were not announced again.
    const st = await status(second);
    expect(st.problems.join()).toMatch(/schedule "nightly" .*no completed backup since/);
    expect(openKeys(st)).toEqual(expect.arrayContaining([key, ...openBefore.map((a) => a.key as string)]));
    for (const a of openBefore) {
      expect((st.alerts as Body[]).find((x) => x.key === a.key)).toMatchObject({
        id: a.id,
        firstSeenAt: a.firstSeenAt,
      });
      expect(sent(a.key as string, 'backup.copy-unsound')).toHaveLength(1);
    }
    expect(hook.bodies.slice(sentBefore).filter((b) => b.type === 'backup.copy-unsound')).toEqual([]);
    expect(await openMetric('schedule.missed', 'critical')).toBe(1);

    // The same key raised by both instances at once, then resolved by both: one of each wins.
    const race = { key: 'test:race', type: 'backup.failed' as const, severity: 'error' as const, message: 'race' };
    const raised = await Promise.all([t, second].map((x) => x.app.get(NotificationsService).raise(race)));
    expect(raised.filter((a) => a === 'new')).toHaveLength(1);
    const resolved = await Promise.all(
      [t, second].map((x) => x.app.get(NotificationsService).resolve('test:race', 'done')),
    );
    expect(resolved.filter(Boolean)).toHaveLength(1);
    await second.close();
    second = undefined;

    expect((await runSchedule()).backup).toMatchObject({ status: 'completed' });
    await webhook(key, 'alert.recovered');
    await settle();
    expect(sent('test:race').map((b) => b.type)).toEqual(['backup.failed', 'alert.recovered']);
    expect(sent(key).map((b) => b.type)).toEqual(['schedule.missed', 'alert.recovered']);
  });

  it('a clock jump forward: the schedule is overdue at once and alerts; back to the real time: recovered', async () => {
    const key = scheduleDeadlineKey(scheduleId);
    const jumped = await t.app.get(StatusService).check(new Date(Date.now() + 72 * HOUR));
    expect(jumped.healthy).toBe(false);
    expect(jumped.alerts.map((a) => a.key)).toContain(key);
    await webhook(key, 'schedule.missed', 2);
    expect(await openMetric('schedule.missed', 'critical')).toBe(1);

    const st = await status();
    expect(openKeys(st)).not.toContain(key);
    await webhook(key, 'alert.recovered', 2);
    expect(await openMetric('schedule.missed', 'critical')).toBe(0);
  });
});
