import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditModule } from '../../src/audit/audit.module';
import { AuditService } from '../../src/audit/audit.service';
import { StorageModule } from '../../src/backup/storage.module';
import { SYSTEM_ACTOR } from '../../src/common/request-context';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { Transactions } from '../../src/database/transactions';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';

const storageDir = tempDir('strongroom-audit-');
afterAll(() => storageDir.remove());

async function context(url: string): Promise<INestApplicationContext> {
  // Checkpoints leave the database for the backup storage: a directory of this run's own.
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, LOG_LEVEL: 'silent', BACKUP_DIR: storageDir.path });
  const ref = await Test.createTestingModule({ imports: [ConfigModule, DatabaseModule, StorageModule, AuditModule] })
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  ref.useLogger(false);
  return ref.init();
}

const event = (n: number) => ({
  actor: SYSTEM_ACTOR,
  action: 'test.append',
  resource: 'test',
  resourceId: String(n),
  outcome: 'success' as const,
});

describe.each(ENGINES)('audit chain on %s (real database)', (engine) => {
  let db: TestDatabase;
  let ctx: INestApplicationContext;
  let audit: AuditService;
  let ds: DataSource;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    ctx = await context(db.url);
    audit = ctx.get(AuditService);
    ds = ctx.get(DataSource);
  });
  afterEach(async () => {
    await ctx.close();
    await db.drop();
  });

  it('the database refuses UPDATE and DELETE on audit rows', async () => {
    await audit.record(event(1));
    await expect(ds.query(`UPDATE strongroom_audit_events SET action = 'forged'`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`DELETE FROM strongroom_audit_events`)).rejects.toThrow(/append-only/);
    if (engine === 'postgres') {
      await expect(ds.query(`TRUNCATE strongroom_audit_events`)).rejects.toThrow(/append-only/);
    }
    const rows = await ds.query(`SELECT action FROM strongroom_audit_events`);
    expect(rows).toEqual([{ action: 'test.append' }]);
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, checked: 1 });
  });

  it('20 concurrent writers x 50 appends leave seq contiguous and the chain valid', async () => {
    // PostgreSQL: four independent contexts (four pools) contend across connections.
    // SQLite: better-sqlite3 is synchronous, so a second connection in the same thread would
    // block the thread in its busy handler while the first waits for that thread: writers of
    // one process share one connection and are serialized in-process (Transactions).
    const others = engine === 'postgres' ? await Promise.all([1, 2, 3].map(() => context(db.url))) : [];
    const services = [audit, ...others.map((c) => c.get(AuditService))];
    try {
      await Promise.all(
        Array.from({ length: 20 }, async (_, w) => {
          const svc = services[w % services.length];
          for (let i = 0; i < 50; i++) await svc.record(event(w * 100 + i));
        }),
      );
    } finally {
      await Promise.all(others.map((c) => c.close()));
    }
    const rows: { seq: number | string }[] = await ds.query(`SELECT seq FROM strongroom_audit_events ORDER BY seq`);
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, checked: 1000, firstBadSeq: null });
  });

  it('quiet records arriving together are group-committed: each its own event, in arrival order, the chain valid; one that cannot be stored loses none of the others', async () => {
    const inputs = Array.from({ length: 30 }, (_, i) => event(i + 1));
    // A BigInt has no JSON form: canonicalizing its details throws inside the batch's transaction.
    inputs[12] = { ...inputs[12], details: { n: BigInt(1) } } as unknown as (typeof inputs)[number];
    await Promise.all(inputs.map((e) => audit.recordQuietly(e)));
    const rows: { seq: number | string; resource_id: string }[] = await ds.query(
      `SELECT seq, resource_id FROM strongroom_audit_events ORDER BY seq`,
    );
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(rows.map((r) => r.resource_id)).toEqual(inputs.filter((_, i) => i !== 12).map((e) => e.resourceId));
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, checked: 29 });
    const head: { seq: number | string }[] = await ds.query(`SELECT seq FROM strongroom_audit_head`);
    expect(head.map((h) => Number(h.seq))).toEqual([29]);
  });

  it('a rolled-back transaction leaves no gap', async () => {
    await audit.record(event(1));
    const tx = ctx.get(Transactions);
    await expect(
      tx.run(async (m) => {
        await audit.record(event(2), m);
        throw new Error('caller failed after recording');
      }),
    ).rejects.toThrow('caller failed');
    const third = await audit.record(event(3));
    expect(third.seq).toBe(2);
    await expect(audit.verify()).resolves.toMatchObject({ ok: true, checked: 2 });
  });

  it('verify names the first bad seq when rows are tampered with behind the triggers', async () => {
    for (let i = 1; i <= 5; i++) await audit.record(event(i));
    // An attacker with DDL rights drops the protection, edits a row, and restores it.
    if (engine === 'postgres') {
      await ds.query(`ALTER TABLE strongroom_audit_events DISABLE TRIGGER strongroom_audit_no_change`);
      await ds.query(`UPDATE strongroom_audit_events SET resource_id = 'forged' WHERE seq = 3`);
      await ds.query(`ALTER TABLE strongroom_audit_events ENABLE TRIGGER strongroom_audit_no_change`);
    } else {
      await ds.query(`DROP TRIGGER strongroom_audit_no_update`);
      await ds.query(`UPDATE strongroom_audit_events SET resource_id = 'forged' WHERE seq = 3`);
    }
    await expect(audit.verify()).resolves.toMatchObject({ ok: false, firstBadSeq: 3, problem: 'hash-mismatch' });
  });

  it('verify detects a deleted tail against the recorded head', async () => {
    for (let i = 1; i <= 5; i++) await audit.record(event(i));
    if (engine === 'postgres') {
      await ds.query(`ALTER TABLE strongroom_audit_events DISABLE TRIGGER strongroom_audit_no_change`);
      await ds.query(`DELETE FROM strongroom_audit_events WHERE seq >= 4`);
    } else {
      await ds.query(`DROP TRIGGER strongroom_audit_no_delete`);
      await ds.query(`DELETE FROM strongroom_audit_events WHERE seq >= 4`);
    }
    await expect(audit.verify()).resolves.toMatchObject({ ok: false, firstBadSeq: 4, problem: 'truncated-tail' });
  });
});
