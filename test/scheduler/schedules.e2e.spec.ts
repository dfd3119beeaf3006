import request from 'supertest';
import { LeaseService } from '../../src/database/lease.service';
import { TargetDatabase } from '../../src/backup/target-database';
import { nextRun } from '../../src/scheduler/cron-schedule';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.service';
import { ScheduleEntity } from '../../src/scheduler/schedule.entity';
import { waitForBackup } from '../support/backup-helpers';
import { ENGINES } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { insertBackup } from './schedule-helpers';

describe.each(ENGINES)('schedules over HTTP on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    // The scheduler runs (jobs are registered) but every test schedule fires on 1 January at the earliest.
    t = await createTestApp(engine, {
      SCHEDULER_ENABLED: 'true',
      RETENTION_CRON: '0 0 1 1 *',
      VERIFY_CRON: '0 0 1 1 *',
      DRILL_CRON: '0 0 1 1 *',
    });
    await seedSample(t.db, 50);
  });
  afterAll(async () => {
    await t.close();
  });
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const runner = () => t.app.get(ScheduleRunner);

  it('creates the default daily schedule on first start, and registers its job', async () => {
    const res = await request(t.http).get('/api/schedules').set('X-API-Key', t.keys.auditor).expect(200);
    const daily = res.body.items.find((s: { name: string }) => s.name === 'daily');
    expect(daily).toMatchObject({
      cron: '0 2 * * *',
      timezone: 'UTC',
      type: 'full',
      enabled: true,
      lastRunAt: null,
      lastStatus: null,
    });
    expect(res.body.nextCursor).toBeNull();
    expect(runner().jobFor(daily.id)).not.toBeNull();
  });

  it('rejects a bad cron expression or time zone with a 400 that names it', async () => {
    const cron = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'x', cron: '61 * * * *' })
      .expect(400);
    expect(cron.body.message).toMatch(/minute field '61'/);
    const fields = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'x', cron: '* * *' })
      .expect(400);
    expect(fields.body.message).toMatch(/cron: expected 5 or 6 fields/);
    const zone = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'x', cron: '0 2 * * *', timezone: 'Mars/Olympus' })
      .expect(400);
    expect(zone.body.message).toMatch(/timezone: unknown IANA time zone 'Mars\/Olympus'/);
    const retention = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'x', cron: '0 2 * * *', retention: { daily: -1 } })
      .expect(400);
    expect(JSON.stringify(retention.body.message)).toMatch(/daily/);
    // A policy that could keep nothing is refused, naming each field; the schedule is not created.
    for (const [field, value] of [
      ['keepLast', 0],
      ['keepLast', -3],
      ['maxAgeDays', 0],
      ['maxTotalBytes', -1],
    ] as const) {
      const bad = await request(t.http)
        .post('/api/schedules')
        .set(admin())
        .send({ name: 'x', cron: '0 2 * * *', retention: { [field]: value } })
        .expect(400);
      expect(JSON.stringify(bad.body.message)).toContain(`retention.${field} must not be less than 1`);
    }
    const tables = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'x', cron: '0 2 * * *', type: 'tables', tables: ['nope'] })
      .expect(400);
    expect(tables.body.message).toMatch(/nope/);
  });

  it('applies create, edit, disable and delete at once: the registry holds the job with the exact next run', async () => {
    const created = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'berlin', cron: '30 2 * * *', timezone: 'Europe/Berlin', retention: { keepLast: 3 } })
      .expect(201);
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`/api/schedules/${id}`);
    expect(created.body.retention).toEqual({
      keepLast: 3,
      daily: 7,
      weekly: 4,
      monthly: 12,
      yearly: 0,
      maxAgeDays: null,
      maxTotalBytes: null,
    });
    const expected = nextRun('30 2 * * *', 'Europe/Berlin', new Date()).toISOString();
    expect(created.body.nextRunAt).toBe(expected);
    expect(runner().jobFor(id)?.nextDate().toJSDate().toISOString()).toBe(expected);

    const edited = await request(t.http)
      .patch(`/api/schedules/${id}`)
      .set(admin())
      .send({ cron: '15 4 * * 1', retention: { weekly: 9 } })
      .expect(200);
    const expectedEdit = nextRun('15 4 * * 1', 'Europe/Berlin', new Date()).toISOString();
    expect(edited.body).toMatchObject({
      cron: '15 4 * * 1',
      nextRunAt: expectedEdit,
      retention: { keepLast: 3, weekly: 9 },
    });
    expect(runner().jobFor(id)?.nextDate().toJSDate().toISOString()).toBe(expectedEdit);
    const got = await request(t.http).get(`/api/schedules/${id}`).set('X-API-Key', t.keys.auditor).expect(200);
    expect(got.body.cron).toBe('15 4 * * 1');

    const badEdit = await request(t.http)
      .patch(`/api/schedules/${id}`)
      .set(admin())
      .send({ timezone: 'Nowhere/City' })
      .expect(400);
    expect(badEdit.body.message).toMatch(/timezone/);

    const disabled = await request(t.http)
      .patch(`/api/schedules/${id}`)
      .set(admin())
      .send({ enabled: false })
      .expect(200);
    expect(disabled.body.nextRunAt).toBeNull();
    expect(runner().jobFor(id)).toBeNull();
    await request(t.http).patch(`/api/schedules/${id}`).set(admin()).send({ enabled: true }).expect(200);
    expect(runner().jobFor(id)).not.toBeNull();

    await request(t.http).delete(`/api/schedules/${id}`).set(admin()).expect(204);
    expect(runner().jobFor(id)).toBeNull();
    await request(t.http).get(`/api/schedules/${id}`).set(admin()).expect(404);
  });

  it('pages the list with a cursor, newest first', async () => {
    for (const name of ['p1', 'p2', 'p3'])
      await request(t.http)
        .post('/api/schedules')
        .set(admin())
        .send({ name, cron: '0 3 * * *', enabled: false })
        .expect(201);
    const first = await request(t.http).get('/api/schedules?limit=2').set(admin()).expect(200);
    expect(first.body.items.map((s: { name: string }) => s.name)).toEqual(['p3', 'p2']);
    const second = await request(t.http)
      .get(`/api/schedules?limit=2&cursor=${first.body.nextCursor}`)
      .set(admin())
      .expect(200);
    expect(second.body.items.map((s: { name: string }) => s.name)).toEqual(['p1', 'daily']);
  });

  it('runs a schedule now: 202 with the scheduled backup it started, and records how it ended', async () => {
    const s = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'tasks-only', cron: '0 0 1 1 *', type: 'tables', tables: ['tasks'] })
      .expect(201);
    const res = await request(t.http)
      .post(`/api/schedules/${s.body.id}/run`)
      .set('X-API-Key', t.keys.operator)
      .expect(202);
    expect(res.body).toMatchObject({ trigger: 'scheduled', scheduleId: s.body.id, type: 'tables' });
    expect(res.headers.location).toBe(`/api/backups/${res.body.id}`);
    const done = await waitForBackup(t, res.body.id);
    expect(done.status).toBe('completed');
    const after = await waitForSchedule(t, s.body.id, (x) => x.lastStatus !== null);
    expect(after).toMatchObject({ lastStatus: 'completed', lastBackupId: res.body.id });
    expect(after.lastRunAt).not.toBeNull();
  });

  it('skips (and audits) a tick while the data lease is held or the previous run still goes; never queues it', async () => {
    const s = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'busy', cron: '* * * * *' })
      .expect(201);
    const leases = t.app.get(LeaseService);
    const held = await leases.acquire(t.app.get(TargetDatabase).leaseName, 'someone-else:1:x');
    expect(held).not.toBeNull();
    const fire1 = new Date(Date.now() + 60_000);
    try {
      await expect(runner().tick(s.body.id, fire1)).resolves.toBe('skipped');
    } finally {
      await leases.release(held!);
    }
    // The same fire time is not retried later: it was claimed and skipped.
    await expect(runner().tick(s.body.id, fire1)).resolves.toBe('not-claimed');

    const running = await insertBackup(t, {
      createdAt: new Date().toISOString(),
      status: 'running',
      trigger: 'scheduled',
      scheduleId: s.body.id,
    });
    await t.dataSource
      .getRepository(ScheduleEntity)
      .update({ id: s.body.id }, { lastBackupId: running.id, lastStatus: null });
    await expect(runner().tick(s.body.id, new Date(fire1.getTime() + 60_000))).resolves.toBe('skipped');
    await t.dataSource.getRepository(ScheduleEntity).update({ id: s.body.id }, { enabled: false });

    const audit = await request(t.http)
      .get(`/api/audit?action=schedule.skipped&resourceId=${s.body.id}`)
      .set(admin())
      .expect(200);
    expect(audit.body.items).toHaveLength(2);
    expect(audit.body.items.map((e: { details: { reason: string } }) => e.details.reason).join('\n')).toMatch(
      /still running/,
    );
    const backups = await request(t.http).get('/api/backups?trigger=scheduled').set(admin()).expect(200);
    expect(
      backups.body.items.filter(
        (b: { scheduleId: string; status: string }) => b.scheduleId === s.body.id && b.status !== 'running',
      ),
    ).toEqual([]);
  });
});

async function waitForSchedule(
  t: TestApp,
  id: string,
  accept: (s: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const res = await request(t.http).get(`/api/schedules/${id}`).set('X-API-Key', t.adminKey);
    if (accept(res.body)) return res.body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`schedule ${id} never reached the expected state`);
}
