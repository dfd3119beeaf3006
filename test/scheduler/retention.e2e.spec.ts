import request from 'supertest';
import { ENGINES } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';
import { BackupEntity } from '../../src/backup/backup.entity';
import { daysAgo, insertBackup } from './schedule-helpers';

describe.each(ENGINES)('retention over HTTP on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine, {
      DEFAULT_SCHEDULE_ENABLED: 'false',
      ADHOC_RETENTION_DAYS: '30',
      FAILED_BACKUP_TTL_HOURS: '72',
    });
  });
  afterAll(async () => {
    await t.close();
  });
  const admin = () => ({ 'X-API-Key': t.adminKey });

  it('previews with a reason for every backup, applies exactly that set, and a second apply deletes nothing', async () => {
    const s = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({
        name: 'nightly',
        cron: '0 2 * * *',
        retention: { keepLast: 2, daily: 3, weekly: 0, monthly: 0, yearly: 0 },
      })
      .expect(201);
    const now = Date.now();
    // Ten nightly backups, one a day: keepLast 2 and daily 3 keep the newest three.
    const nightly = [];
    for (let d = 0; d < 10; d++)
      nightly.push(
        await insertBackup(t, { createdAt: daysAgo(d + 0.1, now), trigger: 'scheduled', scheduleId: s.body.id }),
      );
    const pinnedOld = await insertBackup(t, {
      createdAt: daysAgo(200, now),
      trigger: 'scheduled',
      scheduleId: s.body.id,
      pinned: true,
    });
    const failedRecent = await insertBackup(t, {
      createdAt: daysAgo(1, now),
      trigger: 'scheduled',
      scheduleId: s.body.id,
      status: 'failed',
      error: 'boom',
    });
    const failedOld = await insertBackup(t, {
      createdAt: daysAgo(5, now),
      trigger: 'scheduled',
      scheduleId: s.body.id,
      status: 'failed',
      error: 'boom',
    });
    const manualRecent = await insertBackup(t, { createdAt: daysAgo(3, now), trigger: 'manual' });
    const manualOld = await insertBackup(t, { createdAt: daysAgo(45, now), trigger: 'manual' });
    const preRestoreOld = await insertBackup(t, { createdAt: daysAgo(31, now), trigger: 'pre-restore' });
    const orphan = await insertBackup(t, {
      createdAt: daysAgo(60, now),
      trigger: 'scheduled',
      scheduleId: '00000000-0000-4000-8000-00000000dead',
    });

    const preview = await request(t.http).get('/api/retention/preview').set('X-API-Key', t.keys.auditor).expect(200);
    const keep = new Map<string, string[]>(
      preview.body.keep.map((k: { id: string; reasons: string[] }) => [k.id, k.reasons]),
    );
    const del = new Map<string, string[]>(
      preview.body.delete.map((k: { id: string; reasons: string[] }) => [k.id, k.reasons]),
    );
    expect(keep.size + del.size).toBe(17);
    for (const reasons of [...keep.values(), ...del.values()]) expect(reasons.length).toBeGreaterThan(0);

    expect([...keep.keys()]).toEqual(
      expect.arrayContaining([
        nightly[0].id,
        nightly[1].id,
        nightly[2].id,
        pinnedOld.id,
        failedRecent.id,
        manualRecent.id,
      ]),
    );
    expect(keep.get(nightly[0].id)!.join()).toMatch(/newest/);
    expect(keep.get(pinnedOld.id)!.join()).toMatch(/pinned/);
    expect(keep.get(failedRecent.id)!.join()).toMatch(/failed, kept 72h/);
    const expectedDeletes = [
      ...nightly.slice(3).map((b) => b.id),
      failedOld.id,
      manualOld.id,
      preRestoreOld.id,
      orphan.id,
    ].sort();
    // The policies would delete 7 of the 11 nightly backups and 3 of the 4 ad-hoc ones: more
    // than half of each group, so those wait for an admin; only the failed one goes now.
    expect([...del.keys()]).toEqual([failedOld.id]);
    const heldIds = preview.body.held.flatMap((h: { delete: string[] }) => h.delete);
    expect([...heldIds, failedOld.id].sort()).toEqual(expectedDeletes);
    expect(keep.get(manualOld.id)!.join()).toMatch(/held: would delete 3 of 4 .*would delete: .*older than 30 days/);
    expect(keep.get(nightly[5].id)!.join()).toMatch(/schedule "nightly": matches no keep rule/);

    const applied = await request(t.http).post('/api/retention/apply').set(admin()).expect(200);
    expect(applied.body.deleted).toEqual([failedOld.id]);
    expect(applied.body.held).toHaveLength(2);
    const decisions = (await request(t.http).get('/api/retention/decisions?status=pending').set(admin()).expect(200))
      .body.items;
    expect(decisions.map((d: { id: string }) => d.id).sort()).toEqual(
      applied.body.held.map((h: { decisionId: string }) => h.decisionId).sort(),
    );
    // A second run while they wait records no second decision.
    await request(t.http).post('/api/retention/apply').set(admin()).expect(200);
    expect(
      (await request(t.http).get('/api/retention/decisions').set(admin()).expect(200)).body.items.map(
        (d: { id: string }) => d.id,
      ),
    ).toEqual(decisions.map((d: { id: string }) => d.id));
    const refused = await request(t.http)
      .post(`/api/retention/decisions/${decisions[0].id}/confirm`)
      .set(admin())
      .send({ confirm: 'yes' })
      .expect(400);
    expect(refused.body.message).toContain(`confirm: this deletes`);
    expect(refused.body.message).toContain(`"DELETE ${decisions[0].id}"`);
    await request(t.http)
      .post(`/api/retention/decisions/${decisions[0].id}/confirm`)
      .set('X-API-Key', t.keys.operator)
      .send({ confirm: `DELETE ${decisions[0].id}` })
      .expect(403);
    const deleted: string[] = [failedOld.id];
    for (const d of decisions) {
      const res = await request(t.http)
        .post(`/api/retention/decisions/${d.id}/confirm`)
        .set(admin())
        .send({ confirm: d.confirmPhrase })
        .expect(200);
      deleted.push(...res.body.deleted);
    }
    expect(deleted.sort()).toEqual(expectedDeletes);
    await request(t.http)
      .post(`/api/retention/decisions/${decisions[0].id}/confirm`)
      .set(admin())
      .send({ confirm: decisions[0].confirmPhrase })
      .expect(409);
    const remaining = await request(t.http).get('/api/backups?limit=200').set(admin()).expect(200);
    expect(remaining.body.items.map((b: { id: string }) => b.id).sort()).toEqual(
      [...keep.keys()].filter((id) => !heldIds.includes(id)).sort(),
    );
    const audit = await request(t.http)
      .get(`/api/audit?action=backup.delete&resourceId=${manualOld.id}`)
      .set(admin())
      .expect(200);
    expect(audit.body.items[0].details.reason).toMatch(/^retention: older than 30 days/);
    const confirmedEvent = await request(t.http)
      .get(`/api/audit?action=retention.confirmed&resourceId=${decisions[0].id}`)
      .set(admin())
      .expect(200);
    expect(confirmedEvent.body.items).toHaveLength(1);

    const again = await request(t.http).post('/api/retention/apply').set(admin()).expect(200);
    expect(again.body.deleted).toEqual([]);
    const previewAgain = await request(t.http).get('/api/retention/preview').set(admin()).expect(200);
    expect(previewAgain.body.delete).toEqual([]);
  });

  it('keeps the newest verified backup, and deletes nothing while the newest backup last failed its verification', async () => {
    const s = await request(t.http)
      .post('/api/schedules')
      .set(admin())
      .send({ name: 'hourly', cron: '0 * * * *', retention: { keepLast: 1, daily: 0, weekly: 0, monthly: 0 } })
      .expect(201);
    const now = Date.now();
    const at = (h: number) => new Date(now - h * 3_600_000).toISOString();
    const rows: BackupEntity[] = [];
    for (let h = 0; h < 6; h++)
      rows.push(await insertBackup(t, { createdAt: at(h + 0.1), trigger: 'scheduled', scheduleId: s.body.id }));
    await t.dataSource.getRepository(BackupEntity).update({ id: rows[4].id }, { verifiedAt: at(1) });
    await t.dataSource.getRepository(BackupEntity).update({ id: rows[0].id }, { verifyFailedAt: at(0) });

    const blocked = await request(t.http).get('/api/retention/preview').set(admin()).expect(200);
    expect(blocked.body.blocked).toContain(`the last verification of the newest backup ${rows[0].id} failed`);
    const ids = (l: { id: string }[]) => l.map((d) => d.id);
    expect(ids(blocked.body.delete).filter((id) => rows.some((r) => r.id === id))).toEqual([]);
    expect((await request(t.http).post('/api/retention/apply').set(admin()).expect(200)).body.deleted).toEqual([]);

    // A newer backup is taken (not verified yet): deleting may resume, but the newest verified one (rows[4]) stays,
    // and 5 of 7 going waits for an admin.
    const newer = await insertBackup(t, { createdAt: at(0), trigger: 'scheduled', scheduleId: s.body.id });
    const preview = await request(t.http).get('/api/retention/preview').set(admin()).expect(200);
    expect(preview.body.blocked).toBeNull();
    const keep = new Map<string, string[]>(
      preview.body.keep.map((k: { id: string; reasons: string[] }) => [k.id, k.reasons]),
    );
    expect(keep.get(rows[4].id)!.join()).toMatch(/newest verified backup/);
    expect(keep.get(newer.id)!.join()).toMatch(/newest/);
    expect(preview.body.held).toEqual([
      expect.objectContaining({
        scheduleId: s.body.id,
        delete: [rows[0].id, rows[1].id, rows[2].id, rows[3].id, rows[5].id],
        completed: 7,
      }),
    ]);
  });

  it('never deletes the newest completed backup or a pinned one, even when every rule would drop them', async () => {
    const ids = (await request(t.http).get('/api/backups?limit=200').set(admin()).expect(200)).body.items.map(
      (b: { id: string }) => b.id,
    );
    for (const id of ids)
      await request(t.http).patch(`/api/backups/${id}`).set(admin()).send({ pinned: false }).expect(200);
    const ancient = await insertBackup(t, { createdAt: daysAgo(900), trigger: 'manual' });
    const pinned = await insertBackup(t, { createdAt: daysAgo(800), trigger: 'import', pinned: true });
    const applied = await request(t.http).post('/api/retention/apply').set(admin()).expect(200);
    expect(applied.body.deleted).toContain(ancient.id);
    expect(applied.body.deleted).not.toContain(pinned.id);
    const left = (await request(t.http).get('/api/backups?status=completed&limit=200').set(admin()).expect(200)).body
      .items;
    expect(left.map((b: { id: string }) => b.id)).toContain(pinned.id);
    expect(left.length).toBeGreaterThanOrEqual(2);
  });
});
