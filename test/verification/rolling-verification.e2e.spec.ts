/**
 * Rolling verification and restore drills on real storage: a local primary directory and an
 * offsite copy on an S3-compatible server (s3rver on loopback), a SQLite target, alerts to a
 * webhook receiver on loopback. A part corrupted in one copy is found by the rolling verifier
 * and alerted naming the backup, the copy and the part; the status and the metrics say so; a
 * drill restores the newest backup from whatever copy is sound and records its duration as the
 * RTO; a drill that cannot restore, and one far slower than the drills before it, alert.
 */
import { Readable } from 'node:stream';
import request from 'supertest';
import { partKey } from '../../src/engine/archive/part-io';
import { readManifest } from '../../src/engine/backup/read-backup';
import { readAll } from '../../src/engine/storage/read-all';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { S3Storage } from '../../src/engine/storage/s3-storage';
import type { BackupStorage } from '../../src/engine/storage/storage';
import { NotificationsService } from '../../src/notifications/notifications.service';
import type { StatusView } from '../../src/status/status.service';
import { OffsiteCopier } from '../../src/offsite/offsite-copier.service';
import { RestoreDrillEntity } from '../../src/verification/restore-drill.entity';
import { RestoreDrills } from '../../src/verification/restore-drills.service';
import { RollingVerifier } from '../../src/verification/rolling-verifier.service';
import { createBackup } from '../support/backup-helpers';
import { seedSample } from '../support/sample-data';
import { startS3Server, TestS3Server } from '../support/s3-server';
import { createTestApp, TestApp } from '../support/test-app';
import { startWebhookReceiver } from '../support/webhook-receiver';

interface Alert {
  type: string;
  message: string;
  details: Record<string, unknown>;
}

async function webhookReceiver(): Promise<{ url: string; alerts: Alert[]; close(): Promise<void> }> {
  const r = await startWebhookReceiver<Alert>();
  return { url: r.url, alerts: r.bodies, close: () => r.close() };
}

/**
 * Flips one byte in the middle of the backup's first data part (a table's rows, or the first
 * segment of a SQLite page image), keeping its size; returns the part's name.
 */
async function corruptFirstTablePart(storage: BackupStorage, id: string): Promise<string> {
  const m = await readManifest(storage, `backups/${id}`);
  const part = m.tables[0]?.part ?? m.image?.parts[0];
  if (!part) throw new Error(`backup ${id} has no data part to corrupt`);
  const name = part.name;
  const key = partKey(`backups/${id}`, name);
  const bytes = await readAll(await storage.get(key));
  bytes[bytes.length >> 1] ^= 0xff;
  await storage.put(key, Readable.from([bytes]));
  return name;
}

describe('rolling verification and restore drills (local primary, S3 offsite)', () => {
  let s3: TestS3Server;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let t: TestApp;
  let primary: LocalStorage;
  let offsite: S3Storage;
  let older: string;
  let newer: string;

  const status = async () =>
    (await request(t.http).get('/api/status').set('X-API-Key', t.keys.auditor).expect(200)).body as StatusView;
  const metrics = async () => (await request(t.http).get('/metrics').expect(200)).text;
  const alerts = async (type: string) => {
    await t.app.get(NotificationsService).drain();
    return hook.alerts.filter((a) => a.type === type);
  };

  beforeAll(async () => {
    [s3, hook] = await Promise.all([startS3Server('offsite'), webhookReceiver()]);
    t = await createTestApp('sqlite', {
      DEFAULT_SCHEDULE_ENABLED: 'false',
      NOTIFY_WEBHOOK_URLS: hook.url,
      OFFSITE_STORAGE: 's3',
      OFFSITE_S3_BUCKET: s3.bucket,
      OFFSITE_S3_ENDPOINT: s3.endpoint,
      OFFSITE_S3_REGION: s3.region,
      OFFSITE_S3_FORCE_PATH_STYLE: 'true',
      OFFSITE_S3_ACCESS_KEY_ID: s3.accessKeyId,
      OFFSITE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      OFFSITE_S3_PREFIX: 'copy',
      // A weekly tick over a 7-day cycle: one tick's slice is every copy.
      VERIFY_CRON: '0 5 * * 1',
      VERIFY_CYCLE_DAYS: '7',
      STATUS_TOTALS_CACHE_SECONDS: '0',
    });
    await seedSample(t.db, 120);
    older = (await createBackup(t)).id as string;
    newer = (await createBackup(t)).id as string;
    await t.app.get(OffsiteCopier).drain();
    primary = new LocalStorage(t.config.BACKUP_DIR);
    offsite = new S3Storage({
      bucket: s3.bucket,
      prefix: 'copy',
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
  });

  afterAll(async () => {
    await t?.close();
    offsite?.destroy();
    await Promise.all([s3?.stop(), hook?.close()]);
  });

  it('finds a part corrupted in the offsite copy of one backup and in the primary copy of another, and alerts naming each', async () => {
    const before = await status();
    expect(before.verification).toMatchObject({
      cycleDays: 7,
      primary: { total: 2, unchecked: 2, failed: 0 },
      offsite: { total: 2, unchecked: 2, failed: 0 },
    });
    const offsitePart = await corruptFirstTablePart(offsite, older);
    const primaryPart = await corruptFirstTablePart(primary, newer);

    const outcomes = await t.app.get(RollingVerifier).runSlice(new Date());
    expect(outcomes.map((o) => `${o.backupId}:${o.copy}:${o.ok}`).sort()).toEqual(
      [`${older}:primary:true`, `${older}:offsite:false`, `${newer}:primary:false`, `${newer}:offsite:true`].sort(),
    );

    const corrupt = await alerts('verify.corrupt');
    expect(corrupt).toHaveLength(2);
    const byCopy = Object.fromEntries(corrupt.map((a) => [a.details.copy as string, a]));
    expect(byCopy.offsite.details).toMatchObject({ backupId: older, copy: 'offsite', parts: [offsitePart] });
    expect(byCopy.offsite.message).toContain(older);
    expect(byCopy.offsite.message).toContain(offsitePart);
    expect(byCopy.primary.details).toMatchObject({ backupId: newer, copy: 'primary', parts: [primaryPart] });

    const after = await status();
    expect(after.healthy).toBe(false);
    expect(after.verification).toMatchObject({
      primary: { total: 2, unchecked: 0, failed: 1, overdue: 0 },
      offsite: { total: 2, unchecked: 0, failed: 1, overdue: 0 },
    });
    expect(after.verification.failed.map((f) => `${f.backupId}:${f.copy}`).sort()).toEqual(
      [`${older}:offsite`, `${newer}:primary`].sort(),
    );
    expect(after.problems.join('\n')).toContain(`backup ${older}: its offsite copy failed verification`);
    const text = await metrics();
    expect(text).toMatch(/strongroom_verify_copies\{copy="offsite",state="failed"\} 1/);
    expect(text).toMatch(/strongroom_verify_copies\{copy="primary",state="ok"\} 1/);
  });

  it('drills the newest backup from its sound offsite copy, records the RTO, and alerts on RTO growth', async () => {
    const drills = t.app.get(RestoreDrills);
    const first = await drills.run();
    expect(first).toMatchObject({
      backupId: newer,
      ok: true,
      source: 'offsite',
      baselineSeconds: null,
      regressed: false,
    });
    expect(first!.durationSeconds).toBeGreaterThan(0);
    let s = await status();
    expect(s.drills).toMatchObject({ enabled: true, rtoSeconds: first!.durationSeconds, last: { id: first!.id } });
    expect(await metrics()).toMatch(new RegExp(`strongroom_restore_drill_rto_seconds ${first!.durationSeconds}\\b`));

    // Earlier drills that took 1 ms: the median of the history is 1 ms, so the next real drill is a regression.
    const repo = t.dataSource.getRepository(RestoreDrillEntity);
    for (let i = 1; i <= 3; i++) {
      const at = new Date(Date.parse(first!.startedAt) - i * 86_400_000).toISOString();
      await repo.insert({
        id: `00000000-0000-4000-8000-00000000000${i}`,
        backupId: newer,
        startedAt: at,
        finishedAt: at,
        durationMs: 1,
        ok: true,
        source: 'primary',
        error: null,
        baselineMs: null,
        regressed: false,
      });
    }
    const second = await drills.run();
    expect(second).toMatchObject({ ok: true, baselineSeconds: 0.001, regressed: true });
    const regressed = await alerts('drill.rto-regressed');
    expect(regressed).toHaveLength(1);
    expect(regressed[0].details).toMatchObject({
      backupId: newer,
      rtoSeconds: second!.durationSeconds,
      baselineSeconds: 0.001,
    });
    s = await status();
    expect(s.drills.last).toMatchObject({ id: second!.id, regressed: true });
    const page = (await request(t.http).get('/api/drills?limit=2').set('X-API-Key', t.keys.auditor).expect(200))
      .body as { items: { id: string }[]; nextCursor: string | null };
    expect(page.items.map((d) => d.id)).toEqual([second!.id, first!.id]);
    const rest = (
      await request(t.http)
        .get('/api/drills')
        .query({ cursor: page.nextCursor })
        .set('X-API-Key', t.keys.auditor)
        .expect(200)
    ).body as { items: { durationSeconds: number }[] };
    expect(rest.items.map((d) => d.durationSeconds)).toEqual([0.001, 0.001, 0.001]);
    expect(await metrics()).toMatch(/strongroom_restore_drill_rto_regressed 1/);
  });

  it('alerts when the drill cannot restore the newest backup from either copy', async () => {
    await corruptFirstTablePart(offsite, newer);
    const drill = await t.app.get(RestoreDrills).run();
    expect(drill).toMatchObject({ backupId: newer, ok: false, regressed: false });
    const failed = await alerts('drill.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].message).toContain(newer);
    expect(failed[0].details).toMatchObject({ backupId: newer, drillId: drill!.id });
    const s = await status();
    expect(s.healthy).toBe(false);
    expect(s.problems.join('\n')).toContain('the last restore drill');
    // The failed drill is no measure of the RTO: it stays the last successful drill's.
    expect(s.drills.rtoSeconds).not.toBeNull();
    expect(await metrics()).toMatch(/strongroom_restore_drill_last_success 0/);
    const rows = await t.dataSource.getRepository(RestoreDrillEntity).find({ where: { backupId: newer } });
    expect(rows.filter((r) => !r.ok)).toHaveLength(1);
  });
});
