/**
 * Concurrent readers: N clients hammer the list, status and audit routes for a fixed time,
 * with a catalog of thousands of backups (inserted straight into the table: the catalog is
 * an index, and these rows only need to be listed) and an audit trail grown by real
 * requests, while real backups run back to back. Every answer must be a 200; the list
 * route's p99 latency must stay within 50 ms.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { createInstance } from './instance';
import { FamilyResult, newResult } from './report';
import { keepAlive, request, Server, sleep } from './service';
import { seedTarget } from './target';

export interface LoadOptions {
  seconds: number;
  clients: number;
  backups: number;
  rows: number;
  prng: Prng;
  log(line: string): void;
  logCopy(label: string): string;
}

export const LIST_P99_GOAL_MS = 50;

const COLUMNS = ['id', 'type', 'trigger', 'status', 'schedule_id', 'description', 'tags', 'pinned', 'created_at', 'started_at', 'finished_at', 'size_bytes', 'row_count',
  'tables', 'requested_tables', 'files', 'compression', 'encrypted', 'key_id', 'checksum', 'verified_at', 'error', 'progress', 'storage_dir', 'engine', 'owner'];

/** Catalog rows as a year of backups would leave them: mostly completed, some failed, a few tags. */
export function catalogRows(n: number, prng: Prng, engine: Engine): unknown[][] {
  const now = Date.now();
  const rows: unknown[][] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    const created = new Date(now - 3600_000 - Math.floor(prng.next() * 365 * 86400_000)).toISOString();
    const finished = new Date(Date.parse(created) + 60_000).toISOString();
    const failed = prng.next() < 0.1;
    const tables = JSON.stringify([{ name: 'accounts', rows: 100, bytes: 4096, sha256: '0'.repeat(64) }, { name: 'entries', rows: 20000, bytes: 1 << 20, sha256: '1'.repeat(64) }]);
    rows.push([
      id, prng.pick(['full', 'full', 'full', 'tables', 'audit']), prng.pick(['scheduled', 'scheduled', 'manual', 'pre-restore', 'import']), failed ? 'failed' : 'completed', null,
      prng.next() < 0.3 ? `backup ${i}` : null, JSON.stringify(prng.next() < 0.2 ? ['nightly', `t${i % 7}`] : []), engine === 'postgres' ? false : 0, created, created, finished,
      failed ? 0 : prng.int(1 << 20, 1 << 30), failed ? 0 : 20100, failed ? '[]' : tables, '[]', JSON.stringify({ count: 3, bytes: 1234 }), 'zstd', engine === 'postgres' ? true : 1, 'k1',
      failed ? null : 'a'.repeat(64), null, failed ? 'interrupted: synthetic' : null, null, `backups/${id}`, engine, null,
    ]);
  }
  return rows;
}

export async function insertCatalog(inst: { engine: Engine; db: { url: string } }, rows: unknown[][]): Promise<void> {
  const cols = COLUMNS.map((c) => `"${c}"`).join(', ');
  if (inst.engine === 'postgres') {
    const c = new Client({ connectionString: inst.db.url });
    await c.connect();
    try {
      for (let i = 0; i < rows.length; i += 500) {
        const batch = rows.slice(i, i + 500);
        const values = batch.map((_, r) => `(${COLUMNS.map((__, k) => `$${r * COLUMNS.length + k + 1}`).join(', ')})`).join(', ');
        await c.query(`INSERT INTO strongroom_backups (${cols}) VALUES ${values}`, batch.flat());
      }
    } finally {
      await c.end();
    }
  } else {
    const d = new Database(inst.db.url.slice('sqlite:'.length));
    d.pragma('busy_timeout = 15000');
    try {
      const stmt = d.prepare(`INSERT INTO strongroom_backups (${cols}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
      d.transaction(() => rows.forEach((r) => stmt.run(...r)))();
    } finally {
      d.close();
    }
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (n: number) => (Number.isNaN(n) ? '—' : n.toFixed(1));

export async function loadCampaign(engine: Engine, o: LoadOptions): Promise<FamilyResult> {
  const result = newResult('Concurrent readers', engine);
  const inst = await createInstance(engine, 'load');
  let server: Server | null = null;
  try {
    await seedTarget(inst.db, o.rows);
    server = await inst.start();
    const srv = server;
    await insertCatalog(inst, catalogRows(o.backups, o.prng, engine));
    // The audit trail grows the way it does in production: every refused request is an event.
    let audited = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (audited < Math.min(2000, o.backups / 5)) {
        audited++;
        await request(srv.base, 'GET', '/api/backups', { agent: keepAlive, key: 'not-a-key-at-all-0123456789' }).catch(() => undefined);
      }
    }));
    const auditCount = (await inst.api(srv, 'GET', '/api/audit/verify')).json().checked as number;

    // Backups back to back for the whole window (and a little before, so one is running from the start).
    let stop = false;
    const backupLog = { started: 0, completed: 0, failed: 0, refused: 0 };
    const backupLoop = (async () => {
      while (!stop) {
        const r = await inst.api(srv, 'POST', '/api/backups', { body: {} }).catch(() => null);
        if (!r || r.status !== 202) {
          backupLog.refused++;
          await sleep(300);
          continue;
        }
        backupLog.started++;
        const id = r.json().id as string;
        for (let i = 0; i < 3000; i++) {
          const g = await inst.api(srv, 'GET', `/api/backups/${id}`).catch(() => null);
          const s = g?.status === 200 ? g.json().status : null;
          if (s === 'completed') backupLog.completed++;
          if (s === 'failed') backupLog.failed++;
          if (s === 'completed' || s === 'failed') break;
          await sleep(250);
        }
      }
    })();
    await sleep(500);

    const samples = new Map<string, number[]>();
    const errors = new Map<string, number>();
    const end = Date.now() + o.seconds * 1000;
    const record = (route: string, ms: number) => {
      const a = samples.get(route) ?? [];
      a.push(ms);
      samples.set(route, a);
    };
    await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
      let cursor: string | null = null;
      let k = c;
      while (Date.now() < end) {
        k++;
        let route: string;
        let path: string;
        switch (k % 6) {
          case 0: route = 'GET /api/status'; path = '/api/status'; break;
          case 1: route = 'GET /api/audit'; path = '/api/audit'; break;
          case 2: route = 'GET /api/backups (filtered)'; path = o.prng.next() < 0.5 ? '/api/backups?status=completed&limit=50' : '/api/backups?type=full&trigger=scheduled'; break;
          case 3: route = 'GET /api/backups (next pages)'; path = cursor ? `/api/backups?cursor=${encodeURIComponent(cursor)}` : '/api/backups'; break;
          default: route = 'GET /api/backups'; path = '/api/backups'; break;
        }
        const t = process.hrtime.bigint();
        try {
          const r = await request(srv.base, 'GET', path, { agent: keepAlive, key: inst.adminKey, timeoutMs: 30_000 });
          const ms = Number(process.hrtime.bigint() - t) / 1e6;
          record(route, ms);
          if (r.status !== 200) {
            const key = `${route}: ${r.status} ${r.body.toString().slice(0, 120)}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
          } else if (route.includes('next pages')) {
            cursor = r.json().nextCursor;
          }
        } catch (e) {
          const key = `${route}: ${(e as Error).message}`;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
      }
    }));
    stop = true;
    await backupLoop;

    const lines = ['| Route | Requests | p50 ms | p95 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|---:|'];
    const list: number[] = [];
    let total = 0;
    for (const [route, a] of [...samples].sort()) {
      a.sort((x, y) => x - y);
      total += a.length;
      if (route.startsWith('GET /api/backups')) list.push(...a);
      lines.push(`| ${route} | ${a.length} | ${fmt(percentile(a, 50))} | ${fmt(percentile(a, 95))} | ${fmt(percentile(a, 99))} | ${fmt(a[a.length - 1])} |`);
    }
    list.sort((x, y) => x - y);
    const p99 = percentile(list, 99);
    lines.push(`| **all list requests** | ${list.length} | ${fmt(percentile(list, 50))} | ${fmt(percentile(list, 95))} | **${fmt(p99)}** | ${fmt(list[list.length - 1])} |`);
    result.tables = [lines.join('\n')];
    result.trials = total;
    result.notes.push(`${o.clients} clients for ${o.seconds} s (keep-alive connections from one client process on the same machine, so latencies include the client's own queueing); catalog: ${o.backups} inserted backup rows plus the real ones; audit trail: ${auditCount} events; target: ${o.rows} rows.`);
    result.notes.push(`Backups meanwhile: ${backupLog.started} started, ${backupLog.completed} completed, ${backupLog.failed} failed, ${backupLog.refused} POSTs refused (409 while one runs, expected).`);
    for (const [k, n] of errors) result.failures.push({ trial: `${n} requests`, check: 'no error', detail: k });
    if (!(p99 <= LIST_P99_GOAL_MS)) result.failures.push({ trial: 'all list requests', check: `p99 list latency ≤ ${LIST_P99_GOAL_MS} ms`, detail: `p99 ${fmt(p99)} ms over ${list.length} list requests` });
    if (backupLog.failed) result.failures.push({ trial: 'background backups', check: 'backups complete under load', detail: `${backupLog.failed} of ${backupLog.started} backups failed` });
  } catch (e) {
    result.failures.push({ trial: 'campaign', check: 'harness could not continue', detail: (e as Error).stack ?? String(e) });
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await inst.dispose(o.logCopy(`load-${engine}`));
  }
  return result;
}
