/**
 * A short outage of the catalog database (PostgreSQL): connections refused and existing ones
 * terminated, then allowed again.
 * - A backup that ends while the catalog is down cannot record its end; it does not stay
 *   `running` forever: the same instance records its true outcome once the catalog is back.
 * - When the catalog is also the database backed up, the backup fails, and its error says
 *   that reading the database failed, not that local storage did.
 */
import { Client } from 'pg';
import request from 'supertest';
import { BackupsService } from '../../src/backup/backups.service';
import { createPgDatabase, pgServerUrl, TestDatabase } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';
import { createTestApp, type TestApp } from '../support/test-app';

const ROWS = 300_000;

function dbName(db: TestDatabase): string {
  return new URL(db.url).pathname.slice(1);
}

async function onServer<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: pgServerUrl() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** Refuses new connections to `db` and ends the open ones: the database is unreachable. */
function cut(db: TestDatabase): Promise<void> {
  return onServer(async (c) => {
    await c.query(`ALTER DATABASE "${dbName(db)}" ALLOW_CONNECTIONS false`);
    await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [dbName(db)],
    );
  });
}

function reconnect(db: TestDatabase): Promise<void> {
  return onServer(async (c) => {
    await c.query(`ALTER DATABASE "${dbName(db)}" ALLOW_CONNECTIONS true`);
  });
}

function terminateAll(db: TestDatabase): Promise<void> {
  return onServer(async (c) => {
    await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [dbName(db)],
    );
  });
}

/** The server process running the backup's COPY of `big`, once it runs. */
function copyBackend(db: TestDatabase): Promise<number | undefined> {
  return onServer(async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY %big%' AND state = 'active'`,
      [dbName(db)],
    );
    return rows[0]?.pid;
  });
}

/**
 * Starts a backup and holds (SIGSTOP) the server process of its COPY of `big`, then runs `during`
 * and lets the COPY go on. The job cannot end while its COPY is held, however fast the machine.
 * The COPY may still finish between the look that finds it and the signal, when this process
 * (which also runs the app and its backup) answers late: that backup is let run out and another
 * one started, so the outage always falls inside a COPY.
 */
async function backupHeldDuring(t: TestApp, db: TestDatabase, during: () => Promise<void>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const res = await request(t.http).post('/api/backups').set('X-API-Key', t.adminKey).send({}).expect(202);
    const id = res.body.id as string;
    let copyPid: number | undefined;
    while ((copyPid = await copyBackend(db)) === undefined) await new Promise((r) => setTimeout(r, 20));
    process.kill(copyPid, 'SIGSTOP');
    let held = false;
    try {
      // A held process's row still shows its COPY as active; one that finished first shows something else.
      held = (await copyBackend(db)) === copyPid;
      if (held) await during();
    } finally {
      process.kill(copyPid, 'SIGCONT');
    }
    if (held) return id;
    if (attempt === 5) throw new Error('the backup COPY finished before it could be held, 5 times');
    await t.app.get(BackupsService).waitFor(id);
  }
}

async function copyRunning(db: TestDatabase): Promise<boolean> {
  return (await copyBackend(db)) !== undefined;
}

const bigTable = [
  `CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)`,
  `INSERT INTO big SELECT g, md5(g::text) || repeat('payload', 40) FROM generate_series(1, ${ROWS}) g`,
];

describe('a catalog database outage during a backup (PostgreSQL)', () => {
  it('a backup whose end fell into the outage gets its true outcome recorded by the same instance once the catalog is back', async () => {
    const catalog = await createPgDatabase();
    const target = await createPgDatabase();
    await execSql(target, bigTable);
    // A long lease TTL: no periodic sweep or heartbeat runs during the test; only the outage and the status call act.
    const t = await createTestApp(
      'postgres',
      {
        TARGET_DATABASE_URL: target.url,
        LEASE_TTL_SECONDS: '600',
        BACKUP_PARALLELISM: '1',
        DEFAULT_SCHEDULE_ENABLED: 'false',
      },
      { db: catalog },
    );
    try {
      // The outage begins once the rows stream out: the job's catalog reads before the data are behind it.
      const id = await backupHeldDuring(t, target, () => cut(catalog));
      try {
        await t.app.get(BackupsService).waitFor(id);
      } finally {
        await reconnect(catalog);
      }
      // The job has ended, but could not say so: the catalog still shows it open.
      const open = await queryRows<{ status: string }>(
        catalog,
        `SELECT status FROM strongroom_backups WHERE id = '${id}'`,
      );
      expect(['pending', 'running']).toContain(open[0].status);
      // Any look at the status reconciles it at once, with the outcome the job really had.
      await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
      const b = await request(t.http).get(`/api/backups/${id}`).set('X-API-Key', t.adminKey).expect(200);
      expect(b.body.status).toBe('completed');
      const v = await request(t.http)
        .post(`/api/backups/${id}/verify`)
        .set('X-API-Key', t.adminKey)
        .send({})
        .expect(200);
      expect(v.body.ok).toBe(true);
      // Its lease was released: the next backup is accepted.
      const next = await request(t.http).post('/api/backups').set('X-API-Key', t.adminKey).send({}).expect(202);
      await t.app.get(BackupsService).waitFor(next.body.id);
    } finally {
      await t.close();
      await catalog.drop();
      await target.drop();
    }
  }, 300_000);

  it('when the catalog is the database backed up, the failure names the database, not local storage', async () => {
    const t = await createTestApp('postgres', {
      LEASE_TTL_SECONDS: '600',
      BACKUP_PARALLELISM: '1',
      DEFAULT_SCHEDULE_ENABLED: 'false',
    });
    try {
      await execSql(t.db, bigTable);
      const res = await request(t.http).post('/api/backups').set('X-API-Key', t.adminKey).send({}).expect(202);
      // Once the table's rows stream out (its COPY runs): short outages, over and over, until the job has ended.
      while (!(await copyRunning(t.db))) await new Promise((r) => setTimeout(r, 20));
      let ended = false;
      const job = t.app
        .get(BackupsService)
        .waitFor(res.body.id)
        .finally(() => (ended = true));
      while (!ended) {
        await terminateAll(t.db);
        await new Promise((r) => setTimeout(r, 50));
      }
      await job;
      await request(t.http).get('/api/status').set('X-API-Key', t.adminKey).expect(200);
      const b = await request(t.http).get(`/api/backups/${res.body.id}`).set('X-API-Key', t.adminKey).expect(200);
      expect(b.body.status).toBe('failed');
      expect(b.body.error).not.toMatch(/local storage/i);
      // Whichever read the outage hit first (the table's rows, or the schema dump beside them) is named.
      expect(b.body.error).toMatch(
        /^reading the database failed \((table big|dumping the schema|reading the sequences|reading large objects)\): /,
      );
    } finally {
      await t.close();
    }
  }, 300_000);
});
