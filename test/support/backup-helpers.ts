import request from 'supertest';
import type { TestApp } from './test-app';

/** Polls a backup until it leaves pending/running. */
export async function waitForBackup(t: TestApp, id: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  for (;;) {
    const res = await request(t.http).get(`/api/backups/${id}`).set('X-API-Key', t.adminKey);
    if (res.status !== 200) throw new Error(`GET backup ${id} -> ${res.status}`);
    if (!['pending', 'running'].includes(res.body.status as string)) return res.body;
    if (Date.now() - start > timeoutMs) throw new Error(`backup ${id} still ${res.body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function createBackup(t: TestApp, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await request(t.http).post('/api/backups').set('X-API-Key', t.keys.operator).send(body);
  if (res.status !== 202) throw new Error(`POST /api/backups -> ${res.status} ${JSON.stringify(res.body)}`);
  return waitForBackup(t, res.body.id);
}
