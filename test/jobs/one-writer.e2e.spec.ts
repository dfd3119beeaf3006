/**
 * Invariant 7 (one writer), within one process too: however many backups and restores of
 * the same data are asked for at once, exactly one is accepted (202) and every other one is
 * refused at request time (409), never queued or run as a second job; on one instance and on
 * two instances (two processes) sharing one catalog, on both engines. Across two processes
 * requests arrive spread out, so there the check is that no two jobs ever overlapped.
 */
import request from 'supertest';
import { BackupsService } from '../../src/backup/backups.service';
import { RecoveriesService } from '../../src/recovery/recoveries.service';
import { createBackup } from '../support/backup-helpers';
import { ENGINES, tempDir } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { startServerChild } from '../support/server-child';
import { createTestApp, TestApp } from '../support/test-app';

const N = 20;

function statuses(results: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

async function openJobs(t: TestApp): Promise<{ backups: number; recoveries: number }> {
  const [b] = await t.dataSource.query(
    `SELECT count(*) AS n FROM strongroom_backups WHERE status IN ('pending', 'running')`,
  );
  const [r] = await t.dataSource.query(
    `SELECT count(*) AS n FROM strongroom_recoveries WHERE status IN ('pending', 'running')`,
  );
  return { backups: Number(b.n), recoveries: Number(r.n) };
}

describe.each(ENGINES)('one writer on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine, { DEFAULT_SCHEDULE_ENABLED: 'false' });
    await seedSample(t.db, 2000);
  });
  afterAll(async () => {
    await t.close();
  });
  const admin = () => ({ 'X-API-Key': t.adminKey });

  it(`${N} backups asked for at once on one instance: one 202, ${N - 1} 409, one job`, async () => {
    const before = (await t.dataSource.query(`SELECT id FROM strongroom_backups`)).length;
    const results = await Promise.all(
      Array.from({ length: N }, () => request(t.http).post('/api/backups').set(admin()).send({})),
    );
    expect(statuses(results)).toEqual({ 202: 1, 409: N - 1 });
    for (const r of results.filter((x) => x.status === 409))
      expect(r.body.message).toMatch(/another backup or restore/);
    const accepted = results.find((r) => r.status === 202)!;
    const rows: { id: string }[] = await t.dataSource.query(`SELECT id FROM strongroom_backups`);
    expect(rows.length - before).toBe(1);
    await t.app.get(BackupsService).waitFor(accepted.body.id);
    const done = await request(t.http).get(`/api/backups/${accepted.body.id}`).set(admin()).expect(200);
    expect(done.body.status).toBe('completed');
  });

  it('two backups in a row: the second is refused while the first runs, accepted once it ended', async () => {
    const first = await request(t.http).post('/api/backups').set(admin()).send({}).expect(202);
    await request(t.http).post('/api/backups').set(admin()).send({}).expect(409);
    await t.app.get(BackupsService).waitFor(first.body.id);
    const second = await request(t.http).post('/api/backups').set(admin()).send({}).expect(202);
    await t.app.get(BackupsService).waitFor(second.body.id);
    expect(await openJobs(t)).toEqual({ backups: 0, recoveries: 0 });
  });

  it('restores and a backup asked for at once: exactly one of them runs', async () => {
    const b = await createBackup(t);
    expect(b.status).toBe('completed');
    const count = async () => ({
      backups: Number(
        (await t.dataSource.query(`SELECT count(*) AS n FROM strongroom_backups WHERE trigger <> 'pre-restore'`))[0].n,
      ),
      recoveries: Number((await t.dataSource.query(`SELECT count(*) AS n FROM strongroom_recoveries`))[0].n),
    });
    const before = await count();
    const restore = () =>
      request(t.http)
        .post('/api/recoveries')
        .set(admin())
        .send({ backupId: b.id, confirm: `RESTORE ${b.id as string}` });
    const results = await Promise.all([
      restore(),
      restore(),
      request(t.http).post('/api/backups').set(admin()).send({}),
      restore(),
      restore(),
      restore(),
    ]);
    expect(statuses(results)).toEqual({ 202: 1, 409: 5 });
    const index = results.findIndex((r) => r.status === 202);
    const accepted = results[index];
    const kind = index === 2 ? 'backups' : 'recoveries';
    // No second job was ever created (a recovery's own safety backup aside).
    const after = await count();
    expect({ backups: after.backups - before.backups, recoveries: after.recoveries - before.recoveries }).toEqual(
      kind === 'backups' ? { backups: 1, recoveries: 0 } : { backups: 0, recoveries: 1 },
    );
    if (kind === 'recoveries') await t.app.get(RecoveriesService).waitFor(accepted.body.id);
    else await t.app.get(BackupsService).waitFor(accepted.body.id);
    const done = await request(t.http).get(`/api/${kind}/${accepted.body.id}`).set(admin()).expect(200);
    expect(done.body.status).toBe('completed');
    expect(await openJobs(t)).toEqual({ backups: 0, recoveries: 0 });
  });
});

describe.each(ENGINES)('one writer across two instances (two processes) on one %s catalog', (engine) => {
  it(`${N} backups asked of both instances at once: never two jobs at the same time`, async () => {
    const store = tempDir();
    const a = await createTestApp(engine, { DEFAULT_SCHEDULE_ENABLED: 'false', BACKUP_DIR: store.path });
    const b = await startServerChild({ DATABASE_URL: a.db.url, BACKUP_DIR: store.path, ADMIN_API_KEY: a.adminKey });
    try {
      await seedSample(a.db, 2000);
      const results = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          request(i % 2 ? b.url : a.http)
            .post('/api/backups')
            .set('X-API-Key', a.adminKey)
            .send({}),
        ),
      );
      // Requests to the child process arrive spread out, so a backup can end and a later
      // request rightly take the lease again: what must hold is that every request was either
      // accepted or refused, and that no two accepted jobs ever ran at the same time.
      const counts = statuses(results);
      const accepted = counts[202] ?? 0;
      expect(accepted).toBeGreaterThanOrEqual(1);
      expect(counts).toEqual(accepted === N ? { 202: N } : { 202: accepted, 409: N - accepted });
      for (;;) {
        const open = await a.dataSource.query(
          `SELECT count(*) AS n FROM strongroom_backups WHERE status IN ('pending', 'running')`,
        );
        if (Number(open[0].n) === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const rows: { status: string; started_at: string; finished_at: string }[] = await a.dataSource.query(
        `SELECT status, started_at, finished_at FROM strongroom_backups ORDER BY started_at`,
      );
      expect(rows).toHaveLength(accepted);
      for (const r of rows) expect(r.status).toBe('completed');
      for (let i = 1; i < rows.length; i++) {
        expect(new Date(rows[i].started_at).getTime()).toBeGreaterThanOrEqual(
          new Date(rows[i - 1].finished_at).getTime(),
        );
      }
    } finally {
      await b.stop();
      await a.close();
      store.remove();
    }
  });
});
