import request from 'supertest';
import { BackupsService } from '../../src/backup/backups.service';
import { nextRun } from '../../src/scheduler/cron-schedule';
import { ScheduleRunner } from '../../src/scheduler/schedule-runner.service';
import { ScheduleEntity } from '../../src/scheduler/schedule.entity';
import { createPgDatabase, ENGINES, createTestDatabase, tempDir } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { createTestApp, eventually } from '../support/test-app';

describe.each(ENGINES)('scheduler across restarts on %s', (engine) => {
  it('catches up a run missed while the service was down exactly once, not once per missed tick', async () => {
    const db = await createTestDatabase(engine);
    const dir = tempDir();
    const env = {
      BACKUP_DIR: dir.path,
      DEFAULT_SCHEDULE_ENABLED: 'false',
      RETENTION_CRON: '0 0 1 1 *',
      VERIFY_CRON: '0 0 1 1 *',
      DRILL_CRON: '0 0 1 1 *',
    };
    try {
      const first = await createTestApp(engine, env, { db });
      await seedSample(first.db, 20);
      const created = await request(first.http)
        .post('/api/schedules')
        .set('X-API-Key', first.adminKey)
        .send({ name: 'hourly', cron: '0 * * * *' })
        .expect(201);
      const id = created.body.id as string;
      // Pretend it last fired five hours ago: five hourly fires were missed while "down".
      const fiveHoursAgo = new Date(Date.now() - 5 * 3_600_000);
      await first.dataSource
        .getRepository(ScheduleEntity)
        .update({ id }, { lastFireAt: fiveHoursAgo.toISOString(), createdAt: fiveHoursAgo.toISOString() });
      // The HTTP audit hook records after the response; let it land before the "crash".
      await eventually(
        () => first.dataSource.query(`SELECT seq FROM strongroom_audit_events WHERE action = 'schedule.create'`),
        (r) => r.length === 1,
      );
      await first.close();

      const second = await createTestApp(
        engine,
        { ...env, SCHEDULER_ENABLED: 'true', CATCH_UP_GRACE_MINUTES: '120' },
        { db },
      );
      try {
        const list = await request(second.http)
          .get('/api/backups?trigger=scheduled')
          .set('X-API-Key', second.keys.auditor)
          .expect(200);
        expect(list.body.items).toHaveLength(1);
        expect(list.body.items[0].scheduleId).toBe(id);
        await second.app.get(BackupsService).waitFor(list.body.items[0].id);
        const done = await request(second.http)
          .get(`/api/backups/${list.body.items[0].id}`)
          .set('X-API-Key', second.keys.auditor)
          .expect(200);
        expect(done.body.status).toBe('completed');
        const s = await second.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id });
        const lastHour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
        expect(s.lastFireAt).toBe(lastHour.toISOString());
        // A second start finds nothing more to catch up.
        await expect(second.app.get(ScheduleRunner).catchUp(new Date())).resolves.toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await db.drop();
      dir.remove();
    }
  });

  it('does not catch up a missed run older than the grace period', async () => {
    const db = await createTestDatabase(engine);
    const dir = tempDir();
    const env = { BACKUP_DIR: dir.path, DEFAULT_SCHEDULE_ENABLED: 'false' };
    try {
      const t = await createTestApp(engine, env, { db });
      try {
        const created = await request(t.http)
          .post('/api/schedules')
          .set('X-API-Key', t.adminKey)
          .send({ name: 'daily', cron: '0 2 * * *' })
          .expect(201);
        const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
        await t.dataSource
          .getRepository(ScheduleEntity)
          .update({ id: created.body.id }, { lastFireAt: threeDaysAgo.toISOString() });
        const now = new Date(nextDayAt(2, 0).getTime() + 90 * 60_000); // 03:30, ninety minutes after the missed 02:00
        const runner = t.app.get(ScheduleRunner);
        const graceTooShort = await runnerWithGrace(t, 60, () => runner.catchUp(now));
        expect(graceTooShort).toEqual([]);
        const graceLongEnough = await runnerWithGrace(t, 120, () => runner.catchUp(now));
        expect(graceLongEnough).toEqual([created.body.id]);
        const s = await t.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id: created.body.id });
        await t.app.get(BackupsService).waitFor(s.lastBackupId!);
      } finally {
        await t.close();
      }
    } finally {
      await db.drop();
      dir.remove();
    }
  });
});

describe('several instances on one PostgreSQL database', () => {
  it('start exactly one backup per tick, whichever instance ticks first', async () => {
    const db = await createPgDatabase();
    const dir = tempDir();
    const env = { BACKUP_DIR: dir.path, DEFAULT_SCHEDULE_ENABLED: 'false' };
    const a = await createTestApp('postgres', env, { db });
    const b = await createTestApp('postgres', env, { db });
    try {
      await seedSample(a.db, 20);
      const created = await request(a.http)
        .post('/api/schedules')
        .set('X-API-Key', a.adminKey)
        .send({ name: 'often', cron: '* * * * * *' })
        .expect(201);
      const id = created.body.id as string;
      const base = Math.ceil(Date.now() / 1000) * 1000;
      for (let i = 0; i < 3; i++) {
        const fireAt = new Date(base + i * 1000);
        const outcomes = await Promise.all([a, b, a, b].map((x) => x.app.get(ScheduleRunner).tick(id, fireAt)));
        // Sorted whole, so a failure shows every instance's outcome.
        expect([...outcomes].sort()).toEqual(['not-claimed', 'not-claimed', 'not-claimed', 'started']);
        const s = await a.dataSource.getRepository(ScheduleEntity).findOneByOrFail({ id });
        await Promise.all([a, b].map((x) => x.app.get(BackupsService).waitFor(s.lastBackupId!)));
      }
      const list = await request(a.http)
        .get('/api/backups?trigger=scheduled')
        .set('X-API-Key', a.keys.auditor)
        .expect(200);
      expect(list.body.items).toHaveLength(3);
      expect(
        list.body.items.every(
          (x: { status: string; scheduleId: string }) => x.status === 'completed' && x.scheduleId === id,
        ),
      ).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
      dir.remove();
    }
  });

  it('with real every-second cron jobs in both, never start two backups for one fire time', async () => {
    const db = await createPgDatabase();
    const dir = tempDir();
    const env = {
      BACKUP_DIR: dir.path,
      DEFAULT_SCHEDULE_ENABLED: 'false',
      SCHEDULER_ENABLED: 'true',
      RETENTION_CRON: '0 0 1 1 *',
      VERIFY_CRON: '0 0 1 1 *',
      DRILL_CRON: '0 0 1 1 *',
    };
    const a = await createTestApp('postgres', env, { db });
    const b = await createTestApp('postgres', env, { db });
    try {
      await seedSample(a.db, 20);
      const windowStart = new Date();
      const created = await request(a.http)
        .post('/api/schedules')
        .set('X-API-Key', a.adminKey)
        .send({ name: 'often', cron: '*/2 * * * * *' })
        .expect(201);
      await b.app.get(ScheduleRunner).sync();
      // Let both instances tick several times.
      await new Promise((r) => setTimeout(r, 7000));
      await request(a.http)
        .patch(`/api/schedules/${created.body.id}`)
        .set('X-API-Key', a.adminKey)
        .send({ enabled: false })
        .expect(200);
      await b.app.get(ScheduleRunner).sync();
      const windowEnd = new Date();
      let fireTimes = 0;
      for (
        let at = nextRun('*/2 * * * * *', 'UTC', windowStart);
        at <= windowEnd;
        at = nextRun('*/2 * * * * *', 'UTC', at)
      )
        fireTimes++;
      const audit = await request(a.http)
        .get(`/api/audit?action=backup.create&limit=200`)
        .set('X-API-Key', a.adminKey)
        .expect(200);
      const skipped = await request(a.http)
        .get(`/api/audit?action=schedule.skipped&limit=200`)
        .set('X-API-Key', a.adminKey)
        .expect(200);
      const started = audit.body.items.length;
      // Two instances ticked at every fire time; each fire time was started or skipped at most once in total.
      expect(started).toBeGreaterThanOrEqual(1);
      expect(started + skipped.body.items.length).toBeLessThanOrEqual(fireTimes);
      const fires = skipped.body.items.map((e: { details: { fireAt: string } }) => e.details.fireAt);
      expect(new Set(fires).size).toBe(fires.length);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
      dir.remove();
    }
  });
});

function nextDayAt(hour: number, minute: number): Date {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1, hour, minute));
}

async function runnerWithGrace<T>(
  t: { config: { CATCH_UP_GRACE_MINUTES: number } },
  minutes: number,
  work: () => Promise<T>,
): Promise<T> {
  const before = t.config.CATCH_UP_GRACE_MINUTES;
  t.config.CATCH_UP_GRACE_MINUTES = minutes;
  try {
    return await work();
  } finally {
    t.config.CATCH_UP_GRACE_MINUTES = before;
  }
}
