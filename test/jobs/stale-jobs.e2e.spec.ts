/**
 * Jobs never stay `running` after their owner is gone: a running job's heartbeat is renewed
 * with its lease; any instance ends a job whose heartbeat is stale (at boot, periodically,
 * before a scheduler tick, when /api/status is computed, when its lease blocks a request),
 * frees its lease, and the scheduler then does not skip.
 */
import request from 'supertest';
import { BackupEntity } from '../../src/backup/backup.entity';
import { BackupsService } from '../../src/backup/backups.service';
import { JobSweeper } from '../../src/backup/job-sweeper';
import { TargetDatabase } from '../../src/backup/target-database';
import { LeaseEntity } from '../../src/database/lease.entity';
import { LeaseService } from '../../src/database/lease.service';
import { RecoveryEntity } from '../../src/recovery/recovery.entity';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.service';
import { ScheduleEntity } from '../../src/scheduler/schedule.entity';
import { insertBackup } from '../scheduler/schedule-helpers';
import { ENGINES } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';

const TTL = 60;
const OTHER = 'other-host:4242:feedbeef';

describe.each(ENGINES)('stale jobs on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine, {
      DEFAULT_SCHEDULE_ENABLED: 'false',
      LEASE_TTL_SECONDS: String(TTL),
      JOB_STALE_AFTER_TTLS: '2',
    });
    await seedSample(t.db, 200);
  });
  afterAll(async () => {
    await t.close();
  });
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const leaseName = () => t.app.get(TargetDatabase).leaseName;
  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

  /** A scheduled backup `running` in another instance (another host), holding the data lease, last heard of `beatAgo` seconds ago. */
  async function runningElsewhere(scheduleId: string, beatAgo: number): Promise<{ row: BackupEntity; owner: string }> {
    const held = await t.app.get(LeaseService).acquire(leaseName(), OTHER);
    expect(held).not.toBeNull();
    const row = await insertBackup(t, {
      createdAt: ago(beatAgo + 5),
      startedAt: ago(beatAgo + 5),
      finishedAt: null,
      status: 'running',
      trigger: 'scheduled',
      scheduleId,
      owner: held!.owner,
      heartbeatAt: ago(beatAgo),
    });
    await t.dataSource
      .getRepository(ScheduleEntity)
      .update({ id: scheduleId }, { lastBackupId: row.id, lastStatus: null });
    return { row, owner: held!.owner };
  }

  async function schedule(name: string): Promise<string> {
    const s = await request(t.http).post('/api/schedules').set(admin()).send({ name, cron: '0 2 * * *' }).expect(201);
    return s.body.id as string;
  }

  it('/api/status ends a job whose heartbeat is stale and reports the failed run at once; its lease is freed and the next tick starts', async () => {
    const id = await schedule('stale-status');
    const { row } = await runningElsewhere(id, 3 * TTL);
    const status = await request(t.http).get('/api/status').set(admin()).expect(200);
    expect(status.body.healthy).toBe(false);
    expect(status.body.problems.join('\n')).toContain(
      `schedule "stale-status" (${id}): last run failed: backup ${row.id}: interrupted: its heartbeat stopped`,
    );
    const ended = await request(t.http).get(`/api/backups/${row.id}`).set(admin()).expect(200);
    expect(ended.body).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^interrupted: its heartbeat stopped/),
    });
    expect(await t.app.get(LeaseService).holder(leaseName())).toBeNull();
    const outcome = await t.app.get(ScheduleRunner).tick(id, new Date(Date.now() + 60_000));
    expect(outcome).toBe('started');
    const s = await t.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id });
    await t.app.get(BackupsService).waitFor(s.lastBackupId!);
    await t.dataSource.getRepository(ScheduleEntity).update({ id }, { enabled: false });
  });

  it('a scheduler tick ends the stale previous run instead of skipping', async () => {
    const id = await schedule('stale-tick');
    const { row } = await runningElsewhere(id, 3 * TTL);
    const outcome = await t.app.get(ScheduleRunner).tick(id, new Date(Date.now() + 120_000));
    expect(outcome).toBe('started');
    const ended = await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id: row.id });
    expect(ended.status).toBe('failed');
    const s = await t.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id });
    expect(s.lastBackupId).not.toBe(row.id);
    await t.app.get(BackupsService).waitFor(s.lastBackupId!);
    const skipped = await request(t.http)
      .get(`/api/audit?action=schedule.skipped&resourceId=${id}`)
      .set(admin())
      .expect(200);
    expect(skipped.body.items).toEqual([]);
    await t.dataSource.getRepository(ScheduleEntity).update({ id }, { enabled: false });
  });

  it("a request blocked by a stale job's lease ends that job and goes ahead (202, not 409)", async () => {
    const id = await schedule('stale-request');
    const { row } = await runningElsewhere(id, 3 * TTL);
    const res = await request(t.http).post('/api/backups').set(admin()).send({}).expect(202);
    await t.app.get(BackupsService).waitFor(res.body.id);
    expect((await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id: row.id })).status).toBe('failed');
    await t.dataSource.getRepository(ScheduleEntity).update({ id }, { enabled: false });
  });

  it('leaves alone a job whose heartbeat is fresh: its lease still refuses others', async () => {
    const id = await schedule('fresh');
    const { row, owner } = await runningElsewhere(id, 5);
    try {
      expect(await t.app.get(JobSweeper).sweep()).toBe(0);
      await request(t.http).post('/api/backups').set(admin()).send({}).expect(409);
      expect((await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id: row.id })).status).toBe('running');
    } finally {
      await t.dataSource.getRepository(BackupEntity).update({ id: row.id }, { status: 'failed', owner: null });
      await t.app.get(LeaseService).releaseOwner(owner);
      await t.dataSource.getRepository(ScheduleEntity).update({ id }, { enabled: false });
    }
  });

  it('renews the heartbeat with the lease, and a beat that finds its lease taken stops the job', async () => {
    const leases = t.app.get(LeaseService);
    const held = await leases.acquire(leaseName());
    expect(held).not.toBeNull();
    const row = await insertBackup(t, {
      createdAt: ago(100),
      startedAt: ago(100),
      finishedAt: null,
      status: 'running',
      owner: held!.owner,
      heartbeatAt: ago(100),
    });
    let lost = 0;
    const keeper = leases.keepAlive(held!, { onLost: () => lost++ });
    try {
      keeper.track(BackupEntity, row.id);
      const expiresBefore = held!.expiresAt;
      await new Promise((r) => setTimeout(r, 5));
      await expect(keeper.beat()).resolves.toBe(true);
      const beaten = await t.dataSource.getRepository(BackupEntity).findOneByOrFail({ id: row.id });
      expect(beaten.heartbeatAt! > ago(5)).toBe(true);
      const lease = await t.dataSource.getRepository(LeaseEntity).findOneByOrFail({ name: leaseName() });
      expect(lease.expiresAt > expiresBefore).toBe(true);
      // Another instance found it stale and freed the lease: the next beat says so, once.
      await leases.releaseOwner(held!.owner);
      await expect(keeper.beat()).resolves.toBe(false);
      await expect(keeper.beat()).resolves.toBe(false);
      expect(lost).toBe(1);
    } finally {
      keeper.stop();
      await t.dataSource.getRepository(BackupEntity).update({ id: row.id }, { status: 'failed', owner: null });
    }
  });

  it('ends a stale recovery whose restore never began as failed, saying the tables are as before', async () => {
    const held = await t.app.get(LeaseService).acquire(leaseName(), OTHER);
    const b = await request(t.http).post('/api/backups').set(admin()).send({}).expect(409);
    expect(b.body.message).toMatch(/another backup or restore/);
    const id = '3f1d2c7e-0000-4000-8000-000000000001';
    await t.dataSource.getRepository(RecoveryEntity).save({
      id,
      backupId: '3f1d2c7e-0000-4000-8000-0000000000ff',
      mode: 'replace',
      tables: ['tasks'],
      status: 'running',
      safetyBackupId: null,
      rowsWritten: 0,
      createdAt: ago(500),
      startedAt: ago(500),
      finishedAt: null,
      error: null,
      options: { safetyBackup: true, allowSchemaMismatch: false, files: false, requestedTables: null },
      rollbackOf: null,
      rolledBackBy: null,
      requestedBy: 'test',
      owner: held!.owner,
      heartbeatAt: ago(400),
      commitToken: null,
      note: null,
    });
    expect(await t.app.get(JobSweeper).sweep()).toBe(1);
    const r = await request(t.http).get(`/api/recoveries/${id}`).set(admin()).expect(200);
    expect(r.body).toMatchObject({
      status: 'failed',
      note: null,
      error: expect.stringMatching(/stopped before its restore committed.*hold what they held before/),
    });
    expect(await t.app.get(LeaseService).holder(leaseName())).toBeNull();
  });
});
