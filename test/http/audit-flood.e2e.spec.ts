/**
 * Anonymous clients cannot grow the audit trail at will: a refused request keeps no body
 * (only its size and a SHA-256 prefix), what it does keep is bounded, and a flood of refusals
 * adds a counted summary per client, route and status per window instead of one event each.
 * Sizes are measured in the catalog; STRONGROOM_MEASURE=1 prints them.
 */
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AuditRefusals } from '../../src/audit/audit-refusals';
import { AuditService } from '../../src/audit/audit.service';
import { ENGINES, Engine, createTestDatabase } from '../support/databases';
import { createTestApp, eventually, TestApp } from '../support/test-app';

/** Bytes the anonymous clients' events after `seq` take: their column values as stored text, and on PostgreSQL the row size it reports. */
async function bytesAfter(
  ds: DataSource,
  engine: Engine,
  seq: number,
): Promise<{ events: number; textBytes: number; rowBytes: number | null }> {
  const rows = (await ds.query(
    `SELECT * FROM strongroom_audit_events WHERE seq > ${Number(seq)} AND actor_name = 'anonymous'`,
  )) as Record<string, unknown>[];
  const textBytes = rows.reduce<number>(
    (n, r) => n + Object.values(r).reduce<number>((m, v) => m + (v === null ? 0 : Buffer.byteLength(String(v))), 0),
    0,
  );
  let rowBytes: number | null = null;
  if (engine === 'postgres') {
    const [r] = (await ds.query(
      `SELECT coalesce(sum(pg_column_size(e.*)), 0)::int AS n FROM strongroom_audit_events e WHERE seq > $1 AND actor_name = 'anonymous'`,
      [seq],
    )) as { n: number }[];
    rowBytes = r.n;
  }
  return { events: rows.length, textBytes, rowBytes };
}

async function headSeq(t: TestApp): Promise<number> {
  return (await t.app.get(AuditService).head())?.seq ?? 0;
}

const report = (line: string) => {
  if (process.env.STRONGROOM_MEASURE) process.stderr.write(`${line}\n`);
};

describe.each(ENGINES)('audit trail under an anonymous flood on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine);
  });
  afterAll(async () => {
    await t.close();
  });

  it('records an anonymous refused request without its body, in a bounded number of bytes', async () => {
    const before = await headSeq(t);
    const secret = `sr_${'s'.repeat(40)}`;
    // As much as a client can send: a 90 KB body, a long query string, path and user agent.
    const body = JSON.stringify({ name: 'n'.repeat(90_000), role: 'admin', apiKey: secret });
    const res = await request(t.http)
      .post(`/api/keys?${Array.from({ length: 200 }, (_, i) => `q${i}=${'v'.repeat(30)}`).join('&')}&token=${secret}`)
      .set('Authorization', 'Bearer sr_not_a_key')
      .set('User-Agent', 'u'.repeat(4000))
      .set('X-Request-Id', `flood-one-${engine}`)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(401);
    const [event] = await eventually(
      async () =>
        (await t.app.get(AuditService).list({}, 50)).items.filter((e) => e.requestId === `flood-one-${engine}`),
      (items) => items.length > 0,
    );
    expect(event).toMatchObject({ outcome: 'denied', actor: { name: 'anonymous' }, details: { status: 401 } });
    expect(event.details.body).toBeUndefined();
    expect(event.details.bodyDigest).toEqual({
      bytes: Buffer.byteLength(body),
      sha256: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(JSON.stringify(event)).not.toContain(secret);
    const size = await bytesAfter(t.dataSource, engine, before);
    expect(size.events).toBe(1);
    expect(size.textBytes).toBeLessThan(2048);
    report(
      `[${engine}] one anonymous refused request (90 KB body, 6 KB query, 4 KB user agent): ${size.textBytes} bytes of column text${size.rowBytes !== null ? `, ${size.rowBytes} bytes row size` : ''}`,
    );
  });

  it('adds a counted summary, not one event per request, when the same client keeps being refused', async () => {
    const before = await headSeq(t);
    for (let i = 0; i < 50; i++) {
      await request(t.http)
        .delete(`/api/keys/00000000-0000-4000-8000-00000000000${i % 10}`)
        .set('X-Request-Id', `anon-${engine}-${i}`)
        .send({ junk: 'j'.repeat(5000) })
        .expect(401);
    }
    await t.app.get(AuditRefusals).flush();
    const events = (await t.app.get(AuditService).list({}, 200)).items.filter((e) => e.seq > before);
    expect(events).toHaveLength(2);
    const [summary, first] = events;
    expect(first).toMatchObject({ requestId: `anon-${engine}-0`, outcome: 'denied', action: 'api-key.revoke' });
    expect(summary).toMatchObject({
      requestId: null,
      outcome: 'denied',
      action: 'api-key.revoke',
      details: { repeats: 49, status: 401, lastRequestId: `anon-${engine}-49` },
    });
  });
});

describe.each(ENGINES)('throttled requests on %s', (engine) => {
  it('adds at most two events per client, route and status per window, also when flushed at shutdown', async () => {
    const db = await createTestDatabase(engine);
    try {
      // A window longer than the run: on a loaded machine the thousand requests may outlast 60 s.
      const env = { THROTTLE_LIMIT: '5', THROTTLE_TTL_SECONDS: '600', AUDIT_AGGREGATE_SECONDS: '3600' };
      const t = await createTestApp(engine, env, { db });
      const before = await headSeq(t);
      let pgBefore = 0;
      if (engine === 'postgres')
        pgBefore = Number(
          (await t.dataSource.query(`SELECT pg_total_relation_size('strongroom_audit_events') AS n`))[0].n,
        );
      const statuses = new Map<number, number>();
      // One listening server for the thousand requests (supertest would start one per request).
      const server = t.http.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      for (let i = 0; i < 1000; i++) {
        const res = await request(url).get('/api/audit').set('X-Request-Id', `thr-${engine}-${i}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      expect(Object.fromEntries(statuses)).toEqual({ 401: 5, 429: 995 });
      // Closing flushes the open window.
      await t.close();
      const again = await createTestApp(engine, env, { db });
      try {
        const size = await bytesAfter(again.dataSource, engine, before);
        const events = (await again.app.get(AuditService).list({}, 50)).items.filter(
          (e) => e.seq > before && e.actor.name === 'anonymous',
        );
        const summaries = events.filter((e) => e.details.repeats !== undefined);
        expect(events).toHaveLength(4);
        expect(summaries.map((e) => [e.details.status, e.details.repeats]).sort()).toEqual([
          [401, 4],
          [429, 994],
        ]);
        let pgGrowth = '';
        if (engine === 'postgres') {
          const after = Number(
            (await again.dataSource.query(`SELECT pg_total_relation_size('strongroom_audit_events') AS n`))[0].n,
          );
          pgGrowth = `; audit table and indexes grew ${after - pgBefore} bytes (8 KB pages)`;
        }
        expect(size.textBytes).toBeLessThan(8 * 1024);
        report(
          `[${engine}] 1,000 anonymous requests past a limit of 5 (5 x 401, 995 x 429): ${size.events} events, ${size.textBytes} bytes of column text${size.rowBytes !== null ? `, ${size.rowBytes} bytes row size` : ''}${pgGrowth}`,
        );
      } finally {
        await again.close();
      }
    } finally {
      await db.drop();
    }
  });
});
