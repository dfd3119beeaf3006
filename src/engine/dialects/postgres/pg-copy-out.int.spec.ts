/**
 * A backup's table read by a part worker itself (writeSourcedPart + pg-copy-out.ts), against a
 * real server: the same bytes as the main thread's export at the same snapshot, failures named
 * as the database's, the backup's pacing honoured on the worker, no connection left behind.
 */
import { createPgDatabase, tempDir, type TestDatabase } from '../../../../test/support/databases';
import { PartSourceError, writePart, writeSourcedPart, type WritePartOptions } from '../../archive/part-io';
import { SharedPacer } from '../../archive/pacing';
import { partWorkers } from '../../archive/part-worker-pool';
import { LocalStorage } from '../../storage/local-storage';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';
import { sql } from './pg-spec-helpers';

const FORMAT: WritePartOptions = { compression: 'zstd', encryption: { keyId: 'k1', key: Buffer.alloc(32, 7) } };

async function workerConnections(url: string): Promise<number> {
  const db = new URL(url).pathname.slice(1);
  const rows = await sql<{ n: string }>(
    url,
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'strongroom-snapshot-worker'`,
    [db],
  );
  return Number(rows[0].n);
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

describe('PostgreSQL table read on a part worker', () => {
  let db: TestDatabase;
  let d: PostgresDialect;
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;

  beforeAll(async () => {
    db = await createPgDatabase('copyout');
    await sql(
      db.url,
      `CREATE TABLE t (id int PRIMARY KEY, v text, at timestamptz, n numeric);
       INSERT INTO t SELECT g, repeat('x', g % 50) || E'\\n' || g, '2024-01-01'::timestamptz + g * interval '1 minute', g / 7.0
       FROM generate_series(1, 20000) g`,
    );
    d = createPostgresDialect(db.url);
    dir = tempDir();
    storage = new LocalStorage(dir.path);
  });

  afterAll(async () => {
    await d.close();
    await db.drop();
    dir.remove();
  });

  it('archives the same bytes and rows as the main thread, at the snapshot', async () => {
    const snap = await d.openSnapshot(['t'], { parallel: 2 });
    try {
      // Committed after the snapshot: neither read may see it.
      await sql(db.url, `INSERT INTO t VALUES (20001, 'late', now(), 1); UPDATE t SET v = 'changed' WHERE id = 1`);
      const jobsBefore = partWorkers.jobs;
      const sourced = await writeSourcedPart(storage, 'b1', 'sourced.rows', snap.workerSource!('t'), FORMAT);
      expect(partWorkers.jobs).toBe(jobsBefore + 1);
      const exp = snap.exportTable('t');
      const local = await writePart(storage, 'b1', 'local.rows', exp.stream, FORMAT);
      expect(sourced.rows).toBe(20000);
      expect(exp.rowCount()).toBe(20000);
      expect(sourced.part.rawSha256).toBe(local.rawSha256);
      expect(sourced.part.rawBytes).toBe(local.rawBytes);
    } finally {
      await snap.close();
    }
    // The worker's connections to that snapshot end with it.
    await eventually(async () => (await workerConnections(db.url)) === 0, 'worker connections closed');
  });

  it('names a failed read as the database, and leaves nothing in storage', async () => {
    const snap = await d.openSnapshot(['t'], { parallel: 1 });
    try {
      const source = snap.workerSource!('t', 'id / (id - 500) > -1'); // division by zero at row 500
      const err = await writeSourcedPart(storage, 'b2', 'bad.rows', source, FORMAT).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PartSourceError);
      expect((err as Error).message).toMatch(/reading the data for bad\.rows failed.*division by zero/);
      expect(await storage.stat('b2/bad.rows')).toBeNull();
      // The snapshot still works for the next table: the failed connection was dropped, not reused.
      const again = await writeSourcedPart(storage, 'b2', 'good.rows', snap.workerSource!('t', 'id <= 10'), FORMAT);
      expect(again.rows).toBe(10);
    } finally {
      await snap.close();
    }
  });

  it('holds its reads back while the shared pacer has foreground work, and goes on when it ends', async () => {
    const pacer = new SharedPacer(120_000);
    const [{ n }] = await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM t');
    const snap = await d.openSnapshot(['t'], { parallel: 1 });
    try {
      // A first read warms the worker (its start-up is not what this test waits for).
      await writeSourcedPart(storage, 'b3', 'warm.rows', snap.workerSource!('t', 'id <= 10'), FORMAT);
      const request = pacer.enter();
      let done = false;
      const paced = writeSourcedPart(storage, 'b3', 'paced.rows', snap.workerSource!('t'), { ...FORMAT, pacer }).then(
        (r) => {
          done = true;
          return r;
        },
      );
      await new Promise((r) => setTimeout(r, 1_000));
      expect(done).toBe(false);
      request();
      const { rows } = await paced;
      expect(rows).toBe(Number(n));
    } finally {
      await snap.close();
    }
  });
});
